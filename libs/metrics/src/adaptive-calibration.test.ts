import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adaptiveCalibration, adaptiveCalibrationError } from './adaptive-calibration.js';
import { expectedCalibrationError } from './calibration.js';

function close(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= 1e-12,
    `${what}: expected ${expected}, got ${actual}`,
  );
}

describe('adaptiveCalibrationError', () => {
  // confidences and hits: 0.9 right, 0.6 wrong, 0.7 right, 0.55 right,
  // 0.8 wrong, 0.95 right
  const probs = [
    [0.9, 0.1],
    [0.6, 0.4],
    [0.3, 0.7],
    [0.55, 0.45],
    [0.2, 0.8],
    [0.95, 0.05],
  ];
  const labels = [0, 1, 1, 0, 0, 0];

  test('three equal-mass bins of two, by hand', () => {
    // sorted: 0.55 R, 0.6 W | 0.7 R, 0.8 W | 0.9 R, 0.95 R
    const result = adaptiveCalibration(probs, labels, { numBins: 3 });
    assert.deepEqual(result.bins.counts, [2, 2, 2]);
    assert.deepEqual(result.bins.lower, [0.55, 0.7, 0.9]);
    assert.deepEqual(result.bins.upper, [0.6, 0.8, 0.95]);
    assert.deepEqual(result.bins.accuracy, [0.5, 0.5, 1]);
    close(result.bins.confidence[0], 0.575, 'conf[0]');
    close(result.bins.confidence[1], 0.75, 'conf[1]');
    close(result.bins.confidence[2], 0.925, 'conf[2]');
    close(result.ece, (2 * 0.075 + 2 * 0.25 + 2 * 0.075) / 6, 'ece');
    close(result.mce, 0.25, 'mce');
    close(adaptiveCalibrationError(probs, labels, { numBins: 3 }), result.ece, 'ece');
  });

  test('uneven split: 5 rows in 2 bins are 2 + 3', () => {
    const five = probs.slice(0, 5);
    const result = adaptiveCalibration(five, labels.slice(0, 5), { numBins: 2 });
    // sorted: 0.55 R, 0.6 W | 0.7 R, 0.8 W, 0.9 R
    assert.deepEqual(result.bins.counts, [2, 3]);
    const gap0 = Math.abs(0.5 - 0.575);
    const gap1 = Math.abs(2 / 3 - 0.8);
    close(result.ece, (2 * gap0 + 3 * gap1) / 5, 'ece');
  });

  test('fewer rows than bins: each row is its own bin, empty bins left out', () => {
    const result = adaptiveCalibration(probs.slice(0, 2), [0, 1], { numBins: 15 });
    assert.deepEqual(result.bins.counts, [1, 1]);
    close(result.ece, (Math.abs(0 - 0.6) + Math.abs(1 - 0.9)) / 2, 'ece');
  });

  test('one bin equals |mean confidence - accuracy| and the equal-width one-bin ECE', () => {
    const one = adaptiveCalibrationError(probs, labels, { numBins: 1 });
    const mean = (0.9 + 0.6 + 0.7 + 0.55 + 0.8 + 0.95) / 6;
    close(one, Math.abs(mean - 4 / 6), 'ece');
    close(one, expectedCalibrationError(probs, labels, 1), 'equal-width');
  });

  test('flat input, default 15 bins, and bad options named', () => {
    const flat = Float64Array.from(probs.flat());
    close(
      adaptiveCalibrationError(flat, labels),
      adaptiveCalibrationError(probs, labels, { numBins: 15 }),
      'flat',
    );
    assert.throws(
      () => adaptiveCalibrationError(probs, labels, { numBins: 0 }),
      /numBins/,
    );
    assert.throws(() => adaptiveCalibrationError(probs, [0, 1]), /labels/);
  });
});
