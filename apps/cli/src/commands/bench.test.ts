import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchCommand, parseReps, parseSections } from './bench.js';

test('--reps takes a whole number in [1, 100]', () => {
  assert.equal(parseReps(undefined), undefined);
  assert.equal(parseReps('7'), 7);
  for (const bad of ['0', '101', '2.5', 'five', '-3', '']) {
    assert.throws(() => parseReps(bad), /--reps: expected an integer in \[1, 100\]/);
  }
});

test('--sections takes a comma-separated subset of the sections', () => {
  assert.equal(parseSections(undefined), undefined);
  assert.deepEqual(parseSections('wire'), ['wire']);
  assert.deepEqual(parseSections('student, server'), ['student', 'server']);
  assert.throws(() => parseSections('wire,gpu'), /--sections: expected .* got "gpu"/);
  assert.throws(() => parseSections(','), /--sections: expected at least one section/);
});

test('the command offers --json, --quick and --reps', () => {
  const command = benchCommand();
  assert.equal(command.name(), 'bench');
  const flags = command.options.map((o) => o.long);
  for (const flag of ['--json', '--quick', '--reps', '--sections', '--out']) {
    assert.ok(flags.includes(flag), flag);
  }
});
