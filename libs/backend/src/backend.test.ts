import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const backendModule = join(dirname(fileURLToPath(import.meta.url)), 'index.ts');

/**
 * The keys of a JSON object line, in order and with repeats, as written:
 * JSON.parse keeps only the last of two equal keys.
 */
function writtenKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let end = i + 1;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      if (depth === 1 && line[end + 1] === ':')
        keys.push(JSON.parse(line.slice(i, end + 1)));
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

test('writtenKeys sees a repeated key that JSON.parse drops', () => {
  const line = '{"name":"backend","kernels":[{"name":"x"}],"s":"a\\"b:","name":"wasm"}';
  assert.deepEqual(writtenKeys(line), ['name', 'kernels', 's', 'name']);
  assert.equal(Object.keys(JSON.parse(line)).length, 3);
});

test("the backend's log lines have each key once; the logger's name stays its own", () => {
  // A process of its own: the backend is chosen once per process.
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      '--input-type=module',
      '-e',
      `import { initBackend } from ${JSON.stringify(backendModule)};
       await initBackend('wasm');`,
    ],
    {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '', VICINAL_LOG_LEVEL: 'info' },
    },
  );
  assert.equal(child.status, 0, child.stderr);
  const lines = child.stderr.trim().split('\n');
  for (const line of lines) {
    const keys = writtenKeys(line);
    assert.deepEqual(Object.keys(JSON.parse(line)), keys, `a key written twice: ${line}`);
  }
  const ready = lines
    .map((line) => JSON.parse(line))
    .find((l) => l.msg === 'tensorflow backend ready');
  assert.ok(ready, child.stderr);
  assert.equal(ready.name, 'backend');
  assert.equal(ready.backend, 'wasm');
  assert.equal(ready.reason, 'requested wasm');
  assert.equal(typeof ready.native, 'boolean');
});
