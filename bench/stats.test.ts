import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  median,
  modeOrder,
  quantile,
  ratio,
  significant,
  steadyState,
  summarise,
} from './stats.js';

test('median of odd and even counts, in any order', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
});

test('quantiles interpolate linearly between sorted values', () => {
  const values = [10, 20, 30, 40, 50];
  assert.equal(quantile(values, 0), 10);
  assert.equal(quantile(values, 1), 50);
  assert.equal(quantile(values, 0.25), 20);
  assert.equal(quantile(values, 0.1), 14);
  assert.equal(quantile([1, 2], 0.99), 1.99);
});

test('summary holds median, extremes and quartiles and keeps the input intact', () => {
  const values = [5, 1, 4, 2, 3];
  assert.deepEqual(summarise(values), {
    n: 5,
    median: 3,
    min: 1,
    max: 5,
    p25: 2,
    p75: 4,
  });
  assert.deepEqual(values, [5, 1, 4, 2, 3]);
});

test('empty, non-finite and out-of-range inputs are refused by name', () => {
  assert.throws(() => summarise([]), /values: expected at least one/);
  assert.throws(() => median([1, Number.NaN]), /values\[1\]: expected a finite number/);
  assert.throws(() => quantile([1], 1.5), /q: expected a value in \[0, 1\]/);
});

test('ratio of medians with bounds from the extremes', () => {
  const fast = summarise([90, 100, 110]);
  const slow = summarise([45, 50, 60]);
  const r = ratio(fast, slow);
  assert.equal(r.value, 2);
  assert.equal(r.low, 90 / 60);
  assert.equal(r.high, 110 / 45);
  assert.throws(
    () => ratio(fast, summarise([0, 1, 2])),
    /denominator: expected positive/,
  );
});

test('significant digits', () => {
  assert.equal(significant(1234.5678, 3), 1230);
  assert.equal(significant(0.000123456, 2), 0.00012);
  assert.equal(significant(0), 0);
});

test('mode order: over 4 repetitions each mode runs in every position and after every other once', () => {
  const modes = ['none', 'in-process', 'remote', 'free'];
  assert.deepEqual(modeOrder(modes, 1), ['none', 'free', 'in-process', 'remote']);
  assert.deepEqual(modeOrder(modes, 5), modeOrder(modes, 1));
  const positions = new Map<string, Set<number>>();
  const pairs = new Set<string>();
  for (let rep = 1; rep <= 4; rep++) {
    const order = modeOrder(modes, rep);
    assert.deepEqual([...order].sort(), [...modes].sort(), `rep ${rep} holds every mode`);
    order.forEach((m, i) => {
      positions.set(m, (positions.get(m) ?? new Set()).add(i));
      if (i > 0) pairs.add(`${order[i - 1]} -> ${m}`);
    });
  }
  for (const m of modes)
    assert.equal(positions.get(m)?.size, 4, `${m} in every position`);
  assert.equal(pairs.size, 12, 'every ordered pair of modes once');
  assert.deepEqual(modeOrder([], 3), []);
  assert.throws(() => modeOrder(modes, 0), /rep: expected an integer >= 1, got 0/);
});

test('steadyState counts the samples after the first step over the time after it', () => {
  // Four steps of 128: the first ends at 100 ms (a slow start), then one
  // step every 40 ms. Steady state is 3 steps in 120 ms, whatever the start.
  assert.equal(steadyState([100, 140, 180, 220], 4, 128), (3 * 128) / 0.12);
  assert.equal(steadyState([5000, 5040, 5080, 5120], 4, 128), (3 * 128) / 0.12);
  assert.throws(() => steadyState([100], 1, 128), /at least 2 steps, got 1 for 1 steps/);
  assert.throws(() => steadyState([100, 140], 3, 128), /got 2 for 3 steps/);
  assert.throws(() => steadyState([100, 100], 2, 128), /increasing times/);
});
