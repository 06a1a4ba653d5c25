import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChildProcesses, detectPinning } from './children.js';

const noPinning = { available: false, tool: null, reason: 'test' };

/** A child speaking the bench protocol: ready line, then doubles numbers. */
const ECHO = `
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\\n');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    process.stdout.write('log lines that are not JSON are skipped\\n');
    process.stdout.write(JSON.stringify({ twice: JSON.parse(line).n * 2 }) + '\\n');
  }
});
`;

test('a started child answers requests in turn and stopAll ends it', async () => {
  const children = new ChildProcesses(noPinning);
  try {
    const child = await children.start<{ ready: boolean; pid: number }>(
      { name: 'echo', argv: [process.execPath, '-e', ECHO] },
      null,
      10_000,
    );
    assert.equal(child.ready.ready, true);
    assert.deepEqual(await child.request({ n: 2 }), { twice: 4 });
    assert.deepEqual(await child.request({ n: 5 }), { twice: 10 });
    assert.equal(children.count, 1);
    const exited = new Promise((resolve) => child.child.once('exit', resolve));
    await children.stopAll();
    await exited;
    assert.equal(children.count, 0);
    assert.notEqual(child.child.exitCode ?? child.child.signalCode, null);
  } finally {
    await children.stopAll();
  }
});

test('a child that dies before it is ready is an error with its stderr', async () => {
  const lines: string[] = [];
  const logged = new ChildProcesses(noPinning, (line) => lines.push(line));
  try {
    await assert.rejects(
      logged.start(
        {
          name: 'broken',
          argv: [
            process.execPath,
            '-e',
            'console.error("no model here"); process.exit(3)',
          ],
        },
        null,
        10_000,
      ),
      /broken exited with 3 before its ready message:\nno model here/,
    );
    assert.deepEqual(lines, ['  [broken] no model here']);
    assert.equal(logged.count, 0);
  } finally {
    await logged.stopAll();
  }
});

test('a request the child never answers times out', async () => {
  const children = new ChildProcesses(noPinning);
  try {
    const child = await children.start(
      {
        name: 'silent',
        argv: [process.execPath, '-e', 'console.log("{}"); setInterval(() => {}, 1000)'],
      },
      null,
      10_000,
    );
    await assert.rejects(child.request({}, 200), /silent: no reply within 200 ms/);
  } finally {
    await children.stopAll();
  }
  assert.equal(children.count, 0);
});

test('pinning is reported either way, with a reason', () => {
  const pinning = detectPinning();
  assert.equal(typeof pinning.available, 'boolean');
  assert.ok(pinning.reason.length > 0);
  if (pinning.available) assert.match(pinning.tool ?? '', /taskset$/);
});
