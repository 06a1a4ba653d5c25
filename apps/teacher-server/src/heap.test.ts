import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tuneServingHeap } from './heap.js';

test('the heap growing percent is checked', () => {
  for (const bad of [-1, 2.5, 1001, Number.NaN]) {
    assert.throws(
      () => tuneServingHeap(bad),
      /heap growing percent: expected an integer in 0\.\.1000, got/,
    );
  }
});

test('0 leaves V8 alone; a valid percent is accepted', () => {
  tuneServingHeap(0);
  tuneServingHeap(100);
});
