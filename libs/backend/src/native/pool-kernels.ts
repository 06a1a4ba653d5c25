/**
 * MaxPool and MaxPoolGrad (NHWC, dilation 1) on the wasm backend, computed
 * by the native addon on the wasm heap. Other cases run the previously
 * registered kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { callAddon, isFloat32, keepSetup, sameShape, withFallback } from './common.js';
import type { NativeAddon } from './loader.js';

type Pool2DInfo = tf.backend_util.Conv2DInfo;

/** Packs a pooling geometry the way the addon reads it. */
export function packPoolGeometry(info: Pool2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.effectiveFilterHeight,
    info.effectiveFilterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
}

function poolInfo(x: tf.TensorInfo, attrs: tf.MaxPoolAttrs): Pool2DInfo | null {
  if (x.shape.length !== 4 || !isFloat32(x)) return null;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const p = info.padInfo;
  const ok =
    info.batchSize > 0 &&
    info.inChannels > 0 &&
    info.outHeight > 0 &&
    info.outWidth > 0 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    p.top >= 0 &&
    p.left >= 0 &&
    // Every window must hold at least one real pixel.
    p.top < info.filterHeight &&
    p.left < info.filterWidth;
  return ok ? info : null;
}

/** MaxPool: the maximum of every window (padding never wins). */
export function maxPoolNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('MaxPool', previous, (args, backend) => {
    const { x } = args.inputs;
    if (!x) return null;
    const info = poolInfo(x, args.attrs as unknown as tf.MaxPoolAttrs);
    if (!info) return null;
    const geometry = packPoolGeometry(info);
    return callAddon(backend, info.outShape, (view, out) => {
      addon.maxPool(geometry, view(x), out);
      return true;
    });
  });
  return keepSetup('MaxPool', previous, kernelFunc);
}

/** MaxPoolGrad: every dy goes to the first maximum of its window in x. */
export function maxPoolGradNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('MaxPoolGrad', previous, (args, backend) => {
    const { dy, input } = args.inputs;
    if (!dy || !input || !isFloat32(dy)) return null;
    const info = poolInfo(input, args.attrs as unknown as tf.MaxPoolGradAttrs);
    if (!info || !sameShape(dy.shape, info.outShape)) return null;
    const geometry = packPoolGeometry(info);
    return callAddon(backend, [...input.shape], (view, out) => {
      addon.maxPoolGrad(geometry, view(dy), view(input), out);
      return true;
    });
  });
  return keepSetup('MaxPoolGrad', previous, kernelFunc);
}
