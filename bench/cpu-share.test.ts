import assert from 'node:assert/strict';
import { test } from 'node:test';
import { otherCpuShare, parseCpuCounters, readCpuCounters } from './cpu-share.js';

const procStat = (user: number, idle: number, steal = 0) =>
  `cpu  ${user} 5 100 ${idle} 20 3 2 ${steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n`;
// A command name with spaces and a parenthesis, then fields 3.. of stat(5);
// utime..cstime (fields 14-17) are 40, 10, 7, 3.
const selfStat = (utime: number) =>
  `4242 (node (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 ${utime} 10 7 3 20 0 7 0`;

test('counters: busy, total and own CPU time from /proc text', () => {
  assert.deepEqual(parseCpuCounters(procStat(1000, 5000), selfStat(40)), {
    busy: 1000 + 5 + 100 + 3 + 2,
    total: 1000 + 5 + 100 + 3 + 2 + 5000 + 20,
    own: 40 + 10 + 7 + 3,
  });
  assert.throws(
    () => parseCpuCounters('intr 1\n', selfStat(1)),
    /expected a "cpu " line/,
  );
  assert.throws(
    () => parseCpuCounters('cpu  1 2 3\n', selfStat(1)),
    /at least 8 numbers/,
  );
});

test('other work is the busy time the bench did not use, as a share of all CPU time', () => {
  const start = { busy: 1000, total: 10_000, own: 500 };
  // 2000 ticks passed; the machine was busy 1500 of them, 1000 ours.
  assert.equal(otherCpuShare(start, { busy: 2500, total: 12_000, own: 1500 }), 0.25);
  // Idle apart from us.
  assert.equal(otherCpuShare(start, { busy: 2000, total: 12_000, own: 1500 }), 0);
  // Rounding between the two files never gives a negative share.
  assert.equal(otherCpuShare(start, { busy: 1990, total: 12_000, own: 1500 }), 0);
  assert.equal(otherCpuShare(null, start), null);
  assert.equal(otherCpuShare(start, start), null);
});

test('on this machine the counters read and our own busy work counts as ours', () => {
  const start = readCpuCounters();
  if (!start) return; // not Linux: nothing to read
  let x = 0;
  const until = Date.now() + 300;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  const end = readCpuCounters();
  assert.ok(end && end.own > start.own, 'our CPU time grew');
  assert.ok(end.total > start.total);
  const share = otherCpuShare(start, end);
  assert.ok(share !== null && share >= 0 && share <= 1);
});
