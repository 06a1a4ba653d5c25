import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initBackend, tf } from '@vicinal/backend';
// tfjs-core registers op gradients only when asked; tfjs-layers does it, as in training.
import '@tensorflow/tfjs-layers';
import { fusedBlendedLoss } from './fused-loss.js';
import { blendedLoss } from './losses.js';
import { mixedHardLabelsArray } from './mixup.js';
import { createRandom } from './random.js';
import { assertRelative, lossVectors } from './test-vectors.js';

const vectors = lossVectors();

const classes = vectors.student_logits[0].length;
const vectorTeacher = Float32Array.from(vectors.teacher_logits.flat());
const vectorLabels = mixedHardLabelsArray(
  vectors.labels,
  Int32Array.from(vectors.partner),
  Float32Array.from(vectors.lambda),
  classes,
);

interface Case {
  student: Float32Array;
  teacher: Float32Array;
  yMix: Float32Array;
  rows: number;
  beta: number;
  temperature: number;
}

/** Value and gradient of the fused loss and of blendedLoss (tensor ops) on one case. */
function both(c: Case) {
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => {
    const s = tf.tensor2d(c.student, [c.rows, classes]);
    const fused = tf.valueAndGrad((x: tf.Tensor) =>
      fusedBlendedLoss({
        student: x as tf.Tensor2D,
        teacher: c.teacher,
        yMix: c.yMix,
        beta: c.beta,
        temperature: c.temperature,
      }),
    )(s);
    const teacher = tf.tensor2d(c.teacher, [c.rows, classes]);
    const yMix = tf.tensor2d(c.yMix, [c.rows, classes]);
    const ops = tf.valueAndGrad((x: tf.Tensor) =>
      blendedLoss({
        student: x as tf.Tensor2D,
        teacher,
        yMix,
        beta: c.beta,
        temperature: c.temperature,
      }),
    )(s);
    return {
      fused: fused.value.dataSync()[0],
      fusedGrad: fused.grad.dataSync() as Float32Array,
      ops: ops.value.dataSync()[0],
      opsGrad: ops.grad.dataSync() as Float32Array,
    };
  });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  return out;
}

/** Logits of `rows` x `classes` drawn uniformly from [-scale, scale]. */
function randomCase(
  seed: number,
  rows: number,
  scale: number,
): Omit<Case, 'beta' | 'temperature'> {
  const random = createRandom(seed);
  const logits = () =>
    Float32Array.from({ length: rows * classes }, () => scale * (2 * random.next() - 1));
  const labels = Array.from({ length: rows }, () => Math.floor(random.next() * classes));
  const partner = random.permutation(rows);
  const lambda = Float32Array.from({ length: rows }, () => random.next());
  return {
    student: logits(),
    teacher: logits(),
    yMix: mixedHardLabelsArray(labels, partner, lambda, classes),
    rows,
  };
}

before(async () => {
  await initBackend('cpu');
});

describe('fusedBlendedLoss reproduces the reference vectors', () => {
  const student = () => tf.tensor2d(vectors.student_logits);
  const value = (beta: number, temperature: number) => {
    const s = student();
    const loss = fusedBlendedLoss({
      student: s,
      teacher: vectorTeacher,
      yMix: vectorLabels,
      beta,
      temperature,
    });
    const out = loss.dataSync()[0];
    tf.dispose([s, loss]);
    return out;
  };
  for (const [key, temperature] of [
    ['kd_T1', 1],
    ['kd_T2', 2],
    ['kd_T4', 4],
  ] as const) {
    test(`${key} (beta = 1)`, () => {
      assertRelative(value(1, temperature), vectors.expected[key], key);
    });
  }
  test('ce_mixed_labels (beta = 0)', () => {
    assertRelative(value(0, 3), vectors.expected.ce_mixed_labels, 'ce');
  });
  test('blend_T2_ce0.2_kd0.8', () => {
    const key = 'blend_T2_ce0.2_kd0.8';
    assertRelative(value(0.8, 2), vectors.expected[key], key);
  });
});

