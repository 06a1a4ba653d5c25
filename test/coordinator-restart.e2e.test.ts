import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connectBus, startNatsServer } from '@vicinal/bus';
import { expandExperiment, parseExperiment } from '@vicinal/config';
import { parse as parseYaml } from 'yaml';
import { jobLabel } from '../apps/cli/src/study/grid-state.js';
import { alive } from '../apps/cli/src/study/leftovers.js';
import { storedEvents } from './support/study-events.js';

// The coordinator of a local study is SIGKILLed mid-grid and started again
// on the same output directory: it stops what the dead one left running,
// finds the finished jobs and runs only the others. Counted from the
// progress events JetStream kept: no job finishes twice, and the jobs done
// before the kill were started exactly once.

const dir = mkdtempSync(join(tmpdir(), 'vicinal-coordinator-'));
const out = join(dir, 'out');

after(() => {
  // Whatever the study started and a failed run left behind.
  const record = join(out, 'processes.json');
  if (existsSync(record)) {
    const { processes } = JSON.parse(readFileSync(record, 'utf8')) as {
      processes: { pid: number }[];
    };
    for (const p of processes) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

const settings = `
name: restart
datasets: [{ name: fashion-mnist }]
teachers:
  - { name: small, architecture: student-cnn, epochs: 1, batchSize: 64, learningRate: 0.002, trainImages: 512 }
students:
  - { architecture: student-cnn, epochs: 2, batchSize: 64, learningRate: 0.002, trainImages: 1024 }
arms: [baseline, mixup, kd]
temperatures: [2]
seeds: [1, 2]
analysisPairs: 0
`;

const args = (config: string) => [
  'apps/cli/bin/vicinal.mjs',
  'study',
  config,
  '--out',
  out,
  '--cache-dir',
  join(dir, 'cache'),
  '--workers',
  '1',
];
const env = { ...process.env, VICINAL_BACKEND: 'wasm' };

test('a coordinator killed mid-study is re-run without repeating finished jobs', async (t) => {
  const config = join(dir, 'restart.yaml');
  writeFileSync(config, settings);
  const plan = expandExperiment(parseExperiment(parseYaml(settings), config));
  assert.equal(plan.jobs.length, 6);
  const idOf = new Map(
    plan.jobs.map((j) => [
      jobLabel({ ...j, arm: j.job.arm, seed: j.job.seed }),
      j.job.jobId,
    ]),
  );

  const first = spawn(process.execPath, args(config), {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  first.stderr.on('data', (d) => {
    stderr += d;
  });
  const doneBeforeKill = await new Promise<string[]>((resolve, reject) => {
    first.stdout.on('data', (d) => {
      stdout += d;
      const done = [...stdout.matchAll(/\[([^\]]+)\] done:/g)].map((m) => m[1]);
      if (done.length >= 2) resolve(done);
    });
    first.once('exit', (code) =>
      reject(new Error(`study ended (${code}) before the kill:\n${stdout}\n${stderr}`)),
    );
  });
  const exited = new Promise((r) => first.once('exit', r));
  first.kill('SIGKILL');
  await exited;
  const killedPid = first.pid;
  assert.ok(
    doneBeforeKill.every((label) => idOf.has(label)),
    doneBeforeKill.join(', '),
  );

  // Same command again.
  const second = spawnSync(process.execPath, args(config), {
    env,
    encoding: 'utf8',
    timeout: 600_000,
  });
  assert.equal(second.status, 0, `${second.stderr}\n${second.stdout}`);
  assert.match(
    second.stdout,
    new RegExp(`previous coordinator \\(pid ${killedPid}\\) died; stopping what it left`),
  );
  // The re-run replays the first run's events but prints only its own: a
  // job shows at most one "started" line and each of its epochs once.
  for (const label of idOf.keys()) {
    const lines = (pattern: string) =>
      second.stdout.split('\n').filter((l) => l.includes(`[${label}] ${pattern}`));
    assert.ok(lines('started on').length <= 1, `${label}:\n${second.stdout}`);
    for (const epoch of [1, 2, 3]) {
      assert.ok(lines(`epoch ${epoch}/`).length <= 1, `${label}:\n${second.stdout}`);
    }
  }
  const reused = Number(/(\d+) of 6 jobs already have results/.exec(second.stdout)?.[1]);
  assert.ok(reused >= doneBeforeKill.length, second.stdout);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.jobs, {
    total: 6,
    run_here: 6 - reused,
    already_finished: reused,
  });
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(results.runs.length, 6);
  assert.ok(!existsSync(join(out, 'processes.json')), 'the second run cleaned up');

  // The events both runs' workers published, from the study's JetStream store.
  const nats = await startNatsServer({ storeDir: join(out, 'nats') });
  const bus = await connectBus(nats.url, { name: 'restart-check' });
  try {
    const events = (await storedEvents(bus)).filter((e) =>
      [...idOf.values()].includes(e.jobId),
    );
    const count = (type: string, id: string) =>
      events.filter((e) => e.type === type && e.jobId === id).length;
    for (const id of idOf.values()) {
      assert.equal(count('job-finished', id), 1, `${id} finished once`);
    }
    for (const label of doneBeforeKill) {
      assert.equal(count('job-started', idOf.get(label)!), 1, `${label} started once`);
    }
    // At most the job in flight at the kill was started a second time.
    const starts = events.filter((e) => e.type === 'job-started').length;
    t.diagnostic(
      `done before the kill: ${doneBeforeKill.length}; found finished by the re-run: ` +
        `${reused}; job starts over both runs: ${starts}`,
    );
    assert.ok(starts >= 6 && starts <= 7, `${starts} job starts`);
  } finally {
    await bus.close();
    await nats.stop();
  }
});
