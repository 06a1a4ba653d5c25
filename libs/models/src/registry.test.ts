import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { ModelRegistryError, ModelSpecError } from './errors.js';
import { countParameters } from './parameters.js';
import { buildModel, listModels, registerModel } from './registry.js';
import { STUDENT_CNN } from './student-cnn.js';
import { TEACHER_CNN } from './teacher-cnn.js';

const spec = { inputShape: [28, 28, 1], numClasses: 10, seed: 7 };

before(async () => {
  await initBackend('wasm');
});

test('the registry lists the built-in teacher and student', () => {
  const names = listModels();
  assert.ok(names.includes(TEACHER_CNN));
  assert.ok(names.includes(STUDENT_CNN));
  assert.deepEqual(names, [...names].sort());
});

test('the student has 20-30k parameters and outputs logits [B, K]', () => {
  const model = buildModel(STUDENT_CNN, spec);
  const n = countParameters(model);
  assert.ok(n >= 20_000 && n <= 30_000, `student parameters ${n}`);
  assert.equal(n, model.countParams());
  assert.ok(countParameters(model, { trainableOnly: true }) < n);
  const y = tf.tidy(() => model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor);
  assert.deepEqual(y.shape, [3, 10]);
  y.dispose();
  model.dispose();
});

test('the teacher has several hundred thousand parameters, >= 10x the student', () => {
  const teacher = buildModel(TEACHER_CNN, spec);
  const student = buildModel(STUDENT_CNN, spec);
  const n = countParameters(teacher);
  assert.ok(n >= 200_000 && n <= 900_000, `teacher parameters ${n}`);
  assert.ok(n >= 10 * countParameters(student));
  const y = tf.tidy(() => teacher.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor);
  assert.deepEqual(y.shape, [2, 10]);
  y.dispose();
  teacher.dispose();
  student.dispose();
});

test('other shapes and class counts build (32x32x3, 5 classes)', () => {
  for (const name of [TEACHER_CNN, STUDENT_CNN]) {
    const model = buildModel(name, { inputShape: [32, 32, 3], numClasses: 5, seed: 1 });
    const y = tf.tidy(() => model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor);
    assert.deepEqual(y.shape, [1, 5], name);
    y.dispose();
    model.dispose();
  }
});

test('initial weights are a function of the seed', () => {
  const weights = (seed: number) => {
    const model = buildModel(STUDENT_CNN, { ...spec, seed });
    const values = model.getWeights().map((w) => Array.from(w.dataSync()));
    model.dispose();
    return values;
  };
  const a = weights(3);
  const b = weights(3);
  const c = weights(4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a[0], c[0]);
  // Different layers get different streams: the first two conv kernels do not
  // start with the same numbers.
  assert.notDeepEqual(a[0].slice(0, 8), a[5].slice(0, 8));
});

test('unknown names and bad specs are rejected with the field named', () => {
  assert.throws(
    () => buildModel('no-such-model', spec),
    (err: Error) => {
      assert.ok(err instanceof ModelRegistryError);
      assert.match(err.message, /no-such-model/);
      assert.match(err.message, /student-cnn/);
      return true;
    },
  );
  assert.throws(
    () => buildModel(STUDENT_CNN, { ...spec, inputShape: [28, 28] }),
    (err: Error) => err instanceof ModelSpecError && /inputShape/.test(err.message),
  );
  assert.throws(
    () => buildModel(STUDENT_CNN, { ...spec, numClasses: 1 }),
    (err: Error) => err instanceof ModelSpecError && /numClasses/.test(err.message),
  );
  assert.throws(
    () => buildModel(STUDENT_CNN, { ...spec, seed: 0.5 }),
    (err: Error) => err instanceof ModelSpecError && /seed/.test(err.message),
  );
});

test('registerModel adds a model and refuses to overwrite silently', () => {
  const build = () => {
    const input = tfl.input({ shape: [4, 4, 1] });
    const out = tfl.layers
      .dense({ units: 2 })
      .apply(tfl.layers.flatten().apply(input)) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: out });
  };
  registerModel('test-tiny', build);
  assert.ok(listModels().includes('test-tiny'));
  assert.throws(() => registerModel('test-tiny', build), ModelRegistryError);
  registerModel('test-tiny', build, { replace: true });
  assert.throws(() => registerModel('Bad Name', build), /name/);
  const model = buildModel('test-tiny', {
    inputShape: [4, 4, 1],
    numClasses: 2,
    seed: 1,
  });
  assert.equal(countParameters(model), 16 * 2 + 2);
  model.dispose();
});
