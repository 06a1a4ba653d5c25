import { tf } from '@vicinal/backend';
import { assertTemperature } from './kl-divergence.js';

/** Inputs of {@link fusedBlendedLoss}: the student as a tensor, the targets as arrays. */
export interface FusedLossInputs {
  /** Student logits [B, K]. */
  student: tf.Tensor2D;
  /** Teacher logits, row-major [B * K]; not needed when beta = 0. */
  teacher?: ArrayLike<number>;
  /** Mixed hard labels, row-major [B * K]; not needed when beta = 1. */
  yMix?: ArrayLike<number>;
  /** Weight of the distillation term in [0, 1]: 0 = pure CE, 1 = pure KD. */
  beta: number;
  /** Distillation temperature (default 1). */
  temperature?: number;
}

/**
 * The blended loss with the "plain" KD term, (1 - beta) * CE(student, yMix) +
 * beta * T^2 * KL(softmax(t/T) || softmax(s/T)) as a batch mean, computed
 * with its gradient in one pass over the logits on the host. It is one op
 * of the autodiff tape instead of the twenty-odd small ones the tensor
 * version ({@link blendedLoss} with variant "plain") records, each of which
 * costs a kernel dispatch forward and back; for a [128, 10] batch those
 * dispatches, not the arithmetic, were the loss's cost (about 1 ms of a
 * 35 ms student step on the wasm backend).
 *
 * The gradient with respect to the student logits s of row i is
 * ((1 - beta) * (sum_k y_ik * softmax(s_i) - y_i) +
 *  beta * T * (softmax(s_i / T) - softmax(t_i / T))) / B.
 * Sums run in float64, both log-softmaxes subtract the row maximum first,
 * and a zero-weight term is skipped, so beta = 0 needs no teacher and
 * beta = 1 no labels. The student logits are read with one synchronous
 * download, which the CPU backends (wasm, cpu, tensorflow) do without a
 * stall; the targets never become tensors.
 */
export function fusedBlendedLoss(inputs: FusedLossInputs): tf.Scalar {
  const { student, teacher, yMix, beta } = inputs;
  const temperature = inputs.temperature ?? 1;
  if (student.rank !== 2) {
    throw new RangeError(`student: expected logits [B, K], got [${student.shape}]`);
  }
  if (!(beta >= 0 && beta <= 1)) {
    throw new RangeError(`beta: expected a weight in [0, 1], got ${beta}`);
  }
  const [rows, classes] = student.shape;
  const size = rows * classes;
  const useTeacher = beta > 0;
  const useLabels = beta < 1;
  if (useTeacher) {
    assertTemperature(temperature);
    if (!teacher) {
      throw new TypeError(`teacher: logits are required when beta > 0 (beta = ${beta})`);
    }
    if (teacher.length !== size) {
      throw new RangeError(
        `teacher: expected ${size} logits ([${rows}, ${classes}] like student), ` +
          `got ${teacher.length}`,
      );
    }
  }
  if (useLabels) {
    if (!yMix) {
      throw new TypeError(
        `yMix: mixed hard labels are required when beta < 1 (beta = ${beta})`,
      );
    }
    if (yMix.length !== size) {
      throw new RangeError(
        `yMix: expected ${size} values ([${rows}, ${classes}] like student), ` +
          `got ${yMix.length}`,
      );
    }
  }
  const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const s = (args[0] as tf.Tensor).dataSync() as Float32Array;
    const grad = new Float32Array(size);
    const invT = 1 / temperature;
    let ce = 0;
    let kl = 0;
    for (let i = 0; i < rows; i++) {
      const at = i * classes;
      if (useLabels && yMix) {
        const lse = logSumExp(s, at, classes, 1);
        let ySum = 0;
        for (let k = 0; k < classes; k++) ySum += yMix[at + k];
        for (let k = 0; k < classes; k++) {
          const logP = s[at + k] - lse;
          ce -= yMix[at + k] * logP;
          grad[at + k] = (1 - beta) * (ySum * Math.exp(logP) - yMix[at + k]);
        }
      }
      if (useTeacher && teacher) {
        const lseS = logSumExp(s, at, classes, invT);
        const lseT = logSumExp(teacher, at, classes, invT);
        for (let k = 0; k < classes; k++) {
          const logPt = teacher[at + k] * invT - lseT;
          const logPs = s[at + k] * invT - lseS;
          const pt = Math.exp(logPt);
          kl += pt * (logPt - logPs);
          grad[at + k] += beta * temperature * (Math.exp(logPs) - pt);
        }
      }
    }
    for (let j = 0; j < size; j++) grad[j] /= rows;
    const value = ((1 - beta) * ce + beta * temperature * temperature * kl) / rows;
    return {
      value: tf.scalar(value),
      gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.tensor2d(grad, [rows, classes])),
    };
  });
  return loss(student) as tf.Scalar;
}

/** log sum_k exp(scale * v[at + k]) over one row, with the row maximum taken out. */
function logSumExp(v: ArrayLike<number>, at: number, n: number, scale: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < n; k++) max = Math.max(max, scale * v[at + k]);
  let sum = 0;
  for (let k = 0; k < n; k++) sum += Math.exp(scale * v[at + k] - max);
  return max + Math.log(sum);
}
