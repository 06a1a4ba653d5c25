import * as tf from '@tensorflow/tfjs-core';

/**
 * The gradient of a reduction over `axis` of x: dy (scaled) put back at
 * x's shape by tiling, which copies blocks, instead of multiplying by a
 * full-size tensor of ones that first has to be built in JavaScript.
 */
export function broadcastBack(
  dy: tf.Tensor,
  x: tf.Tensor,
  axis: number | number[],
  scale: number,
): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const kept = x.shape.slice();
  const reps = x.shape.map(() => 1);
  for (const a of axes) {
    kept[a] = 1;
    reps[a] = x.shape[a];
  }
  let g = tf.reshape(dy, kept);
  if (scale !== 1) g = tf.mul(g, tf.scalar(scale, g.dtype));
  if (g.dtype !== 'float32') g = tf.cast(g, 'float32');
  return tf.tile(g, reps);
}