describe('fusedBlendedLoss against the tensor-op loss', () => {
  const cases: [string, Case][] = [
    [
      'reference vectors, beta 0.8, T 2',
      {
        student: Float32Array.from(vectors.student_logits.flat()),
        teacher: vectorTeacher,
        yMix: vectorLabels,
        rows: vectors.student_logits.length,
        beta: 0.8,
        temperature: 2,
      },
    ],
  ];
  for (const [beta, temperature, scale] of [
    [0, 1, 3],
    [1, 0.5, 3],
    [0.3, 4, 8],
    [0.8, 2, 40],
    [0.5, 1, 0.01],
  ]) {
    cases.push([
      `random logits (scale ${scale}), beta ${beta}, T ${temperature}`,
      { ...randomCase(11 + cases.length, 64, scale), beta, temperature },
    ]);
  }
  for (const [name, c] of cases) {
    test(name, () => {
      const r = both(c);
      assert.ok(Number.isFinite(r.fused), `value ${r.fused}`);
      const rel = Math.abs(r.fused - r.ops) / Math.max(Math.abs(r.ops), 1e-6);
      assert.ok(rel <= 1e-5, `value: tensor ops ${r.ops}, fused ${r.fused}`);
      let largest = 0;
      for (const g of r.opsGrad) largest = Math.max(largest, Math.abs(g));
      assert.ok(largest > 0, 'the tensor-op gradient is zero; the case tests nothing');
      for (let j = 0; j < r.opsGrad.length; j++) {
        assert.ok(
          Math.abs(r.fusedGrad[j] - r.opsGrad[j]) <= 1e-5 * largest + 1e-9,
          `gradient[${j}]: tensor ops ${r.opsGrad[j]}, fused ${r.fusedGrad[j]}`,
        );
      }
    });
  }

  test('stays finite for logits of magnitude 1e4 (stable log-softmax)', () => {
    const r = both({ ...randomCase(5, 16, 1e4), beta: 0.8, temperature: 2 });
    assert.ok(Number.isFinite(r.fused), `value ${r.fused}`);
    assert.ok(r.fusedGrad.every(Number.isFinite), 'gradient not finite');
    const rel = Math.abs(r.fused - r.ops) / Math.abs(r.ops);
    assert.ok(rel <= 1e-5, `value: tensor ops ${r.ops}, fused ${r.fused}`);
  });

  test('scales the gradient by the upstream gradient', () => {
    const c = randomCase(3, 8, 2);
    const s = tf.tensor2d(c.student, [8, classes]);
    const loss = (x: tf.Tensor) =>
      fusedBlendedLoss({
        student: x as tf.Tensor2D,
        teacher: c.teacher,
        yMix: c.yMix,
        beta: 0.5,
        temperature: 2,
      });
    const once = tf.grad(loss)(s);
    const thrice = tf.grad((x: tf.Tensor) => tf.mul(loss(x), 3) as tf.Scalar)(s);
    const a = once.dataSync();
    const b = thrice.dataSync();
    for (let j = 0; j < a.length; j++) {
      assert.ok(
        Math.abs(b[j] - 3 * a[j]) <= 1e-6,
        `gradient[${j}]: ${b[j]} vs 3 x ${a[j]}`,
      );
    }
    tf.dispose([s, once, thrice]);
  });
});

describe('fusedBlendedLoss in an optimiser step', () => {
  test('updates a model exactly as the tensor-op loss does', () => {
    const c = randomCase(21, 32, 2);
    const weightsAfter = (fused: boolean) =>
      tf.tidy(() => {
        const w = tf.variable(
          tf.tensor2d(
            Float32Array.from({ length: 6 * classes }, (_, i) => Math.sin(i)),
            [6, classes],
          ),
        );
        const x = tf.tensor2d(
          Float32Array.from({ length: 32 * 6 }, (_, i) => Math.cos(i * 0.7)),
          [32, 6],
        );
        const teacher = tf.tensor2d(c.teacher, [32, classes]);
        const yMix = tf.tensor2d(c.yMix, [32, classes]);
        const optimizer = tf.train.sgd(0.5);
        for (let step = 0; step < 3; step++) {
          optimizer.minimize(() => {
            const student = tf.matMul(x, w) as tf.Tensor2D;
            return fused
              ? fusedBlendedLoss({
                  student,
                  teacher: c.teacher,
                  yMix: c.yMix,
                  beta: 0.8,
                  temperature: 2,
                })
              : blendedLoss({ student, teacher, yMix, beta: 0.8, temperature: 2 });
          });
        }
        optimizer.dispose();
        const out = w.dataSync().slice();
        w.dispose();
        return out;
      });
    const fused = weightsAfter(true);
    const ops = weightsAfter(false);
    const start = Float32Array.from({ length: 6 * classes }, (_, i) => Math.sin(i));
    assert.ok(
      fused.some((v, j) => Math.abs(v - start[j]) > 1e-3),
      'the weights did not move; the test compares nothing',
    );
    for (let j = 0; j < ops.length; j++) {
      assert.ok(
        Math.abs(fused[j] - ops[j]) <= 1e-5,
        `w[${j}]: ops ${ops[j]}, fused ${fused[j]}`,
      );
    }
  });
});

describe('fusedBlendedLoss refuses bad input by name', () => {
  test('missing or mis-sized targets, bad beta and temperature, wrong rank', () => {
    const s = tf.zeros([2, 3]) as tf.Tensor2D;
    const six = new Float32Array(6);
    assert.throws(
      () => fusedBlendedLoss({ student: s, yMix: six, beta: 0.5 }),
      /teacher: logits are required/,
    );
    assert.throws(
      () => fusedBlendedLoss({ student: s, teacher: six, beta: 0.5 }),
      /yMix: mixed hard labels are required/,
    );
    assert.throws(
      () => fusedBlendedLoss({ student: s, teacher: new Float32Array(5), beta: 1 }),
      /teacher: expected 6 logits \(\[2, 3\] like student\), got 5/,
    );
    assert.throws(
      () => fusedBlendedLoss({ student: s, yMix: new Float32Array(8), beta: 0 }),
      /yMix: expected 6 values \(\[2, 3\] like student\), got 8/,
    );
    assert.throws(
      () => fusedBlendedLoss({ student: s, yMix: six, beta: -0.1 }),
      /beta: expected a weight in \[0, 1\]/,
    );
    assert.throws(
      () => fusedBlendedLoss({ student: s, teacher: six, beta: 1, temperature: 0 }),
      /temperature: expected a finite number > 0/,
    );
    const flat = tf.zeros([6]) as unknown as tf.Tensor2D;
    assert.throws(
      () => fusedBlendedLoss({ student: flat, yMix: six, beta: 0 }),
      /student: expected logits \[B, K\], got \[6\]/,
    );
    tf.dispose([s, flat]);
  });
});
