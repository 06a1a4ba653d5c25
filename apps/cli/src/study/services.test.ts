import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { lastLogLines, logPointer } from './services.js';

test('a failed service is described by the last lines of its log', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vicinal-log-'));
  try {
    const log = join(dir, 'teacher.log');
    writeFileSync(log, 'starting\n\nloading model\nrefuses to start: bad setting\n\n');
    assert.equal(lastLogLines(log, 2), 'loading model\nrefuses to start: bad setting');
    assert.equal(lastLogLines(join(dir, 'missing.log')), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a dead service points to its log only when the log says something', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vicinal-log-'));
  try {
    const log = join(dir, 'teacher.log');
    writeFileSync(log, '\n\n');
    assert.equal(logPointer(log), `it wrote nothing to ${log}`);
    assert.equal(
      logPointer(join(dir, 'missing.log')),
      `it wrote nothing to ${join(dir, 'missing.log')}`,
    );
    writeFileSync(log, 'inference thread failed\n');
    assert.equal(logPointer(log), `see ${log}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
