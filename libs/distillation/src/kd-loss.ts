import { tf } from '@vicinal/backend';
import { assertTemperature, klDivergenceFromLogits } from './kl-divergence.js';

/**
 * Knowledge-distillation loss at temperature T (the "plain" variant):
 * T^2 * batch mean of KL(softmax(t/T) || softmax(s/T)). The T^2 factor keeps
 * the gradient scale independent of T.
 */
export function kdLoss(
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
): tf.Scalar {
  assertTemperature(temperature);
  return tf.tidy(() => {
    const scale = 1 / temperature;
    const kl = klDivergenceFromLogits(
      tf.mul(teacherLogits, scale) as tf.Tensor2D,
      tf.mul(studentLogits, scale) as tf.Tensor2D,
    );
    return tf.mul(kl, temperature * temperature) as tf.Scalar;
  });
}
