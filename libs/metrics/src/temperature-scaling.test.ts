import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fitTemperature, nllAtTemperature } from './temperature-scaling.js';

const vectorsPath =
  process.env.VICINAL_VECTORS ??
  new URL('../../../../shared/vectors/metrics-and-losses.json', import.meta.url).pathname;
const scaling = JSON.parse(readFileSync(vectorsPath, 'utf8')).temperature_scaling as {
  logits: number[][];
  labels: number[];
  expected: { temperature: number; nll_before: number; nll_after: number };
};

describe('fitTemperature', () => {
  test('reproduces the reference temperature and NLLs', () => {
    const fit = fitTemperature(scaling.logits, scaling.labels);
    const { expected } = scaling;
    assert.ok(
      Math.abs(fit.temperature - expected.temperature) <= 2e-3,
      `temperature ${fit.temperature} vs ${expected.temperature}`,
    );
    assert.ok(Math.abs(fit.nllBefore - expected.nll_before) <= 1e-6, `${fit.nllBefore}`);
    assert.ok(Math.abs(fit.nllAfter - expected.nll_after) <= 1e-6, `${fit.nllAfter}`);
  });

  test('finds the minimum: nearby temperatures give a higher NLL', () => {
    const fit = fitTemperature(scaling.logits, scaling.labels);
    for (const factor of [0.99, 1.01]) {
      const nearby = nllAtTemperature(
        scaling.logits,
        scaling.labels,
        fit.temperature * factor,
      );
      assert.ok(nearby > fit.nllAfter, `T*${factor}: ${nearby} <= ${fit.nllAfter}`);
    }
  });

  test('recovers the temperature that made synthetic logits calibrated', () => {
    // labels drawn from softmax(z) and logits reported as 3z: the best T is ~3
    let state = 12345;
    const next = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 4294967296;
    };
    const n = 4000;
    const k = 4;
    const logits = new Float64Array(n * k);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const z = Array.from({ length: k }, () => 2 * (next() - 0.5) * 2);
      const weights = z.map(Math.exp);
      const total = weights.reduce((a, b) => a + b, 0);
      let u = next() * total;
      let y = 0;
      while (y < k - 1 && u >= weights[y]) u -= weights[y++];
      labels[i] = y;
      z.forEach((v, c) => {
        logits[i * k + c] = 3 * v;
      });
    }
    const fit = fitTemperature(logits, labels);
    assert.ok(Math.abs(fit.temperature - 3) < 0.3, `temperature ${fit.temperature}`);
    assert.ok(fit.nllAfter < fit.nllBefore);
  });

  test('rejects a bad search interval', () => {
    assert.throws(
      () => fitTemperature([[0, 1]], [1], { minTemperature: 2, maxTemperature: 1 }),
      /minTemperature/,
    );
    assert.throws(
      () => fitTemperature([[0, 1]], [1], { minTemperature: 0 }),
      /temperature/,
    );
  });
});
