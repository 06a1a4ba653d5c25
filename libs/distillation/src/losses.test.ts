import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '@vicinal/backend';
// tfjs-core registers op gradients only when asked; tfjs-layers does it, as in training.
import '@tensorflow/tfjs-layers';
import { kdLoss } from './kd-loss.js';
import { kdLossStdNormalised } from './kd-std.js';
import { kdLossZscore } from './kd-zscore.js';
import {
  distillationLoss,
  distillationLossNames,
  registerDistillationLoss,
  UnknownLossError,
} from './loss-registry.js';
import { blendedLoss, crossEntropyMixed } from './losses.js';
import { mixedHardLabels } from './mixup.js';
import { assertRelative, lossVectors } from './test-vectors.js';

const vectors = lossVectors();

/** Runs `fn` on the vector tensors and returns the scalar, leaving no tensors behind. */
function evaluate(
  fn: (s: tf.Tensor2D, t: tf.Tensor2D, y: tf.Tensor2D) => tf.Scalar,
): number {
  const before = tf.memory().numTensors;
  const value = tf.tidy(() => {
    const s = tf.tensor2d(vectors.student_logits);
    const t = tf.tensor2d(vectors.teacher_logits);
    const y = mixedHardLabels(
      vectors.labels,
      Int32Array.from(vectors.partner),
      Float32Array.from(vectors.lambda),
      s.shape[1],
    );
    return fn(s, t, y);
  });
  const out = value.dataSync()[0];
  value.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  return out;
}

before(async () => {
  await initBackend('cpu');
});

describe('distillation losses reproduce the reference vectors', () => {
  for (const [key, temperature] of [
    ['kd_T1', 1],
    ['kd_T2', 2],
    ['kd_T4', 4],
  ] as const) {
    test(key, () => {
      assertRelative(
        evaluate((s, t) => kdLoss(s, t, temperature)),
        vectors.expected[key],
        key,
      );
    });
  }

  test('ce_mixed_labels', () => {
    const value = evaluate((s, _t, y) => crossEntropyMixed(s, y));
    assertRelative(value, vectors.expected.ce_mixed_labels, 'ce_mixed_labels');
  });

  test('blend_T2_ce0.2_kd0.8', () => {
    const value = evaluate((student, teacher, yMix) =>
      blendedLoss({ student, teacher, yMix, beta: 0.8, temperature: 2 }),
    );
    assertRelative(value, vectors.expected['blend_T2_ce0.2_kd0.8'], 'blend');
  });

  test('kd_std_normalised (direct and through the blend)', () => {
    const expected = vectors.expected.kd_std_normalised;
    assertRelative(
      evaluate((s, t) => kdLossStdNormalised(s, t)),
      expected,
      'std',
    );
    const blended = evaluate((student, teacher) =>
      blendedLoss({ student, teacher, beta: 1, temperature: 7, variant: 'std' }),
    );
    assertRelative(blended, expected, 'std via blendedLoss (T ignored)');
  });

  test('kd_zscore_T2 (direct and through the blend)', () => {
    const expected = vectors.expected.kd_zscore_T2;
    assertRelative(
      evaluate((s, t) => kdLossZscore(s, t, 2)),
      expected,
      'zscore',
    );
    const blended = evaluate((student, teacher) =>
      blendedLoss({ student, teacher, beta: 1, temperature: 2, variant: 'zscore' }),
    );
    assertRelative(blended, expected, 'zscore via blendedLoss');
  });
});

describe('blendedLoss', () => {
  test('beta = 0 is pure cross-entropy and needs no teacher', () => {
    const value = evaluate((student, _t, yMix) =>
      blendedLoss({ student, yMix, beta: 0 }),
    );
    assertRelative(value, vectors.expected.ce_mixed_labels, 'beta=0');
  });

  test('beta = 1 with the plain variant is kdLoss', () => {
    const value = evaluate((student, teacher) =>
      blendedLoss({ student, teacher, beta: 1, temperature: 4 }),
    );
    assertRelative(value, vectors.expected.kd_T4, 'beta=1');
  });

  test('is differentiable with respect to the student logits', () => {
    const s = tf.tensor2d(vectors.student_logits);
    const t = tf.tensor2d(vectors.teacher_logits);
    const y = mixedHardLabels(
      vectors.labels,
      Int32Array.from(vectors.partner),
      Float32Array.from(vectors.lambda),
      s.shape[1],
    );
    for (const variant of distillationLossNames()) {
      const grad = tf.grad((x: tf.Tensor) =>
        blendedLoss({
          student: x as tf.Tensor2D,
          teacher: t,
          yMix: y,
          beta: 0.8,
          temperature: 2,
          variant,
        }),
      )(s);
      const values = grad.dataSync();
      assert.ok(values.every(Number.isFinite), `${variant}: gradient not finite`);
      assert.ok(
        values.some((v) => v !== 0),
        `${variant}: gradient is all zero`,
      );
      // Softmax is shift-invariant, so each row's gradient sums to ~0.
      const rows = tf.sum(grad, -1).dataSync();
      for (const r of rows) assert.ok(Math.abs(r) < 1e-5, `${variant}: row sum ${r}`);
      grad.dispose();
    }
    tf.dispose([s, t, y]);
  });

  test('rejects missing inputs and bad settings with the field named', () => {
    const s = tf.zeros([2, 3]) as tf.Tensor2D;
    const y = tf.zeros([2, 3]) as tf.Tensor2D;
    assert.throws(() => blendedLoss({ student: s, yMix: y, beta: 0.5 }), /teacher/);
    assert.throws(() => blendedLoss({ student: s, teacher: s, beta: 0.5 }), /yMix/);
    assert.throws(() => blendedLoss({ student: s, yMix: y, beta: 1.5 }), /beta/);
    assert.throws(
      () => blendedLoss({ student: s, teacher: s, beta: 1, temperature: 0 }),
      /temperature/,
    );
    assert.throws(
      () => blendedLoss({ student: s, teacher: s, beta: 1, variant: 'nope' }),
      (err) => err instanceof UnknownLossError && /plain, std, zscore/.test(err.message),
    );
    const wrong = tf.zeros([2, 4]) as tf.Tensor2D;
    assert.throws(() => blendedLoss({ student: s, teacher: wrong, beta: 1 }), /teacher/);
    tf.dispose([s, y, wrong]);
  });
});

describe('loss registry', () => {
  test('holds the built-in variants and accepts a new one by name', () => {
    assert.deepEqual(distillationLossNames().slice(0, 3), ['plain', 'std', 'zscore']);
    assert.equal(distillationLoss('plain'), kdLoss);
    const half = (s: tf.Tensor2D, t: tf.Tensor2D, temperature: number) =>
      tf.tidy(() => tf.mul(kdLoss(s, t, temperature), 0.5) as tf.Scalar);
    registerDistillationLoss('test-half', half);
    assert.throws(
      () => registerDistillationLoss('test-half', half),
      /already registered/,
    );
    const value = evaluate((student, teacher) =>
      blendedLoss({ student, teacher, beta: 1, temperature: 2, variant: 'test-half' }),
    );
    assertRelative(value, vectors.expected.kd_T2 / 2, 'registered variant');
  });
});
