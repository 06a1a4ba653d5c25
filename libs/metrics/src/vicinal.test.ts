import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  byLambdaBin,
  entropyRows,
  klDivergenceRows,
  meanInLambdaRange,
  vicinalNonLinearity,
} from './vicinal.js';

const vectorsPath =
  process.env.VICINAL_VECTORS ??
  new URL('../../../../shared/vectors/metrics-and-losses.json', import.meta.url).pathname;
const vicinal = JSON.parse(readFileSync(vectorsPath, 'utf8')).vicinal as {
  p_i: number[][];
  p_j: number[][];
  p_mix: number[][];
  lambda: number[];
  expected: { L_NL: number[]; entropy: number[] };
};

function closeArrays(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= 1e-6,
      `${what}[${i}]: expected ${expected[i]}, got ${actual[i]}`,
    );
  }
}

describe('vicinal analysis reproduces the reference vectors', () => {
  test('L_NL per pair', () => {
    const value = vicinalNonLinearity(
      vicinal.p_i,
      vicinal.p_j,
      vicinal.p_mix,
      vicinal.lambda,
    );
    closeArrays(value, vicinal.expected.L_NL, 'L_NL');
  });

  test('entropy of p_mix per pair', () => {
    closeArrays(entropyRows(vicinal.p_mix), vicinal.expected.entropy, 'entropy');
  });

  test('flat Float32Array input gives the same numbers within float32 rounding', () => {
    const flat = (m: number[][]) => Float32Array.from(m.flat());
    const value = vicinalNonLinearity(
      flat(vicinal.p_i),
      flat(vicinal.p_j),
      flat(vicinal.p_mix),
      vicinal.lambda,
    );
    closeArrays(value, vicinal.expected.L_NL, 'L_NL (float32)');
  });
});

describe('vicinal helpers', () => {
  test('a model linear in the vicinal region has L_NL ~0', () => {
    const pI = [[0.7, 0.2, 0.1]];
    const pJ = [[0.1, 0.1, 0.8]];
    const mix = [[0.4, 0.15, 0.45]];
    const [value] = vicinalNonLinearity(pI, pJ, mix, [0.5]);
    assert.ok(Math.abs(value) < 1e-9, `${value}`);
  });

  test('KL and entropy match hand computations', () => {
    const [kl] = klDivergenceRows([[0.5, 0.5]], [[0.9, 0.1]]);
    const want = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1);
    assert.ok(Math.abs(kl - want) < 1e-9);
    const [h] = entropyRows([[0.25, 0.25, 0.25, 0.25]]);
    assert.ok(Math.abs(h - Math.log(4)) < 1e-9);
    const [zero] = entropyRows([[1, 0]]);
    assert.ok(Math.abs(zero) < 1e-8, 'a one-hot row has (almost) zero entropy');
  });

  test('byLambdaBin and the peak average by lambda', () => {
    const lambda = [0.01, 0.02, 0.5, 0.52, 1];
    const values = [1, 3, 10, 20, 7];
    const bins = byLambdaBin(values, lambda, 20);
    assert.equal(bins.length, 20);
    assert.deepEqual(
      [bins[0].count, bins[0].mean, bins[10].count, bins[10].mean, bins[19].count],
      [2, 2, 2, 15, 1],
    );
    assert.ok(Number.isNaN(bins[5].mean));
    assert.deepEqual(meanInLambdaRange(values, lambda), { count: 2, mean: 15 });
  });

  test('mismatched shapes and lambdas are named', () => {
    assert.throws(
      () => vicinalNonLinearity([[1, 0]], [[1, 0]], [[1, 0]], [0.5, 0.5]),
      /lambda/,
    );
    assert.throws(
      () => vicinalNonLinearity([[1, 0]], [[1, 0, 0]], [[1, 0]], [0.5]),
      /pJ/,
    );
    assert.throws(
      () => vicinalNonLinearity([[1, 0]], [[1, 0]], [[1, 0]], [2]),
      /lambda\[0\]/,
    );
  });
});
