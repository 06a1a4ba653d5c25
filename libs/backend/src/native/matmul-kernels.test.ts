import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { compareWithCpu, randomValues, sizeOf } from '../kernels/reference.js';
import { nativeCallCounts } from './common.js';
import { nativeCallsDuring, nativeTests } from './test-support.js';

/**
 * Relative error bound against the pure-JS cpu backend, as for the
 * convolutions: max |native - cpu| / (max |cpu| + 1e-12) < 1e-4 (float32
 * sums in another order; observed errors are around 1e-7..1e-6).
 */
const BOUND = 1e-4;

const gate = nativeTests();

/** Shapes of op(a) and op(b): [..., M, K] and [..., K, N]. */
interface Product {
  a: number[];
  b: number[];
}

const products: Product[] = [
  { a: [5, 7], b: [7, 3] },
  { a: [1, 1], b: [1, 1] },
  { a: [2, 5, 7], b: [2, 7, 3] },
  { a: [3, 2, 4, 6], b: [3, 2, 6, 5] },
  // A batch of one on either side is broadcast, whatever its rank.
  { a: [1, 5, 7], b: [4, 7, 3] },
  { a: [3, 5, 7], b: [1, 7, 3] },
  { a: [2, 3, 4, 6], b: [6, 5] },
  { a: [4, 6], b: [2, 6, 3] },
  // Dense layers: a batch of rows times a weight matrix.
  { a: [32, 196], b: [196, 48] },
  { a: [128, 64], b: [64, 10] },
];

/** A product's stored operand shapes when op transposes them. */
function stored(p: Product, transposeA: boolean, transposeB: boolean) {
  const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
  return { a: transposeA ? swap(p.a) : p.a, b: transposeB ? swap(p.b) : p.b };
}

function describe(p: Product, transposeA: boolean, transposeB: boolean): string {
  return `a [${p.a}] b [${p.b}] transposeA ${transposeA} transposeB ${transposeB}`;
}

for (const p of products) {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      test(
        `BatchMatMul (native) matches cpu: ${describe(p, transposeA, transposeB)}`,
        gate,
        async () => {
          const shapes = stored(p, transposeA, transposeB);
          const av = randomValues(sizeOf(shapes.a), 21);
          const bv = randomValues(sizeOf(shapes.b), 22);
          let error = Number.NaN;
          const calls = await nativeCallsDuring('BatchMatMul', async () => {
            ({ error } = await compareWithCpu(() =>
              tf.matMul(
                tf.tensor(av, shapes.a),
                tf.tensor(bv, shapes.b),
                transposeA,
                transposeB,
              ),
            ));
          });
          assert.equal(calls, 1, 'the native BatchMatMul ran once (on wasm)');
          assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
        },
      );
    }
  }
}

const activations = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'sigmoid'] as const;

/** Runs tf.fused.matMul on `p` with seeded values and compares wasm with cpu. */
async function fusedCase(
  p: Product,
  options: {
    transposeA?: boolean;
    transposeB?: boolean;
    bias?: number[];
    activation?: (typeof activations)[number] | 'prelu';
  },
): Promise<number> {
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
  const shapes = stored(p, transposeA, transposeB);
  const av = randomValues(sizeOf(shapes.a), 23);
  const bv = randomValues(sizeOf(shapes.b), 24);
  const biasShape = options.bias;
  const biasValues = biasShape ? randomValues(sizeOf(biasShape), 25) : undefined;
  const n = p.b[p.b.length - 1];
  const { error } = await compareWithCpu(() =>
    tf.fused.matMul({
      a: tf.tensor(av, shapes.a),
      b: tf.tensor(bv, shapes.b),
      transposeA,
      transposeB,
      bias: biasShape && biasValues ? tf.tensor(biasValues, biasShape) : undefined,
      activation: options.activation ?? 'linear',
      leakyreluAlpha: 0.15,
      preluActivationWeights:
        options.activation === 'prelu' ? tf.tensor1d(randomValues(n, 26)) : undefined,
    }),
  );
  return error;
}

