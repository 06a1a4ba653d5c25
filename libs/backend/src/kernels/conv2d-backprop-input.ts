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
  const { batchSize, inHeight, inWidth, inChannels, outChannels } = info;
  const { outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } =
    info;
  requireShape(NAME, 'dy', dy.shape, [batchSize, outHeight, outWidth, outChannels]);
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (top < 0 || left < 0) {
    throw new RangeError(`${NAME}: negative padding (top ${top}, left ${left})`);
  }

  const scope = new Intermediates(backend);
  try {
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
    const result = scope.run(
      'Conv2D',
      { x: src, filter: rotated },
      { strides: [1, 1], dilations: [1, 1], pad, dataFormat: 'NHWC' },
    );
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
