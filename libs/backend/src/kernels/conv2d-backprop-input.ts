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

const NAME = 'Conv2DBackpropInput';

/**
 * Input gradient of a 2-D convolution (NHWC, dilation 1) on the wasm backend,
 * written as one native stride-1 convolution of dy with the filter rotated by
 * 180 degrees and its channel axes swapped:
 *
 *   dx[b,h,w,ci] = sum_{kh,kw,co} dyZ[b, h+top-kh, w+left-kw, co] W[kh,kw,ci,co]
 *
 * where dyZ is dy with (stride-1) zeros inserted between rows/columns (only
 * when the forward stride is above 1). Padding that would be negative is
 * applied as cropping, so 'same', 'valid' and explicit padding all map exactly.
 * Single-channel inputs take a matrix product plus col2im instead (viaColumns).
 */
export function conv2DBackpropInputWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const dy = input(NAME, args, 'dy');
  const filter = input(NAME, args, 'filter');
  const attrs = (args.attrs ?? {}) as unknown as tf.Conv2DBackpropInputAttrs;
  requireNHWC(NAME, attrs.dataFormat);
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') {
    throw new TypeError(
      `${NAME}: expected float32 dy and filter, got ${dy.dtype} and ${filter.dtype}`,
    );
  }
  if (filter.shape.length !== 4) {
    throw new RangeError(`${NAME}: filter expected rank 4, got shape [${filter.shape}]`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outChannels, outHeight, outWidth } =
    info;
  requireShape(NAME, 'dy', dy.shape, [batchSize, outHeight, outWidth, outChannels]);
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (top < 0 || left < 0) {
    throw new RangeError(`${NAME}: negative padding (top ${top}, left ${left})`);
  }

  const scope = new Intermediates(backend);
  try {
    const result =
      inChannels === 1
        ? viaColumns(scope, dy, filter, info)
        : viaRotatedFilter(scope, dy, filter, info);
    requireShape(NAME, 'result', result.shape, [
      batchSize,
      inHeight,
      inWidth,
      inChannels,
    ]);
    scope.release(result);
    return result;
  } catch (err) {
    scope.release();
    throw err;
  }
}

/**
 * dx as one stride-1 convolution of dy (zero-stuffed for strides above 1)
 * with the filter rotated by 180 degrees and its channel axes swapped.
 */
function viaRotatedFilter(
  scope: Intermediates,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { inHeight, inWidth, strideHeight, strideWidth, filterHeight, filterWidth } =
    info;
  const { top, left } = info.padInfo;
  let src = dy;
  if (strideHeight > 1 || strideWidth > 1) {
    src = insertZeros(scope, dy, strideHeight, strideWidth);
  }
  const [, srcH, srcW] = src.shape;
  // Rows of the stride-1 convolution: out = srcH + padTop + padBottom - KH + 1 = H.
  const padTop = padOrCrop(filterHeight - 1 - top);
  const padLeft = padOrCrop(filterWidth - 1 - left);
  const padBottom = padOrCrop(inHeight + top - srcH);
  const padRight = padOrCrop(inWidth + left - srcW);
  src = scope.cropNHWC(
    src,
    padTop.crop,
    srcH - padTop.crop - padBottom.crop,
    padLeft.crop,
    srcW - padLeft.crop - padRight.crop,
  );
  // [KH,KW,Ci,Co] rotated by 180 degrees -> [KH,KW,Co,Ci].
  const flipped = scope.run('Reverse', { x: filter }, { dims: [0, 1] });
  const rotated = scope.transpose(flipped, [0, 1, 3, 2]);
  const pad: ExplicitPadding = [
    [0, 0],
    [padTop.pad, padBottom.pad],
    [padLeft.pad, padRight.pad],
    [0, 0],
  ];
  return scope.run(
    'Conv2D',
    { x: src, filter: rotated },
    { strides: [1, 1], dilations: [1, 1], pad, dataFormat: 'NHWC' },
  );
}

/**
 * Single input channel (a grayscale first layer): a convolution with one
 * output channel wastes most of the native kernel's vector lanes, so instead
 * every output position's contribution to its KHxKW window is computed as
 * one matrix product, cols = dy [n, Co] x W^T [Co, KH*KW], and the columns
 * are added into place (col2im) in one pass over typed-array views. Any
 * stride and padding.
 */
function viaColumns(
  scope: Intermediates,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const backend = scope.backend;
  const { batchSize: nb, inHeight: ih, inWidth: iw, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { outChannels: co } = info;
  const { top, left } = info.padInfo;
  const taps = fh * fw;
  const rows = scope.reshape(dy, [nb * oh * ow, co]);
  const weights = scope.transpose(scope.reshape(filter, [taps, co]), [1, 0]);
  const cols = scope.run(
    'BatchMatMul',
    { a: rows, b: weights },
    { transposeA: false, transposeB: false },
  );
  const out = scope.keep(backend.makeOutput([nb, ih, iw, 1], 'float32'));
  // Views after the last allocation: allocating may move the wasm heap.
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const z = backend.typedArrayFromHeap(cols) as Float32Array;
  dx.fill(0);
  let zi = 0;
  for (let b = 0; b < nb; b++) {
    const image = b * ih * iw;
    for (let r = 0; r < oh; r++) {
      const r0 = r * sh - top;
      for (let c = 0; c < ow; c++) {
        const c0 = c * sw - left;
        for (let kh = 0; kh < fh; kh++) {
          const y = r0 + kh;
          if (y < 0 || y >= ih) {
            zi += fw;
            continue;
          }
          const rowBase = image + y * iw;
          for (let kw = 0; kw < fw; kw++, zi++) {
            const x = c0 + kw;
            if (x >= 0 && x < iw) dx[rowBase + x] += z[zi];
          }
        }
      }
    }
  }
  return out;
}

/**
 * [B,OH,OW,C] -> [B,OH*sh,OW*sw,C] with each value followed by sh-1 zero rows
 * and sw-1 zero columns (trailing zeros only ever meet padding).
 */
function insertZeros(
  scope: Intermediates,
  dy: tf.TensorInfo,
  sh: number,
  sw: number,
): tf.TensorInfo {
  const [b, oh, ow, c] = dy.shape;
  const spread = scope.reshape(dy, [b * oh, 1, ow, 1, c]);
  const padded = scope.run(
    'PadV2',
    { x: spread },
    {
      paddings: [
        [0, 0],
        [0, sh - 1],
        [0, 0],
        [0, sw - 1],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
  return scope.reshape(padded, [b, oh * sh, ow * sw, c]);
}

/**
 * Builds the override for the shipped (slow, direct-loop) wasm kernel; the
 * existing setupFunc is kept so the original stays usable.
 */
export function conv2DBackpropInputConfig(existing?: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: conv2DBackpropInputWasm as unknown as tf.KernelFunc,
  };
}
