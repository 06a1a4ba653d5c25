import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  initBackend,
  nativePixelMixer,
  setNativeKernelsActive,
  tf,
} from '@vicinal/backend';
import { normalisePixels, pixelTable, toNormalisedTensor } from '@vicinal/data';
import {
  mixedHardLabels,
  mixedHardLabelsArray,
  mixImages,
  mixImagesArray,
  mixPixelsNormalised,
  sampleMixing,
} from './mixup.js';
import { createRandom } from './random.js';

before(async () => {
  await initBackend('cpu');
});

function isPermutation(values: Int32Array): boolean {
  const seen = new Uint8Array(values.length);
  for (const v of values) {
    if (v < 0 || v >= values.length || seen[v]) return false;
    seen[v] = 1;
  }
  return true;
}

describe('sampleMixing', () => {
  test('partners form a permutation and lambdas lie in [0, 1]', () => {
    const random = createRandom(3);
    for (const size of [0, 1, 2, 7, 128]) {
      const { partner, lambda } = sampleMixing(random, size, { alpha: 0.4, p: 1 });
      assert.equal(partner.length, size);
      assert.equal(lambda.length, size);
      assert.ok(isPermutation(partner), `not a permutation: ${partner}`);
      for (const l of lambda) assert.ok(l >= 0 && l <= 1, `lambda ${l}`);
    }
  });

  test('p = 0 leaves every sample unmixed (lambda = 1)', () => {
    const { lambda } = sampleMixing(createRandom(5), 500, { alpha: 1, p: 0 });
    assert.ok(lambda.every((l) => l === 1));
  });

  test('p = 0.3 mixes about 30% of the samples', () => {
    const { lambda } = sampleMixing(createRandom(6), 20000, { alpha: 1, p: 0.3 });
    const mixed = lambda.filter((l) => l !== 1).length / lambda.length;
    assert.ok(Math.abs(mixed - 0.3) < 0.02, `mixed share ${mixed}`);
  });

  test('Beta(1, 1) lambdas are uniform: mean ~1/2, variance ~1/12', () => {
    const { lambda } = sampleMixing(createRandom(7), 20000, { alpha: 1, p: 1 });
    const mean = lambda.reduce((a, b) => a + b, 0) / lambda.length;
    const variance = lambda.reduce((a, b) => a + (b - mean) ** 2, 0) / lambda.length;
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / 12) < 0.005, `variance ${variance}`);
  });

  test('the same seed gives the same mixing; another seed does not', () => {
    const a = sampleMixing(createRandom(11), 64, { alpha: 0.2, p: 0.5 });
    const b = sampleMixing(createRandom(11), 64, { alpha: 0.2, p: 0.5 });
    const c = sampleMixing(createRandom(12), 64, { alpha: 0.2, p: 0.5 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.partner, c.partner);
  });

  test('rejects bad settings naming the field', () => {
    const random = createRandom(1);
    assert.throws(() => sampleMixing(random, 4, { alpha: 0, p: 1 }), /alpha/);
    assert.throws(() => sampleMixing(random, 4, { alpha: 1, p: 1.5 }), /p:/);
    assert.throws(() => sampleMixing(random, 2.5, { alpha: 1, p: 1 }), /batchSize/);
  });
});

describe('mixImages', () => {
  const shape = [6, 4, 3, 2] as const;
  const count = shape.reduce((a, b) => a * b, 1);
  const random = createRandom(21);
  const pixels = Uint8Array.from({ length: count }, () => random.int(256));
  const { partner, lambda } = sampleMixing(random, shape[0], { alpha: 0.7, p: 0.8 });

  test('computes lambda_i * x_i + (1 - lambda_i) * x_partner(i)', () => {
    const x = tf.tensor4d(Float32Array.from(pixels), [...shape]);
    const mixed = mixImages(x, partner, lambda);
    assert.deepEqual(mixed.shape, [...shape]);
    const got = mixed.dataSync();
    const per = count / shape[0];
    for (let i = 0; i < shape[0]; i++) {
      for (let k = 0; k < per; k++) {
        const want =
          lambda[i] * pixels[i * per + k] +
          (1 - lambda[i]) * pixels[partner[i] * per + k];
        assert.ok(Math.abs(got[i * per + k] - want) <= 1e-4, `row ${i} pixel ${k}`);
      }
    }
    tf.dispose([x, mixed]);
  });

  test('the tf and plain-array versions give the same float32 numbers', () => {
    const x = tf.tensor4d(Float32Array.from(pixels), [...shape]);
    const fromTf = mixImages(x, partner, lambda);
    const fromArray = mixImagesArray(pixels, partner, lambda);
    assert.deepEqual(Array.from(fromArray), Array.from(fromTf.dataSync()));
    // float32 inputs (e.g. normalised images) mix the same way
    const normalised = Float32Array.from(pixels, (v) => (v / 255 - 0.286) / 0.353);
    const xn = tf.tensor4d(normalised, [...shape]);
    const tfNormalised = mixImages(xn, partner, lambda).dataSync();
    const arrayNormalised = mixImagesArray(normalised, partner, lambda);
    for (let i = 0; i < count; i++) {
      const tolerance = 2 ** -22 * Math.max(1, Math.abs(arrayNormalised[i]));
      assert.ok(
        Math.abs(tfNormalised[i] - arrayNormalised[i]) <= tolerance,
        `value ${i}`,
      );
    }
    tf.dispose([x, fromTf, xn]);
  });

  test('lambda = 1 returns the input unchanged and leaks no tensors', () => {
    const x = tf.tensor4d(Float32Array.from(pixels), [...shape]);
    const before = tf.memory().numTensors;
    const ones = new Float32Array(shape[0]).fill(1);
    const mixed = mixImages(x, partner, ones);
    assert.equal(tf.memory().numTensors, before + 1);
    assert.deepEqual(Array.from(mixed.dataSync()), Array.from(pixels));
    tf.dispose([x, mixed]);
  });

  test('rejects a partner index out of range and a wrong-sized batch', () => {
    const x = tf.zeros([2, 2, 2, 1]);
    assert.throws(
      () => mixImages(x, Int32Array.from([0, 2]), Float32Array.from([1, 1])),
      /partner\[1\]/,
    );
    assert.throws(
      () => mixImages(x, Int32Array.from([0]), Float32Array.from([1])),
      /partner/,
    );
    assert.throws(
      () =>
        mixImagesArray(
          new Uint8Array(7),
          Int32Array.from([1, 0]),
          Float32Array.from([1, 1]),
        ),
      /images/,
    );
    x.dispose();
  });
});

