import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '@vicinal/backend';
import {
  type Bus,
  checkpointArtifact,
  connectBus,
  getArtifact,
  getResult,
  type NatsServerHandle,
  names,
  startNatsServer,
  studentArtifact,
  submitJob,
} from '@vicinal/bus';
import type { DistillResult } from '@vicinal/config';
import { loadDataset, subset } from '@vicinal/data';
import { buildModel, decodeArtifact } from '@vicinal/models';
import { decodeCheckpoint, trainNetwork } from '@vicinal/training';
import { type ServiceHandle, startService } from '../apps/cli/src/study/services.js';
import { smallDistillJob } from './support/distill-jobs.js';
import { stopStarted } from './support/stop-started.js';
import { storedEvents } from './support/study-events.js';

// A student trainer is killed (SIGKILL) mid-job. JetStream redelivers the
// job to a second worker, which resumes from the checkpoint in the object
// store; the final student equals one trained without interruption.

let nats: NatsServerHandle;
let bus: Bus;
const services: ServiceHandle[] = [];
const logDir = mkdtempSync(join(tmpdir(), 'vicinal-crash-'));

before(async () => {
  await initBackend('wasm');
  nats = await startNatsServer();
  // A short ack wait so the killed worker's job comes back within seconds.
  bus = await connectBus(nats.url, { name: 'crash-test', jobAckWaitSeconds: 3 });
});

after(() => stopStarted({ services, bus, nats, dirs: [logDir] }));

const job = smallDistillJob({
  studyId: 'crash',
  jobId: 'crash-mixup',
  arm: 'mixup',
  seed: 21,
  epochs: 4,
});

async function until<T>(what: string, probe: () => Promise<T | null>, ms = 120_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a killed student trainer loses no work: the job resumes from its checkpoint', async () => {
  await submitJob(bus, names.distillSubject, job.jobId, job);
  const env = {
    VICINAL_NATS_URL: nats.url,
    VICINAL_BACKEND: 'wasm',
    VICINAL_MAX_JOBS: '1',
  };
  const first = startService(
    'student-trainer',
    'first',
    { ...env, VICINAL_WORKER_NAME: 'first' },
    logDir,
  );
  services.push(first);
  const checkpoint = await until('the first checkpoint', () =>
    getArtifact(bus, checkpointArtifact(job.studyId, job.jobId)),
  );
  first.child.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  const epochAtKill = decodeCheckpoint(checkpoint).epoch;
  assert.ok(epochAtKill >= 1 && epochAtKill < 4);
  assert.equal(await getResult(bus, job.studyId, job.jobId), null, 'no result yet');

  const second = startService(
    'student-trainer',
    'second',
    { ...env, VICINAL_WORKER_NAME: 'second' },
    logDir,
  );
  services.push(second);
  assert.equal(await second.exited, 0, `second worker failed; log: ${second.logFile}`);
  const result = await getResult<DistillResult>(bus, job.studyId, job.jobId);
  assert.ok(result);
  assert.match(result.worker, /^second@/);
  assert.equal(result.steps, 4 * 16, 'every planned step ran once');
  assert.equal(result.samples, 4 * 16 * 64);
  // Its result stored, the job's checkpoint is removed; checkpoints are kept
  // per study, so another study's run of the same cell starts afresh.
  assert.equal(await getArtifact(bus, checkpointArtifact(job.studyId, job.jobId)), null);
  assert.notEqual(
    checkpointArtifact('study-a', job.jobId),
    checkpointArtifact('study-b', job.jobId),
  );

  const events = await storedEvents(bus);
  const starts = events.filter((e) => e.type === 'job-started');
  assert.equal(starts.length, 2);
  assert.equal(starts[1].type === 'job-started' && starts[1].deliveryCount, 2);
  assert.ok(
    starts[1].type === 'job-started' && starts[1].resumedAfterEpoch >= epochAtKill,
  );

  // The same run, never interrupted, in this process.
  const data = await loadDataset(job.dataset);
  const reference = buildModel('student-cnn', {
    inputShape: data.shape,
    numClasses: 10,
    seed: 21,
  });
  await trainNetwork({
    model: reference,
    train: subset(data.train, 1024, 21),
    spec: { shape: data.shape, numClasses: 10, mean: data.mean, std: data.std },
    recipe: job.student,
    mixup: job.mixup,
    loss: job.loss,
    teacher: null,
    seed: 21,
  });
  const stored = await getArtifact(bus, studentArtifact(job.studyId, job.jobId));
  assert.ok(stored);
  const resumed = await decodeArtifact(stored);
  const a = reference.getWeights();
  const b = resumed.getWeights();
  let maxDiff = 0;
  a.forEach((w, i) => {
    const x = w.dataSync();
    const y = b[i].dataSync();
    for (let k = 0; k < x.length; k++) maxDiff = Math.max(maxDiff, Math.abs(x[k] - y[k]));
  });
  // Same backend, same seeded data order and mixing: identical weights.
  assert.equal(maxDiff, 0);
});
