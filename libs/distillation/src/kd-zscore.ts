import { tf } from '@vicinal/backend';
import { assertTemperature, klDivergenceFromLogits } from './kl-divergence.js';

/** Added to the per-row standard deviation before dividing by it. */
export const ZSCORE_EPSILON = 1e-7;

/**
 * KD on z-scored logits: each row becomes ((z - mean) / (std + 1e-7)) / T
 * (population std), then T^2 * batch mean of KL(teacher || student).
 */
export function kdLossZscore(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
): tf.Scalar {
  assertTemperature(temperature);
  return tf.tidy(() => {
    const kl = klDivergenceFromLogits(
      zscore(teacherLogits, temperature),
      zscore(studentLogits, temperature),
    );
    return tf.mul(kl, temperature * temperature) as tf.Scalar;
  });
}

function zscore(logits: tf.Tensor2D, temperature: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(logits, -1, true);
  const standardised = tf.div(
    tf.sub(logits, mean),
    tf.add(tf.sqrt(variance), ZSCORE_EPSILON),
  );
  return tf.div(standardised, temperature) as tf.Tensor2D;
}
