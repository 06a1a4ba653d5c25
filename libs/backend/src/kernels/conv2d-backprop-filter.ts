import * as tf from '@tensorflow/tfjs-core';
import {
  type ExplicitPadding,
  Intermediates,
  input,
  type KernelArgs,
  padOrCrop,
  requireNHWC,
  requireShape,
  type WasmBackend,
} from './wasm-kernel-utils.js';

const NAME = 'Conv2DBackpropFilter';

/**
 * Filter gradient of a 2-D convolution (NHWC, dilation 1) on the wasm backend,
 *
 *   dW[kh,kw,ci,co] = sum_{b,oh,ow} x[b, oh*sh+kh-top, ow*sw+kw-left, ci] dy[b,oh,ow,co],
 *
 * computed as one native convolution over transposed tensors, with either
 * dy or x as its filter (see useInputAsFilter). Padding is reproduced
 * exactly: 'same', 'valid' and explicit; rows a convolution never reads are
 * cropped.
 */
export function conv2DBackpropFilterWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const x = input(NAME, args, 'x');
  const dy = input(NAME, args, 'dy');
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropFilterAttrs;
  requireNHWC(NAME, attrs.dataFormat);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new TypeError(
      `${NAME}: expected float32 x and dy, got ${x.dtype} and ${dy.dtype}`,
    );
  }
  if (x.shape.length !== 4) {
    throw new RangeError(`${NAME}: x expected rank 4 (NHWC), got shape [${x.shape}]`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, outChannels, outHeight, outWidth } = info;
  requireShape(NAME, 'dy', dy.shape, [batchSize, outHeight, outWidth, outChannels]);

  const geometry: Geometry = { info, top: info.padInfo.top, left: info.padInfo.left };
  if (geometry.top < 0 || geometry.left < 0) {
    throw new RangeError(
      `${NAME}: negative padding (top ${geometry.top}, left ${geometry.left})`,
    );
  }
  const scope = new Intermediates(backend);
  try {
    const result = useInputAsFilter(info, x, dy)
      ? viaInputAsFilter(scope, x, dy, geometry)
      : viaGradientAsFilter(scope, x, dy, geometry);
    requireShape(NAME, 'result', result.shape, attrs.filterShape);
    scope.release(result);
    return result;
  } catch (err) {
    scope.release();
    throw err;
  }
}

/** How the filter gradient is formulated; 'auto' picks by size (see below). */
export type FilterGradientStrategy = 'auto' | 'gradient-as-filter' | 'input-as-filter';
let strategy: FilterGradientStrategy = 'auto';

/**
 * Forces one formulation (for tests and benchmarks; 'input-as-filter'
 * applies to stride 1 only). Returns the previous setting.
 */
export function setFilterGradientStrategy(
  next: FilterGradientStrategy,
): FilterGradientStrategy {
  const previous = strategy;
  strategy = next;
  return previous;
}

interface Geometry {
  info: tf.backend_util.Conv2DInfo;
  top: number;
  left: number;
}

/**
 * Which operand becomes the native convolution's filter. The filter is
 * repacked on every call, which costs more per element than the arithmetic,
 * so x (the smaller tensor when channels grow) is the better filter for
 * large stride-1 layers; measured on wasm it saves about 20% there, while
 * small layers and single-channel inputs are faster with dy as the filter.
 */
function useInputAsFilter(
  info: tf.backend_util.Conv2DInfo,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
): boolean {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return false;
  if (strategy !== 'auto') return strategy === 'input-as-filter';
  const xSize = x.shape.reduce((a, b) => a * b, 1);
  const dySize = dy.shape.reduce((a, b) => a * b, 1);
  return info.inChannels >= 16 && dySize >= 1_000_000 && xSize < dySize;
}

/**
 * dy as the filter: a convolution whose batch is ci, whose channels are b
 * and whose filter is dy as [OH,OW,B,Co]; the forward stride becomes its
 * dilation. Any stride.
 */
function viaGradientAsFilter(
  scope: Intermediates,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  { info, top, left }: Geometry,
): tf.TensorInfo {
  const { inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  // Extent of x (including padding) that the forward convolution read.
  const spanH = (outHeight - 1) * strideHeight + filterHeight;
  const spanW = (outWidth - 1) * strideWidth + filterWidth;
  const bottom = padOrCrop(spanH - top - inHeight);
  const right = padOrCrop(spanW - left - inWidth);
  // [B,H,W,Ci] -> [Ci,H,W,B]; the channel axis becomes the batch axis.
  let xt = scope.transpose(x, [3, 1, 2, 0]);
  xt = scope.cropNHWC(xt, 0, inHeight - bottom.crop, 0, inWidth - right.crop);
  // [B,OH,OW,Co] -> [OH,OW,B,Co]: dy is the filter.
  const dyt = scope.transpose(dy, [1, 2, 0, 3]);
  const pad: ExplicitPadding = [
    [0, 0],
    [top, bottom.pad],
    [left, right.pad],
    [0, 0],
  ];
  const conv = scope.run(
    'Conv2D',
    { x: xt, filter: dyt },
    { strides: [1, 1], dilations: [strideHeight, strideWidth], pad, dataFormat: 'NHWC' },
  );
  // [Ci,KH,KW,Co] -> [KH,KW,Ci,Co]
  return scope.transpose(conv, [1, 2, 0, 3]);
}

/**
 * x as the filter (stride 1 only): with u = oh + kh - top,
 *   dW[kh,kw,ci,co] = sum_{b,u,v} dy[b, u-kh+top, v-kw+left, co] x[b,u,v,ci],
 * a convolution of dy as [Co,OH,OW,B] with x as [H,W,B,Ci] whose output
 * [Co,KH,KW,Ci] comes out rotated by 180 degrees.
 */
function viaInputAsFilter(
  scope: Intermediates,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  { info, top, left }: Geometry,
): tf.TensorInfo {
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth } = info;
  const padTop = padOrCrop(filterHeight - 1 - top);
  const padLeft = padOrCrop(filterWidth - 1 - left);
  const padBottom = padOrCrop(inHeight - outHeight + top);
  const padRight = padOrCrop(inWidth - outWidth + left);
  let dyt = scope.transpose(dy, [3, 1, 2, 0]);
  dyt = scope.cropNHWC(
    dyt,
    padTop.crop,
    outHeight - padTop.crop - padBottom.crop,
    padLeft.crop,
    outWidth - padLeft.crop - padRight.crop,
  );
  const xt = scope.transpose(x, [1, 2, 0, 3]);
  const pad: ExplicitPadding = [
    [0, 0],
    [padTop.pad, padBottom.pad],
    [padLeft.pad, padRight.pad],
    [0, 0],
  ];
  const conv = scope.run(
    'Conv2D',
    { x: dyt, filter: xt },
    { strides: [1, 1], dilations: [1, 1], pad, dataFormat: 'NHWC' },
  );
  const unrotated = scope.run('Reverse', { x: conv }, { dims: [1, 2] });
  // [Co,KH,KW,Ci] -> [KH,KW,Ci,Co]
  return scope.transpose(unrotated, [1, 2, 3, 0]);
}

/** Registration for the kernel wasm lacks entirely. */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
};