for (const activation of activations) {
  for (const withBias of [true, false]) {
    const p = products[8];
    test(
      `_FusedMatMul (native) matches cpu: ${activation}, bias ${withBias}, a [${p.a}] b [${p.b}]`,
      gate,
      async () => {
        let error = Number.NaN;
        const bias = withBias ? [p.b[1]] : undefined;
        const calls = await nativeCallsDuring('_FusedMatMul', async () => {
          error = await fusedCase(p, { activation, bias });
        });
        assert.equal(calls, 1, 'the native _FusedMatMul ran once (on wasm)');
        assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
      },
    );
  }
}

const fusedShapes: { p: Product; bias: number[] }[] = [
  { p: { a: [2, 5, 7], b: [2, 7, 3] }, bias: [3] },
  { p: { a: [1, 5, 7], b: [4, 7, 3] }, bias: [1, 3] },
  { p: { a: [128, 64], b: [64, 10] }, bias: [10] },
];
for (const { p, bias } of fusedShapes) {
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      test(
        `_FusedMatMul (native) matches cpu: relu, bias [${bias}], ${describe(p, transposeA, transposeB)}`,
        gate,
        async () => {
          let error = Number.NaN;
          const calls = await nativeCallsDuring('_FusedMatMul', async () => {
            error = await fusedCase(p, {
              transposeA,
              transposeB,
              bias,
              activation: 'relu',
            });
          });
          assert.equal(calls, 1, 'the native _FusedMatMul ran once (on wasm)');
          assert.ok(error < BOUND, `relative error ${error} >= ${BOUND}`);
        },
      );
    }
  }
}

/** Fallbacks of `kernel` while `f` runs. */
async function fallbacksDuring(kernel: string, f: () => Promise<void>): Promise<number> {
  const before = nativeCallCounts.get(kernel)?.fallback ?? 0;
  await f();
  return (nativeCallCounts.get(kernel)?.fallback ?? 0) - before;
}

test(
  '_FusedMatMul with PReLU runs the wasm kernel and still matches cpu',
  gate,
  async () => {
    let error = Number.NaN;
    const fallbacks = await fallbacksDuring('_FusedMatMul', async () => {
      error = await fusedCase(products[8], { activation: 'prelu', bias: [48] });
    });
    assert.equal(fallbacks, 1);
    assert.ok(error < BOUND, `relative error ${error}`);
  },
);

test(
  'BatchMatMul with no rows runs the wasm kernel and gives the empty product',
  gate,
  async () => {
    let result = { error: Number.NaN, wasm: { shape: [] as number[] } };
    const fallbacks = await fallbacksDuring('BatchMatMul', async () => {
      result = await compareWithCpu(() =>
        tf.matMul(tf.zeros([0, 7]), tf.tensor2d(randomValues(21, 30), [7, 3])),
      );
    });
    assert.equal(fallbacks, 1);
    assert.deepEqual(result.wasm.shape, [0, 3]);
    assert.ok(result.error < BOUND, `relative error ${result.error}`);
  },
);

test(
  'a dense layer (fused relu) and its input, weight and bias gradients through tf.grads match cpu',
  gate,
  async () => {
    const xv = randomValues(24 * 40, 27);
    const wv = randomValues(40 * 16, 28);
    const bv = randomValues(16, 29);
    let error = Number.NaN;
    const calls = await nativeCallsDuring('BatchMatMul', async () => {
      ({ error } = await compareWithCpu(() => {
        const [dx, dw, db] = tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
          tf.sum(
            tf.square(
              tf.fused.matMul({
                a: x as tf.Tensor2D,
                b: w as tf.Tensor2D,
                bias: b,
                activation: 'relu',
              }),
            ),
          ),
        )([tf.tensor2d(xv, [24, 40]), tf.tensor2d(wv, [40, 16]), tf.tensor1d(bv)]);
        return tf.concat([tf.reshape(dx, [-1]), tf.reshape(dw, [-1]), db]);
      }));
    });
    // The forward product (unfused under tf.grads) and both gradient products.
    assert.equal(calls, 3, 'the native BatchMatMul served all three products');
    assert.ok(error < BOUND, `relative error ${error}`);
  },
);
