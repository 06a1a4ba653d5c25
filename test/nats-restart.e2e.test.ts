import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type Bus,
  checkpointArtifact,
  connectBus,
  getArtifact,
  getResult,
  type NatsServerHandle,
  names,
  retryTransient,
  startNatsServer,
  submitJob,
} from '@vicinal/bus';
import type { DistillResult } from '@vicinal/config';
import { type ServiceHandle, startService } from '../apps/cli/src/study/services.js';
import { smallDistillJob } from './support/distill-jobs.js';
import { stopStarted } from './support/stop-started.js';
import { storedEvents } from './support/study-events.js';
import { until } from './support/wait.js';

// nats-server is stopped and started again on the same port and storage
// while a student trainer works: the worker reconnects, the job finishes on
// the same delivery, its result and progress events are all there, a
// coordinator reading results across the restart gets the result, and
// nothing is lost.

const store = mkdtempSync(join(tmpdir(), 'vicinal-restart-'));
let nats: NatsServerHandle | undefined;
let bus: Bus | undefined;
const services: ServiceHandle[] = [];

after(() => stopStarted({ services, bus, nats, dirs: [store] }));

const job = smallDistillJob({
  studyId: 'restart',
  jobId: 'restart-mixup',
  arm: 'mixup',
  seed: 8,
  epochs: 4,
});

