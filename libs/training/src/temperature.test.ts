import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heldOutTemperature } from './temperature.js';

/**
 * Rows whose labels are drawn from softmax(z): calibrated logits z. Logits
 * 3z are over-confident by a temperature of 3, which the fit should find.
 */
function overconfident(n: number, k: number, scale: number) {
  let s = 12345;
  const random = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const logits = new Float32Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: k }, () => 2 * (random() * 2 - 1));
    const e = z.map(Math.exp);
    const total = e.reduce((a, b) => a + b, 0);
    let u = random() * total;
    let label = k - 1;
    for (let c = 0; c < k; c++) {
      u -= e[c];
      if (u <= 0) {
        label = c;
        break;
      }
    }
    labels[i] = label;
    z.forEach((v, c) => {
      logits[i * k + c] = scale * v;
    });
  }
  return { logits, labels };
}

test('the temperature fitted on one half undoes over-confidence on the other', () => {
  const { logits, labels } = overconfident(6000, 5, 3);
  const fit = heldOutTemperature(logits, labels, 5, 7);
  assert.equal(fit.fitImages + fit.evalImages, 6000);
  assert.equal(fit.fitImages, 3000);
  assert.ok(Math.abs(fit.temperature - 3) < 0.3, `T = ${fit.temperature}`);
  assert.ok(fit.nllAfter < fit.nllBefore, `${fit.nllAfter} < ${fit.nllBefore}`);
  assert.ok(fit.eceAfter < fit.eceBefore / 2, `${fit.eceAfter} < ${fit.eceBefore} / 2`);
  // Calibrated logits need no scaling.
  const calibrated = overconfident(6000, 5, 1);
  const one = heldOutTemperature(calibrated.logits, calibrated.labels, 5, 7);
  assert.ok(Math.abs(one.temperature - 1) < 0.15, `T = ${one.temperature}`);
});

test('the split is a function of the seed', () => {
  const { logits, labels } = overconfident(1000, 4, 2);
  const a = heldOutTemperature(logits, labels, 4, 1);
  assert.deepEqual(heldOutTemperature(logits, labels, 4, 1), a);
  assert.notEqual(heldOutTemperature(logits, labels, 4, 2).nllBefore, a.nllBefore);
});
