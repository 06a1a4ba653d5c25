import { tf } from '@vicinal/backend';
import { assertSameShape, assertTemperature } from './kl-divergence.js';
import { distillationLoss } from './loss-registry.js';

/**
 * Cross-entropy against soft (mixed) hard labels: batch mean of
 * -sum_k yMix_k * log softmax(s)_k, with the stable log-softmax.
 */
export function crossEntropyMixed(
  studentLogits: tf.Tensor2D,
  yMix: tf.Tensor2D,
): tf.Scalar {
  assertSameShape(studentLogits, yMix, 'student', 'yMix');
  return tf.tidy(() => {
    const perRow = tf.neg(tf.sum(tf.mul(yMix, tf.logSoftmax(studentLogits)), -1));
    return tf.mean(perRow) as tf.Scalar;
  });
}

/** Inputs of the blended student loss. */
export interface BlendedLossInputs {
  /** Student logits [B, K]. */
  student: tf.Tensor2D;
  /** Teacher logits [B, K] on the same (mixed) inputs; not needed when beta = 0. */
  teacher?: tf.Tensor2D;
  /** Mixed hard labels [B, K]; not needed when beta = 1. */
  yMix?: tf.Tensor2D;
  /** Weight of the distillation term in [0, 1]: 0 = pure CE, 1 = pure KD. */
  beta: number;
  /** Distillation temperature (default 1; ignored by the "std" variant). */
  temperature?: number;
  /** Registered distillation loss name (default "plain"). */
  variant?: string;
}

/**
 * (1 - beta) * CE(student, yMix) + beta * KD(student, teacher), the KD term
 * chosen by `variant` from the loss registry. A zero-weight term is not
 * computed, so beta = 0 needs no teacher and beta = 1 no labels.
 */
export function blendedLoss(inputs: BlendedLossInputs): tf.Scalar {
  const { student, teacher, yMix, beta } = inputs;
  const temperature = inputs.temperature ?? 1;
  const variant = inputs.variant ?? 'plain';
  if (!(beta >= 0 && beta <= 1)) {
    throw new RangeError(`beta: expected a weight in [0, 1], got ${beta}`);
  }
  const kd = beta > 0 ? distillationLoss(variant) : null;
  if (kd) assertTemperature(temperature);
  if (beta > 0 && !teacher) {
    throw new TypeError(`teacher: logits are required when beta > 0 (beta = ${beta})`);
  }
  if (beta < 1 && !yMix) {
    throw new TypeError(
      `yMix: mixed hard labels are required when beta < 1 (beta = ${beta})`,
    );
  }
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    if (beta < 1 && yMix) terms.push(tf.mul(crossEntropyMixed(student, yMix), 1 - beta));
    if (kd && teacher) {
      assertSameShape(student, teacher, 'student', 'teacher');
      terms.push(tf.mul(kd(student, teacher, temperature), beta));
    }
    return (terms.length === 1 ? terms[0] : tf.add(terms[0], terms[1])) as tf.Scalar;
  });
}
