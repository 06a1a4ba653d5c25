import { tf } from '@vicinal/backend';
import { klDivergenceFromLogits } from './kl-divergence.js';

/** Added to the per-row standard deviation so a constant row does not divide by 0. */
export const STD_EPSILON = 1e-8;

/**
 * KD with "T = std": each row of logits divided by its own population
 * standard deviation (+1e-8) instead of a fixed temperature, and no T^2
 * factor. The temperature argument is accepted for a uniform signature and
 * ignored.
 */
export function kdLossStdNormalised(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  _temperature?: number,
): tf.Scalar {
  return tf.tidy(() =>
    klDivergenceFromLogits(divideByRowStd(teacherLogits), divideByRowStd(studentLogits)),
  );
}

function divideByRowStd(logits: tf.Tensor2D): tf.Tensor2D {
  const { variance } = tf.moments(logits, -1, true);
  return tf.div(logits, tf.add(tf.sqrt(variance), STD_EPSILON)) as tf.Tensor2D;
}
