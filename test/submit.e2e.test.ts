import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type Bus,
  connectBus,
  fetchTeacher,
  type NatsServerHandle,
  names,
  startNatsServer,
} from '@vicinal/bus';
import { expandExperiment, parseExperiment } from '@vicinal/config';
import { parse as parseYaml } from 'yaml';
import { type ServiceHandle, startService } from '../apps/cli/src/study/services.js';
import { stopStarted } from './support/stop-started.js';

// `vicinal submit` against a NATS it did not start: the grid's teacher is
// trained and published, the jobs are queued and nothing runs until a teacher
// server and a student trainer (started here, as a cluster would) pick them
// up; `vicinal status` and `vicinal watch` follow the grid, a second submit
// queues nothing, and `vicinal study --no-local-services` collects the report.

const dir = mkdtempSync(join(tmpdir(), 'vicinal-submit-'));
let nats: NatsServerHandle | undefined;
let bus: Bus | undefined;
const services: ServiceHandle[] = [];
after(() => stopStarted({ services, bus, nats, dirs: [dir] }));

const settings = `
name: submitted
datasets: [{ name: fashion-mnist }]
teachers:
  - { name: small, architecture: student-cnn, epochs: 1, batchSize: 64, learningRate: 0.002, trainImages: 512 }
students:
  - { architecture: student-cnn, epochs: 1, batchSize: 64, learningRate: 0.002, trainImages: 512 }
arms: [baseline, kd+mixup]
temperatures: [4]
seeds: [3]
analysisPairs: 64
`;

function vicinal(args: string[]) {
  const run = spawnSync(process.execPath, ['apps/cli/bin/vicinal.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, VICINAL_BACKEND: 'wasm' },
    timeout: 300_000,
  });
  assert.equal(run.status, 0, `vicinal ${args[0]}: ${run.stderr}\n${run.stdout}`);
  return run.stdout;
}

interface Status {
  jobs: number;
  finished: number;
  queued: number;
  queue: { pending: number };
  teachers: { model: string; servers: string[] }[];
  progress: { jobId: string; state: string; accuracy: number | null }[];
}

test('vicinal submit queues a grid that services elsewhere run; status and watch follow it', async () => {
  nats = await startNatsServer();
  bus = await connectBus(nats.url, { name: 'submit-test' });
  const config = join(dir, 'grid.yaml');
  writeFileSync(config, settings);
  const plan = expandExperiment(parseExperiment(parseYaml(settings), config));
  const cache = join(dir, 'cache');

  const submitted = vicinal(['submit', config, '--nats', nats.url, '--cache-dir', cache]);
  assert.match(submitted, /training teacher small/);
  assert.match(submitted, /submitted 2 jobs for study submitted/);
  const model = plan.teachers[0].model;
  assert.match(submitted, new RegExp(`teacher servers must serve .*${model}`));
  // The teacher is in the object store under the name the plan gives it.
  const { meta } = await fetchTeacher(bus, model);
  assert.equal(meta.architecture, 'student-cnn');
  const consumer = await bus.jsm.consumers.info(names.jobsStream, names.studentsConsumer);
  assert.equal(consumer.num_pending, 2);

  const status = (): Status =>
    JSON.parse(vicinal(['status', 'submitted', '--nats', nats!.url, '--json']));
  const before = status();
  assert.equal(before.jobs, 2);
  assert.equal(before.queued, 2);
  assert.equal(before.finished, 0);
  assert.deepEqual(before.teachers[0].servers, []);

  const env = { VICINAL_NATS_URL: nats.url, VICINAL_BACKEND: 'wasm' };
  services.push(
    startService(
      'teacher-server',
      'teacher',
      { ...env, VICINAL_TEACHER_MODEL: model, VICINAL_LISTEN: '127.0.0.1:0' },
      join(dir, 'logs'),
    ),
    startService(
      'student-trainer',
      'worker',
      { ...env, VICINAL_WORKER_NAME: 'worker', VICINAL_MAX_JOBS: '2' },
      join(dir, 'logs'),
    ),
  );
  const worker = services[1];
  assert.equal(await worker.exited, 0, readFileSync(worker.logFile, 'utf8'));

  const afterRun = status();
  assert.equal(afterRun.finished, 2);
  assert.equal(afterRun.queue.pending, 0);
  assert.equal(afterRun.teachers[0].servers.length, 1, 'the teacher server registered');
  for (const job of afterRun.progress) {
    assert.equal(job.state, 'finished');
    assert.ok(job.accuracy !== null && job.accuracy > 0.15, job.jobId);
  }
  const watched = vicinal(['watch', 'submitted', '--nats', nats.url, '--no-follow']);
  assert.match(watched, /submitted: 2 jobs in the grid/);
  assert.match(watched, /finished, accuracy .*\(2\/2 finished\)/);

  // Submitting again finds both results and queues nothing.
  const again = vicinal(['submit', config, '--nats', nats.url, '--cache-dir', cache]);
  assert.match(again, /2 of 2 jobs already have results; 0 to run/);
  assert.match(again, /reused from cache/);
  assert.equal(
    (await bus.jsm.consumers.info(names.jobsStream, names.studentsConsumer)).num_pending,
    0,
  );

  // The coordinator on the same NATS, without services of its own, writes the report.
  const out = join(dir, 'out');
  const collected = vicinal([
    'study',
    config,
    '--nats',
    nats.url,
    '--no-local-services',
    '--out',
    out,
    '--cache-dir',
    cache,
  ]);
  assert.match(collected, /2 of 2 jobs already have results/);
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(
    results.runs.map((r: { arm: string; temperature: number | null }) => [
      r.arm,
      r.temperature,
    ]),
    [
      ['baseline', null],
      ['kd+mixup', 4],
    ],
  );
  const byId = new Map(afterRun.progress.map((p) => [p.jobId, p.accuracy]));
  for (const j of plan.jobs) {
    const run = results.runs.find((r: { arm: string }) => r.arm === j.job.arm);
    assert.equal(run.accuracy, byId.get(j.job.jobId));
  }
});
