import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { benchCommand, checkOutFile, parseReps, parseSections } from './bench.js';

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

test('--out is checked before anything runs: a file in an existing directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vicinal-bench-out-'));
  try {
    assert.equal(checkOutFile(undefined), undefined);
    assert.equal(checkOutFile(join(dir, 'report.json')), join(dir, 'report.json'));
    assert.throws(() => checkOutFile(dir), /--out: expected a file .*got a directory/);
    assert.throws(
      () => checkOutFile(join(dir, 'missing', 'report.json')),
      /--out: expected a file in an existing directory/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
