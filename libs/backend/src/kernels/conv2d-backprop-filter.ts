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
 * written as one native convolution:
 *
 *   dW[kh,kw,ci,co] = sum_{b,oh,ow} x[b, oh*sh+kh-top, ow*sw+kw-left, ci] dy[b,oh,ow,co]
 *
 * is a convolution whose "batch" is ci, whose "channels" are b and whose
 * filter is dy laid out as [OH,OW,B,Co]; the forward stride becomes that
 * convolution's dilation. Padding is reproduced exactly (rows a 'valid'
 * convolution never reads are cropped).
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
  const { batchSize, inHeight, inWidth, inChannels, outChannels } = info;
  const { outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } =
    info;
  requireShape(NAME, 'dy', dy.shape, [batchSize, outHeight, outWidth, outChannels]);

  // Extent of x (including padding) that the forward convolution read.
  const spanH = (outHeight - 1) * strideHeight + filterHeight;
  const spanW = (outWidth - 1) * strideWidth + filterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (top < 0 || left < 0) {
    throw new RangeError(`${NAME}: negative padding (top ${top}, left ${left})`);
  }
  const bottom = padOrCrop(spanH - top - inHeight);
  const right = padOrCrop(spanW - left - inWidth);

  const scope = new Intermediates(backend);
  try {
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
      {
        strides: [1, 1],
        dilations: [strideHeight, strideWidth],
        pad,
        dataFormat: 'NHWC',
      },
    );
    requireShape(NAME, 'intermediate', conv.shape, [
      inChannels,
      filterHeight,
      filterWidth,
      outChannels,
    ]);
    // [Ci,KH,KW,Co] -> [KH,KW,Ci,Co]
    const result = scope.transpose(conv, [1, 2, 0, 3]);
    scope.release(result);
    return result;
  } catch (err) {
    scope.release();
    throw err;
  }
}

/** Registration for the kernel wasm lacks entirely. */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: NAME,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterWasm as unknown as tf.KernelFunc,
};
