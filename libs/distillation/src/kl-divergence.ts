import { tf } from '@vicinal/backend';

/**
 * Batch mean of KL(softmax(teacher) || softmax(student)) for logits [B, K]
 * that are already scaled (by a temperature or a standardisation). Uses the
 * stable log-softmax (max subtracted before the exponential) on both sides.
 */
export function klDivergenceFromLogits(
  teacher: tf.Tensor2D,
  student: tf.Tensor2D,
): tf.Scalar {
  assertSameShape(teacher, student, 'teacher', 'student');
  return tf.tidy(() => {
    const logTeacher = tf.logSoftmax(teacher);
    const logStudent = tf.logSoftmax(student);
    const perRow = tf.sum(tf.mul(tf.exp(logTeacher), tf.sub(logTeacher, logStudent)), -1);
    return tf.mean(perRow) as tf.Scalar;
  });
}

/** Throws when two logit tensors are not both [B, K] with the same B and K. */
export function assertSameShape(
  a: tf.Tensor,
  b: tf.Tensor,
  nameA: string,
  nameB: string,
): void {
  if (a.rank !== 2) throw new RangeError(`${nameA}: expected [B, K], got [${a.shape}]`);
  if (b.rank !== 2 || b.shape[0] !== a.shape[0] || b.shape[1] !== a.shape[1]) {
    throw new RangeError(
      `${nameB}: expected shape [${a.shape}] like ${nameA}, got [${b.shape}]`,
    );
  }
}

/** Throws unless the temperature is a finite number > 0. */
export function assertTemperature(temperature: number): void {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`temperature: expected a finite number > 0, got ${temperature}`);
  }
}
