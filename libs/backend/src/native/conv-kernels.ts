/**
 * Conv2D, FusedConv2D, Conv2DBackpropInput and Conv2DBackpropFilter on the
 * wasm backend, computed by the native addon (oneDNN) straight on the wasm
 * heap: the addon reads the inputs through the backend's typed-array views
 * and writes the output into a tensor allocated on the heap, so nothing is
 * copied. Cases the addon does not take (NCHW, non-float32, PReLU, a bias
 * that is not one value per channel, or a geometry oneDNN has no kernel
 * for) run the kernel that was registered before (vicinal's or tfjs's wasm
 * kernel).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  callAddon,
  fusedActivation,
  isFloat32,
  isNHWC,
  keepSetup,
  onePerChannel,
  sameShape,
  withFallback,
} from './common.js';
import type { NativeAddon } from './loader.js';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

/** Packs a convolution's geometry the way the addon reads it. */
export function packGeometry(info: Conv2DInfo): Int32Array {
  const p = info.padInfo;
  return Int32Array.from([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
  ]);
}

/** Whether the addon can take this geometry at all (oneDNN may still refuse). */
function plainGeometry(info: Conv2DInfo): boolean {
  const p = info.padInfo;
  return (
    info.dataFormat === 'channelsLast' &&
    info.outHeight > 0 &&
    info.outWidth > 0 &&
    info.batchSize > 0 &&
    info.inChannels > 0 &&
    info.outChannels > 0 &&
    p.top >= 0 &&
    p.left >= 0 &&
    p.bottom >= 0 &&
    p.right >= 0
  );
}

type Shape4 = [number, number, number, number];

/**
 * The geometry of an NHWC convolution of an input of `inputShape` with a
 * filter of `filterShape`, or null when the addon cannot take it.
 */
function convInfo(
  inputShape: readonly number[],
  filterShape: readonly number[],
  attrs: {
    strides: number | [number, number];
    pad: tf.Conv2DAttrs['pad'];
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    dataFormat?: string;
  },
  dilations: number | [number, number] = 1,
): Conv2DInfo | null {
  if (inputShape.length !== 4 || filterShape.length !== 4) return null;
  if (!isNHWC(attrs.dataFormat)) return null;
  const info = tf.backend_util.computeConv2DInfo(
    [...inputShape] as Shape4,
    [...filterShape] as Shape4,
    attrs.strides,
    dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  return plainGeometry(info) ? info : null;
}

function forwardInfo(
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: tf.Conv2DAttrs,
): Conv2DInfo | null {
  return convInfo(x.shape, filter.shape, attrs, attrs.dilations ?? 1);
}

/** Conv2D: y = conv(x, filter). */
export function conv2DNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('Conv2D', previous, (args, backend) => {
    const { x, filter } = args.inputs;
    if (!x || !filter || !isFloat32(x, filter)) return null;
    const info = forwardInfo(x, filter, args.attrs as unknown as tf.Conv2DAttrs);
    if (!info) return null;
    const geometry = packGeometry(info);
    return callAddon(backend, info.outShape, (view, out) =>
      addon.conv2dForward(geometry, view(x), view(filter), null, 0, 0, out),
    );
  });
  return keepSetup('Conv2D', previous, kernelFunc);
}

/** FusedConv2D: y = activation(conv(x, filter) + bias), PReLU excepted. */
export function fusedConv2DNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('FusedConv2D', previous, (args, backend) => {
    const { x, filter, bias } = args.inputs;
    const attrs = args.attrs as unknown as tf.FusedConv2DAttrs;
    const fused = fusedActivation(args.inputs, attrs);
    if (!x || !filter || !fused || !isFloat32(x, filter, bias)) return null;
    const info = forwardInfo(x, filter, attrs);
    if (!info || !onePerChannel(bias, info.outChannels)) return null;
    const geometry = packGeometry(info);
    return callAddon(backend, info.outShape, (view, out) =>
      addon.conv2dForward(
        geometry,
        view(x),
        view(filter),
        bias ? view(bias) : null,
        fused.code,
        fused.alpha,
        out,
      ),
    );
  });
  return keepSetup('FusedConv2D', previous, kernelFunc);
}

/** Conv2DBackpropInput: dx of a convolution from dy and the filter. */
export function conv2DBackpropInputNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('Conv2DBackpropInput', previous, (args, backend) => {
    const { dy, filter } = args.inputs;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    if (!dy || !filter || !isFloat32(dy, filter)) return null;
    const info = convInfo(attrs.inputShape, filter.shape, attrs);
    if (!info || !sameShape(dy.shape, info.outShape)) return null;
    const geometry = packGeometry(info);
    return callAddon(backend, [...attrs.inputShape], (view, out) =>
      addon.conv2dBackwardInput(geometry, view(dy), view(filter), out),
    );
  });
  return keepSetup('Conv2DBackpropInput', previous, kernelFunc);
}

/** Conv2DBackpropFilter: dW of a convolution from x and dy. */
export function conv2DBackpropFilterNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('Conv2DBackpropFilter', previous, (args, backend) => {
    const { x, dy } = args.inputs;
    const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (!x || !dy || !isFloat32(x, dy)) return null;
    const info = convInfo(x.shape, attrs.filterShape, attrs);
    if (!info || !sameShape(dy.shape, info.outShape)) return null;
    const geometry = packGeometry(info);
    return callAddon(backend, [...attrs.filterShape], (view, out) =>
      addon.conv2dBackwardFilter(geometry, view(x), view(dy), out),
    );
  });
  return keepSetup('Conv2DBackpropFilter', previous, kernelFunc);
}
