import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend, tf } from '@vicinal/backend';
import {
  decodeArtifact,
  encodeArtifact,
  packArtifact,
  unpackArtifact,
} from './artifact.js';
import { ArtifactError } from './errors.js';
import { countParameters } from './parameters.js';
import { buildModel } from './registry.js';
import { loadModelFromBytes, saveModelToBytes } from './serialization.js';
import { STUDENT_CNN } from './student-cnn.js';
import { TEACHER_CNN } from './teacher-cnn.js';

before(async () => {
  await initBackend('wasm');
});

/** A fixed, non-trivial input batch. */
function batch(n: number): tf.Tensor4D {
  const values = new Float32Array(n * 28 * 28);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.37) * 1.5;
  return tf.tensor4d(values, [n, 28, 28, 1]);
}

/**
 * Moves the batchnorm statistics and weights away from their initial values
 * with two training steps, so a round trip that dropped them would show.
 */
function perturb(model: ReturnType<typeof buildModel>): void {
  const opt = tf.train.sgd(0.05);
  const x = batch(8);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
  for (let i = 0; i < 2; i++) {
    opt.minimize(() => {
      const logits = model.apply(x, { training: true }) as tf.Tensor;
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    });
  }
  tf.dispose([x, labels]);
  opt.dispose();
}

function predict(model: ReturnType<typeof buildModel>): Float32Array {
  return tf.tidy(() => (model.predict(batch(4)) as tf.Tensor).dataSync() as Float32Array);
}

test('saveModelToBytes / loadModelFromBytes round trip gives identical predictions', async () => {
  for (const name of [STUDENT_CNN, TEACHER_CNN]) {
    const model = buildModel(name, { inputShape: [28, 28, 1], numClasses: 10, seed: 11 });
    perturb(model);
    const bytes = await saveModelToBytes(model);
    assert.equal(bytes.weights.byteLength, countParameters(model) * 4);
    const json = JSON.parse(bytes.modelJson);
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const loaded = await loadModelFromBytes(bytes);
    assert.equal(countParameters(loaded), countParameters(model));
    assert.deepEqual(predict(loaded), predict(model), name);
    model.dispose();
    loaded.dispose();
  }
});

test('encodeArtifact / decodeArtifact round trip gives identical predictions', async () => {
  const model = buildModel(STUDENT_CNN, {
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: 2,
  });
  perturb(model);
  const artifact = await encodeArtifact(model);
  assert.equal(new TextDecoder().decode(artifact.subarray(0, 4)), 'VCNL');
  const loaded = await decodeArtifact(artifact);
  assert.deepEqual(predict(loaded), predict(model));
  // Packing is deterministic and unpacking returns the same weights.
  const bytes = await saveModelToBytes(model);
  assert.deepEqual(packArtifact(bytes), await encodeArtifact(bytes));
  assert.deepEqual(unpackArtifact(artifact).weights, bytes.weights);
  model.dispose();
  loaded.dispose();
});

test('a truncated or corrupted artifact fails with a clear ArtifactError', async () => {
  const model = buildModel(STUDENT_CNN, {
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: 3,
  });
  const artifact = await encodeArtifact(model);
  model.dispose();

  const cut = artifact.subarray(0, artifact.length - 100);
  assert.throws(
    () => unpackArtifact(cut),
    (err: Error) => {
      assert.ok(err instanceof ArtifactError);
      assert.match(err.message, /truncated/);
      assert.match(err.message, new RegExp(`expected ${artifact.length} bytes`));
      assert.match(err.message, new RegExp(`got ${artifact.length - 100}`));
      return true;
    },
  );
  await assert.rejects(decodeArtifact(cut), ArtifactError);
  assert.throws(
    () => unpackArtifact(artifact.subarray(0, 20)),
    /truncated, header needs/,
  );
  assert.throws(
    () => unpackArtifact(artifact.subarray(0, 3)),
    /truncated, expected at least 8/,
  );
  assert.throws(() => unpackArtifact(new Uint8Array(0)), ArtifactError);

  const extra = new Uint8Array(artifact.length + 1);
  extra.set(artifact);
  assert.throws(() => unpackArtifact(extra), /trailing bytes/);

  const flipped = artifact.slice();
  flipped[flipped.length - 5] ^= 0xff;
  assert.throws(() => unpackArtifact(flipped), /checksum mismatch/);

  const wrongMagic = artifact.slice();
  wrongMagic[0] = 0x58;
  assert.throws(() => unpackArtifact(wrongMagic), /expected magic "VCNL", got "XCNL"$/);
  // Bytes that are not printable text are shown in hex, not as raw binary.
  const binary = artifact.slice();
  binary.set([0x45, 0xf3, 0x4c, 0x00]);
  assert.throws(
    () => unpackArtifact(binary),
    /expected magic "VCNL", got bytes 45 f3 4c 00 \(hex\)$/,
  );

  assert.throws(
    () => unpackArtifact('not bytes' as unknown as Uint8Array),
    /expected a Uint8Array, got "not bytes"/,
  );
});

test('loadModelFromBytes checks the weights length against the manifest', async () => {
  const model = buildModel(STUDENT_CNN, {
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: 4,
  });
  const bytes = await saveModelToBytes(model);
  model.dispose();
  await assert.rejects(
    loadModelFromBytes({
      modelJson: bytes.modelJson,
      weights: bytes.weights.subarray(8),
    }),
    (err: Error) =>
      err instanceof ArtifactError &&
      err.message.includes(`expected ${bytes.weights.byteLength} bytes`) &&
      err.message.includes(`got ${bytes.weights.byteLength - 8}`),
  );
  await assert.rejects(
    loadModelFromBytes({ modelJson: '{"modelTopology":', weights: bytes.weights }),
    /modelJson: not valid JSON/,
  );
});