test('a nats-server restart loses no job, result or progress event', async () => {
  nats = await startNatsServer({ storeDir: join(store, 'js') });
  const port = nats.port;
  bus = await connectBus(nats.url, { name: 'restart-test', jobAckWaitSeconds: 5 });
  await submitJob(bus, names.distillSubject, job.jobId, job);
  const worker = startService(
    'student-trainer',
    'worker',
    {
      VICINAL_NATS_URL: nats.url,
      VICINAL_BACKEND: 'wasm',
      VICINAL_MAX_JOBS: '1',
      VICINAL_WORKER_NAME: 'worker',
    },
    store,
  );
  services.push(worker);
  // Restart the broker once the worker has stored its first checkpoint.
  const deadline = Date.now() + 120_000;
  while (!(await getArtifact(bus, checkpointArtifact(job.studyId, job.jobId)))) {
    assert.ok(Date.now() < deadline, 'no checkpoint within 120 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  // A coordinator waiting for the result reads it across the restart, as
  // `vicinal study` does, instead of failing on the reads that time out.
  const read = () => getResult<DistillResult>(bus!, job.studyId, job.jobId);
  const waiting = (async () => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const found = await retryTransient('reading the result', read);
      if (found) return found;
      assert.ok(Date.now() < deadline, 'no result within 300 s');
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  await nats.stop();
  await new Promise((r) => setTimeout(r, 1000));
  nats = await startNatsServer({ storeDir: join(store, 'js'), port });

  assert.equal(await worker.exited, 0, `worker failed; log: ${worker.logFile}`);
  const result = await waiting;
  assert.ok(result, 'the result survived the restart');
  assert.equal(result.steps, 64);
  const info = await bus.jsm.consumers.info(names.jobsStream, names.studentsConsumer);
  assert.equal(info.num_pending, 0);
  assert.equal(info.num_ack_pending, 0);

  const events = await storedEvents(bus);
  const epochs = new Set(events.flatMap((e) => (e.type === 'epoch' ? [e.epoch] : [])));
  assert.deepEqual([...epochs].sort(), [1, 2, 3, 4], 'every epoch reported');
  assert.equal(events.filter((e) => e.type === 'job-finished').length, 1);
  // The job rode out the restart on its first delivery: no failure handed
  // it back (a delivery of its 5 spent on the broker's absence).
  assert.deepEqual(
    events.filter((e) => e.type === 'job-failed'),
    [],
    'the restart cost the job a delivery',
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'job-started').map((e) => e.deliveryCount),
    [1],
  );
});

// nats-server 2.9 restarted while a job has run longer than the ack wait
// may deliver that job again at once (it counts the ack wait from the
// delivery; the "working" signals that extended it are not on disk), to an
// idle worker, while the first worker, reconnected, trains on. The job must
// still run once: the second worker sees the first one's lease, stands by,
// sees the lease refreshed once the first worker is back, and acknowledges
// its delivery when the first is done. The first worker is paused (SIGSTOP)
// across the restart so the redelivery happens in every run, not only when
// its reconnect is slow; it is resumed once the second stands by.

const LEASE_ACK_WAIT_SECONDS = 12;
const leaseStore = mkdtempSync(join(tmpdir(), 'vicinal-restart-lease-'));
const lease: { nats?: NatsServerHandle; bus?: Bus; services: ServiceHandle[] } = {
  services: [],
};

after(() =>
  stopStarted({
    services: lease.services,
    bus: lease.bus,
    nats: lease.nats,
    dirs: [leaseStore],
  }),
);

const leasedJob = smallDistillJob({
  studyId: 'restart-lease',
  jobId: 'restart-lease-mixup',
  arm: 'mixup',
  seed: 9,
  epochs: 30,
});

test('a job held across a nats-server restart runs once, with a second worker idle', async () => {
  let nats = await startNatsServer({ storeDir: join(leaseStore, 'js') });
  lease.nats = nats;
  const port = nats.port;
  const bus = await connectBus(nats.url, {
    name: 'restart-lease-test',
    jobAckWaitSeconds: LEASE_ACK_WAIT_SECONDS,
  });
  lease.bus = bus;
  const job = leasedJob;
  await submitJob(bus, names.distillSubject, job.jobId, job);
  const worker = (name: string) => {
    const started = startService(
      'student-trainer',
      name,
      {
        VICINAL_NATS_URL: nats.url,
        VICINAL_BACKEND: 'wasm',
        VICINAL_MAX_JOBS: '1',
        VICINAL_WORKER_NAME: name,
        VICINAL_LOG_LEVEL: 'info',
      },
      leaseStore,
    );
    lease.services.push(started);
    return started;
  };
  const logOf = (s: ServiceHandle) =>
    existsSync(s.logFile) ? readFileSync(s.logFile, 'utf8') : '';
  /** Waits (bounded, not timed) until `cond` holds. */
  const waitFor = (cond: () => Promise<boolean> | boolean, what: string) =>
    until(cond, what, 180_000, 100);
  const first = worker('first');
  await waitFor(
    async () => (await storedEvents(bus)).some((e) => e.type === 'job-started'),
    'the job to start on the first worker',
  );
  const second = worker('second');
  await waitFor(
    () => logOf(second).includes('student trainer ready'),
    'the second worker',
  );
  // The first worker stops answering; the broker restarts meanwhile.
  first.child.kill('SIGSTOP');
  await nats.stop();
  await new Promise((r) => setTimeout(r, 1000));
  nats = await startNatsServer({ storeDir: join(leaseStore, 'js'), port });
  lease.nats = nats;
  await waitFor(async () => {
    const restarted = (await retryTransient('reading events', () => storedEvents(bus)))
      .filter((e) => e.type === 'job-started')
      .some((e) => e.deliveryCount > 1);
    assert.ok(
      !restarted,
      'the second worker started the job again instead of standing by',
    );
    return logOf(second).includes(
      'job delivered again while another worker holds its lease',
    );
  }, 'the second worker to get the job and stand by');
  first.child.kill('SIGCONT');

  assert.equal(await first.exited, 0, `first worker failed; log: ${first.logFile}`);
  const result = await retryTransient('reading the result', () =>
    getResult<DistillResult>(bus, job.studyId, job.jobId),
  );
  assert.ok(result, 'the result was stored');
  assert.equal(result.steps, 30 * 16);
  const events = await storedEvents(bus);
  assert.deepEqual(
    events.filter((e) => e.type === 'job-started').map((e) => e.deliveryCount),
    [1],
    'the job was started again on its second delivery',
  );
  assert.equal(events.filter((e) => e.type === 'job-finished').length, 1);
  await waitFor(
    () => logOf(second).includes('job finished by the worker that held it'),
    'the second worker to acknowledge its delivery',
  );
  assert.doesNotMatch(logOf(second), /taking the job over/);
  const info = await bus.jsm.consumers.info(names.jobsStream, names.studentsConsumer);
  assert.equal(info.num_pending, 0);
  assert.equal(info.num_ack_pending, 0);
});
