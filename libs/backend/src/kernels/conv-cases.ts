import * as tf from '@tensorflow/tfjs-core';

/**
 * Convolution geometries and kernel calls shared by the tests of the wasm and
 * the native convolution kernels (test support, not used in production).
 */

export type Shape4 = [number, number, number, number];
export type ConvPad =
  | 'same'
  | 'valid'
  | [[0, 0], [number, number], [number, number], [0, 0]];

export interface ConvCase {
  x: Shape4;
  filter: Shape4;
  strides: number | [number, number];
  pad: ConvPad;
  dilations?: number | [number, number];
}

/** Explicit padding, uneven on both spatial axes. */
export const unevenPad: ConvPad = [
  [0, 0],
  [1, 2],
  [0, 3],
  [0, 0],
];

/**
 * Geometries for the gradient kernels (dilation 1): 'same', 'valid' and
 * explicit padding, strides 1/2/3/[2,1], odd sizes, one input channel, and a
 * training-sized layer.
 */
export const gradientCases: ConvCase[] = [
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'valid' },
  { x: [3, 8, 9, 2], filter: [3, 2, 2, 5], strides: 2, pad: 'same' },
  { x: [3, 8, 9, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { x: [1, 10, 10, 2], filter: [3, 3, 2, 3], strides: 3, pad: 'valid' },
  { x: [2, 9, 8, 3], filter: [5, 5, 3, 2], strides: [2, 1], pad: 'same' },
  { x: [2, 6, 5, 2], filter: [2, 3, 2, 3], strides: [2, 1], pad: unevenPad },
  {
    x: [2, 6, 6, 1],
    filter: [2, 2, 1, 3],
    strides: 1,
    pad: [
      [0, 0],
      [3, 1],
      [2, 2],
      [0, 0],
    ],
  },
  { x: [4, 28, 28, 1], filter: [3, 3, 1, 8], strides: 1, pad: 'same' },
  { x: [8, 14, 14, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
];

/** The case in a test name. */
export function describeConvCase(c: ConvCase): string {
  return (
    `x [${c.x}] filter [${c.filter}] strides ${JSON.stringify(c.strides)} ` +
    `pad ${JSON.stringify(c.pad)} dilations ${JSON.stringify(c.dilations ?? 1)}`
  );
}

/** Shape of the convolution's output (and so of its dy). */
export function convOutputShape(c: ConvCase): number[] {
  return tf.tidy(
    () =>
      tf.conv2d(
        tf.zeros(c.x) as tf.Tensor4D,
        tf.zeros(c.filter) as tf.Tensor4D,
        c.strides,
        c.pad,
        'NHWC',
        c.dilations ?? 1,
      ).shape,
  );
}

/** Runs the Conv2DBackpropFilter kernel of the active backend. */
export function runBackpropFilter(
  c: ConvCase,
  x: Float32Array,
  dyShape: number[],
  dy: Float32Array,
): tf.Tensor {
  return tf
    .engine()
    .runKernel(
      'Conv2DBackpropFilter',
      { x: tf.tensor4d(x, c.x), dy: tf.tensor(dy, dyShape) },
      {
        strides: c.strides,
        pad: c.pad,
        dataFormat: 'NHWC',
        filterShape: c.filter,
      } as never,
    ) as tf.Tensor;
}

/** Runs the Conv2DBackpropInput kernel of the active backend. */
export function runBackpropInput(
  c: ConvCase,
  dyShape: number[],
  dy: Float32Array,
  filter: Float32Array,
): tf.Tensor {
  return tf
    .engine()
    .runKernel(
      'Conv2DBackpropInput',
      { dy: tf.tensor(dy, dyShape), filter: tf.tensor4d(filter, c.filter) },
      { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as never,
    ) as tf.Tensor;
}