describe('mixedHardLabels', () => {
  test('puts lambda on the own class and 1 - lambda on the partner class', () => {
    const labels = Uint8Array.from([2, 0, 2]);
    const partner = Int32Array.from([1, 2, 0]);
    const lambda = Float32Array.from([0.25, 1, 0.5]);
    const y = mixedHardLabels(labels, partner, lambda, 3);
    assert.deepEqual(y.shape, [3, 3]);
    assert.deepEqual(Array.from(y.dataSync()), [0.75, 0, 0.25, 1, 0, 0, 0, 0, 1]);
    y.dispose();
  });

  test('every row sums to 1 and a bad label is named', () => {
    const random = createRandom(2);
    const labels = Array.from({ length: 50 }, () => random.int(10));
    const { partner, lambda } = sampleMixing(random, 50, { alpha: 1, p: 1 });
    const rows = mixedHardLabelsArray(labels, partner, lambda, 10);
    for (let i = 0; i < 50; i++) {
      const sum = rows.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-6, `row ${i} sums to ${sum}`);
    }
    const swap = Int32Array.from([1, 0]);
    const half = Float32Array.from([0.5, 0.5]);
    assert.throws(() => mixedHardLabelsArray([0, 10], swap, half, 10), /labels\[1\]/);
  });
});

describe('mixPixelsNormalised', () => {
  // Both the addon's loop (when built) and the TypeScript one.
  const paths = [
    { name: 'typescript', native: false },
    ...(nativePixelMixer() ? [{ name: 'native', native: true }] : []),
  ];
  for (const path of paths) {
    test(`gives the float32 numbers of normalising, then mixing (${path.name})`, () => {
      const previous = setNativeKernelsActive(path.native);
      try {
        assert.equal(nativePixelMixer() !== null, path.native);
        const random = createRandom(11);
        for (const [mean, std] of [
          [[0.286], [0.353]],
          [
            [0.49, 0.48, 0.45],
            [0.25, 0.24, 0.26],
          ],
        ]) {
          const channels = mean.length;
          const rows = 37;
          const pixels = 5 * 4 * channels;
          const images = Uint8Array.from({ length: rows * pixels }, () =>
            random.int(256),
          );
          const { partner, lambda } = sampleMixing(random, rows, { alpha: 1, p: 0.8 });
          const want = mixImagesArray(
            normalisePixels(images, mean, std),
            partner,
            lambda,
          );
          const got = mixPixelsNormalised(
            images,
            pixelTable(mean, std),
            channels,
            partner,
            lambda,
          );
          assert.deepEqual(Array.from(got), Array.from(want), `${channels} channels`);
        }
      } finally {
        setNativeKernelsActive(previous);
      }
    });
  }

  test('gives the numbers of the tf ops it replaces in a training step', () => {
    // The trainer once built its input as toNormalisedTensor + mixImages;
    // mixPixelsNormalised replaced both, so a seeded run trains on the same
    // floats.
    const random = createRandom(5);
    const rows = 64;
    const shape = [6, 5, 1] as const;
    const images = Uint8Array.from({ length: rows * 30 }, () => random.int(256));
    const { partner, lambda } = sampleMixing(random, rows, { alpha: 1, p: 0.9 });
    const mean = [0.286];
    const std = [0.353];
    const fromTf = tf.tidy(() =>
      mixImages(toNormalisedTensor(tf, images, mean, std, shape), partner, lambda),
    );
    const want = Array.from(fromTf.dataSync());
    fromTf.dispose();
    const got = mixPixelsNormalised(images, pixelTable(mean, std), 1, partner, lambda);
    assert.ok(
      lambda.some((l) => l > 0 && l < 1),
      'no row is mixed; the test compares nothing',
    );
    assert.deepEqual(Array.from(got), want);
  });

  test('a table, images or output of the wrong size are named', () => {
    const partner = Int32Array.from([1, 0]);
    const lambda = Float32Array.from([0.3, 0.7]);
    const table = pixelTable([0.5], [0.5]);
    const images = new Uint8Array(2 * 6);
    assert.throws(
      () => mixPixelsNormalised(images, table, 3, partner, lambda),
      /table: expected 256 values per channel for 3 channels, got 256/,
    );
    assert.throws(
      () => mixPixelsNormalised(new Uint8Array(7), table, 1, partner, lambda),
      /images: expected 2 images/,
    );
    assert.throws(
      () => mixPixelsNormalised(images, table, 1, partner, lambda, new Float32Array(3)),
      /out: expected 12 values, got 3/,
    );
  });
});
