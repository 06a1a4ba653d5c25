import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  accuracy,
  brierScore,
  calibrationMetrics,
  calibrationReport,
  expectedCalibrationError,
  maxCalibrationError,
  negativeLogLikelihood,
  reliabilityBins,
} from './calibration.js';
import { MetricInputError } from './matrix.js';
import { softmax } from './softmax.js';

// The shared reference vectors sit next to the repository (see README).
const vectorsPath =
  process.env.VICINAL_VECTORS ??
  new URL('../../../../shared/vectors/metrics-and-losses.json', import.meta.url).pathname;
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8'));
const calibration = vectors.calibration as {
  n_bins: number;
  probs: number[][];
  labels: number[];
  expected: Record<string, number> & {
    bin_counts: number[];
    bin_accuracy: number[];
    bin_confidence: number[];
  };
};
const ABSOLUTE = 1e-6;

function close(
  actual: number,
  expected: number,
  what: string,
  tolerance = ABSOLUTE,
): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${expected}, got ${actual}`,
  );
}

describe('calibration metrics reproduce the reference vectors', () => {
  const { probs, labels, expected } = calibration;
  const metrics = calibrationMetrics(probs, labels, { numBins: calibration.n_bins });

  test('scalar metrics within 1e-6', () => {
    close(metrics.accuracy, expected.accuracy, 'accuracy');
    close(metrics.avgConfidence, expected.avg_confidence, 'avg_confidence');
    close(metrics.ece, expected.ece, 'ece');
    close(metrics.mce, expected.mce, 'mce');
    close(metrics.overconfidence, expected.confidence_minus_accuracy, 'conf - acc');
    close(metrics.nll, expected.nll, 'nll');
    close(metrics.brier, expected.brier, 'brier');
  });

  test('bin counts exactly, bin accuracy and confidence within 1e-6', () => {
    assert.deepEqual(metrics.bins.counts, expected.bin_counts);
    metrics.bins.accuracy.forEach((v, b) => {
      close(v, expected.bin_accuracy[b], `acc[${b}]`);
    });
    metrics.bins.confidence.forEach((v, b) => {
      close(v, expected.bin_confidence[b], `conf[${b}]`);
    });
    assert.equal(metrics.bins.lower[14], 14 / 15);
    assert.equal(metrics.bins.upper[14], 1);
  });

  test('the single-metric functions agree, also on a flat Float64Array', () => {
    const flat = Float64Array.from(probs.flat());
    assert.equal(accuracy(flat, labels), metrics.accuracy);
    assert.equal(expectedCalibrationError(flat, labels), metrics.ece);
    assert.equal(maxCalibrationError(probs, labels), metrics.mce);
    assert.equal(negativeLogLikelihood(flat, labels), metrics.nll);
    assert.equal(brierScore(probs, labels), metrics.brier);
    assert.deepEqual(reliabilityBins(flat, Int32Array.from(labels)), metrics.bins);
  });
});

describe('calibration rules', () => {
  test('prediction is the first index of the maximum', () => {
    const probs = [
      [0.4, 0.4, 0.2],
      [0.2, 0.4, 0.4],
    ];
    assert.equal(accuracy(probs, [0, 1]), 1);
    assert.equal(accuracy(probs, [1, 2]), 0);
  });

  test('a confidence on a bin edge opens the upper bin; 1 is in the last bin', () => {
    // confidences 0.2 (= 3/15), 1/3 (= 5/15) and 1
    const probs = [
      [0.2, 0.2, 0.2, 0.2, 0.2],
      [1 / 3, 1 / 3, 1 / 3, 0, 0],
      [1, 0, 0, 0, 0],
    ];
    const { counts } = reliabilityBins(probs, [0, 1, 0]);
    const want = new Array(15).fill(0);
    want[3] = 1;
    want[5] = 1;
    want[14] = 1;
    assert.deepEqual(counts, want);
  });

  test('hand-computed example: ECE, MCE, over-confidence, NLL, Brier', () => {
    const probs = [
      [0.9, 0.1],
      [0.8, 0.2],
      [0.3, 0.7],
      [0.6, 0.4],
    ];
    const labels = [0, 1, 1, 0];
    const m = calibrationMetrics(probs, labels, { numBins: 2 });
    // all confidences >= 0.5: one bin, accuracy 3/4, confidence 0.75
    assert.deepEqual(m.bins.counts, [0, 4]);
    close(m.ece, 0, 'ece');
    close(m.mce, 0, 'mce');
    close(m.overconfidence, 0, 'overconfidence');
    const nll = -(Math.log(0.9) + Math.log(0.2) + Math.log(0.7) + Math.log(0.6)) / 4;
    close(m.nll, nll, 'nll', 1e-15);
    const brier = (2 * 0.01 + 2 * 0.64 + 2 * 0.09 + 2 * 0.16) / 4;
    close(m.brier, brier, 'brier', 1e-15);
    const m10 = calibrationMetrics(probs, labels, { numBins: 10 });
    // bins 9 (0.9: right), 8 (0.8: wrong), 7 (0.7: right), 6 (0.6: right)
    close(m10.ece, (0.1 + 0.8 + 0.3 + 0.4) / 4, 'ece 10 bins');
    close(m10.mce, 0.8, 'mce 10 bins');
  });

  test('a zero probability on the label gives a finite NLL (floor 1e-12)', () => {
    const nll = negativeLogLikelihood([[1, 0]], [1]);
    close(nll, -Math.log(1e-12), 'nll', 1e-12);
  });

  test('bad inputs are rejected with the field named', () => {
    assert.throws(() => calibrationMetrics([[0.5, 0.5]], [2]), /labels\[0\]/);
    assert.throws(() => calibrationMetrics([[0.5, 0.5]], [0, 1]), /labels: expected 1/);
    assert.throws(
      () => calibrationMetrics([[0.5, 0.5], [1]], [0, 1]),
      (err) => err instanceof MetricInputError && /probabilities\[1\]/.test(err.message),
    );
    assert.throws(
      () => calibrationMetrics([[0.5, Number.NaN]], [0]),
      /probabilities\[0\]\[1\]/,
    );
    assert.throws(() => calibrationMetrics(new Float32Array(5), [0, 1]), /probabilities/);
    assert.throws(() => calibrationMetrics([[1, 0]], [0], { numBins: 0 }), /numBins/);
  });
});

describe('softmax and calibrationReport', () => {
  test('softmax rows sum to 1, follow the temperature and survive large logits', () => {
    const p = softmax([[1000, 1001, 999]], 1);
    close(p[0] + p[1] + p[2], 1, 'sum', 1e-15);
    close(p[1] / p[0], Math.E, 'ratio', 1e-12);
    const hot = softmax(Float32Array.from([0, 2]), 2, 2);
    close(hot[1] / hot[0], Math.E, 'ratio at T=2', 1e-12);
    assert.throws(() => softmax(Float32Array.from([0, 1])), /numClasses/);
    assert.throws(() => softmax([[0, 1]], 0), /temperature/);
  });

  test('from logits equals the metrics of softmax(logits)', () => {
    const logits = vectors.temperature_scaling.logits as number[][];
    const labels = vectors.temperature_scaling.labels as number[];
    const flat = Float32Array.from(logits.flat());
    const report = calibrationReport(flat, labels, 10);
    const viaProbabilities = calibrationMetrics(softmax(flat, 1, 10), labels);
    assert.equal(report.input, 'logits');
    assert.equal(report.count, labels.length);
    assert.equal(report.numClasses, 10);
    for (const key of [
      'accuracy',
      'avgConfidence',
      'ece',
      'mce',
      'nll',
      'brier',
    ] as const) {
      close(report[key], viaProbabilities[key], key, 1e-12);
    }
    assert.deepEqual(report.bins.counts, viaProbabilities.bins.counts);
    // its nll at T = 1 is the temperature-scaling vector's nll_before
    close(report.nll, vectors.temperature_scaling.expected.nll_before, 'nll', 1e-6);
    // plain object, JSON round-trips
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  test('from probabilities reproduces the vectors', () => {
    const report = calibrationReport(calibration.probs, calibration.labels, {
      input: 'probabilities',
    });
    close(report.ece, calibration.expected.ece, 'ece');
    assert.equal(report.input, 'probabilities');
  });
});
