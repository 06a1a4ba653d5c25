import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { readyBackends } from './reference.js';

before(readyBackends);

test('clone shares the buffer and each copy outlives the other', () => {
  const backend = tf.engine().backend;
  const before = backend.numDataIds();
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  assert.equal(backend.numDataIds(), before + 1, 'one buffer for both');
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  const c = tf.clone(b);
  b.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3]);
  c.dispose();
  assert.equal(backend.numDataIds(), before);
});

test('a variable assigned after a clone leaves the clone unchanged', () => {
  const v = tf.variable(tf.tensor1d([1, 2]));
  const snapshot = tf.clone(v);
  v.assign(tf.tensor1d([5, 6]));
  assert.deepEqual(Array.from(snapshot.dataSync()), [1, 2]);
  assert.deepEqual(Array.from(v.dataSync()), [5, 6]);
  tf.dispose([v, snapshot]);
});

test('a same-dtype cast shares the buffer, a real cast converts', () => {
  const backend = tf.engine().backend;
  const a = tf.tensor1d([1.5, -2, 0]);
  const before = backend.numDataIds();
  const same = tf.cast(a, 'float32');
  assert.equal(backend.numDataIds(), before);
  const ints = tf.cast(a, 'int32');
  assert.equal(ints.dtype, 'int32');
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 0]);
  a.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2, 0]);
  tf.dispose([same, ints]);
});
