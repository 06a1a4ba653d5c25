import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkMetadata, type TeacherMetadata } from './metadata.js';

const good: TeacherMetadata = {
  model: 't',
  version: '1',
  architecture: 'cnn',
  parameters: 10,
  inputShape: [28, 28, 1],
  numClasses: 2,
  classNames: ['a', 'b'],
  mean: [0.5],
  std: [0.5],
  dataset: 'd',
  backend: 'cpu',
};

test('consistent metadata passes', () => {
  checkMetadata(good);
  checkMetadata({ ...good, classNames: [] });
});

test('each inconsistency names the field, expected and received', () => {
  const cases: [Partial<TeacherMetadata>, string][] = [
    [
      { inputShape: [28, 28, 0] },
      'metadata.inputShape: expected [H, W, C] of positive integers',
    ],
    [
      { numClasses: 0, classNames: [] },
      'metadata.numClasses: expected an integer >= 1, got 0',
    ],
    [{ classNames: ['a'] }, 'metadata.classNames: expected 2 names (or none), got 1'],
    [{ mean: [0.1, 0.2] }, 'metadata.mean: expected 1 finite values (one per channel)'],
    [
      { std: [0] },
      'metadata.std: expected 1 finite values > 0 (one per channel), got [0]',
    ],
    [{ model: '' }, 'metadata.model: expected a non-empty name, got ""'],
  ];
  for (const [change, message] of cases) {
    assert.throws(
      () => checkMetadata({ ...good, ...change }),
      (err: unknown) => err instanceof RangeError && err.message.startsWith(message),
      message,
    );
  }
});
