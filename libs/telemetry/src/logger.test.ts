import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LOG_LEVELS, logLevel } from './logger.js';

const logger = join(dirname(fileURLToPath(import.meta.url)), 'logger.ts');

/** Runs `body` as an ES module with createLogger imported, VICINAL_LOG_LEVEL=`level`. */
function run(level: string, body: string) {
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      '--input-type=module',
      '-e',
      `import { createLogger } from ${JSON.stringify(logger)};\n${body}`,
    ],
    {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? '', VICINAL_LOG_LEVEL: level },
    },
  );
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

test('log levels: the default when unset or empty, any case, null when unknown', () => {
  assert.equal(logLevel(undefined), 'warn');
  assert.equal(logLevel(''), 'warn');
  assert.equal(logLevel(' INFO '), 'info');
  assert.equal(logLevel('silent'), 'silent');
  assert.equal(logLevel('loud'), null);
  for (const level of LOG_LEVELS) assert.equal(logLevel(level), level);
});

test('an unknown VICINAL_LOG_LEVEL: logging at info, one warning naming the variable and the levels', () => {
  const result = run(
    'loud',
    `createLogger('first').info('one');
     createLogger('second').debug('hidden');
     createLogger('second').info('two');`,
  );
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stderr
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    lines.map((l) => [l.level, l.name, l.msg]),
    [
      [
        40,
        'first',
        'VICINAL_LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, ' +
          'silent, got "loud"; logging at "info"',
      ],
      [30, 'first', 'one'],
      [30, 'second', 'two'],
    ],
  );
});

test('an unknown VICINAL_LOG_LEVEL warns only once something is logged', () => {
  // A service refuses the level before it logs: only its refusal is printed.
  const result = run(
    'loud',
    `createLogger('quiet'); createLogger('quieter').debug('hidden');`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
});

test('a known VICINAL_LOG_LEVEL is used as it is, without a warning', () => {
  const result = run(
    'ERROR',
    `createLogger('x').warn('quiet'); createLogger('x').error('loud');`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).msg),
    ['loud'],
  );
});
