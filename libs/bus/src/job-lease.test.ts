/**
 * Job leases over a real nats-server: a redelivered job whose lease another
 * worker keeps fresh is not run a second time; one whose holder fell silent
 * for a whole ack wait is taken over; a finished job's lease says done.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '@vicinal/telemetry';
import { z } from 'zod';
import {
  type Bus,
  connectBus,
  consumeJobs,
  holdLease,
  type LeaseRecord,
  type NatsServerHandle,
  names,
  readLease,
  startNatsServer,
  submitJob,
} from './index.js';

const log = createLogger('job-lease-test', process.env.VICINAL_LOG_LEVEL ?? 'silent');
const jobSchema = z.object({ n: z.number() }).strict();
const ACK_WAIT_SECONDS = 4;
/** The lease worker "ghost" holds (its job: the message id it was submitted under). */
const ghostOn = (job: string) => ({ job, worker: 'ghost', delivery: 1 }) as const;

describe('job leases over a real nats-server', () => {
  let server: NatsServerHandle;
  let bus: Bus;
  before(async () => {
    server = await startNatsServer();
    bus = await connectBus(server.url, {
      name: 'job-lease-test',
      jobAckWaitSeconds: ACK_WAIT_SECONDS,
    });
  });
  after(async () => {
    await bus.close();
    await server.stop();
  });

  /**
   * Submits a job, takes its first delivery as worker "ghost" would (its
   * lease written), and hands it back, so the next pull is delivery 2 with
   * ghost's lease on it: what a nats-server restart does to a running job.
   */
  async function redeliveredUnderGhostLease(
    jobId: string,
    n: number,
    lease: LeaseRecord = { ...ghostOn(jobId), state: 'running' },
  ): Promise<number> {
    await submitJob(bus, names.distillSubject, jobId, { n });
    const consumer = await bus.js.consumers.get(names.jobsStream, names.studentsConsumer);
    const first = await consumer.next({ expires: 5000 });
    assert.ok(first, 'the job was delivered');
    await holdLease(bus, first.seq, lease);
    first.nak();
    return first.seq;
  }

  const pending = async () => {
    const info = await bus.jsm.consumers.info(names.jobsStream, names.studentsConsumer);
    return info.num_pending + info.num_ack_pending;
  };

  test('a job whose holder keeps its lease fresh is not run again: the new delivery waits, then is acknowledged', async () => {
    const seq = await redeliveredUnderGhostLease('held-job', 1);
    const stop = new AbortController();
    const runs: number[] = [];
    const consuming = consumeJobs(bus, {
      schema: jobSchema,
      handler: async (job) => {
        runs.push(job.n);
      },
      log,
      pollMs: 1000,
      signal: stop.signal,
      worker: 'second',
    });
    // The holder trains on for longer than an ack wait, refreshing its lease.
    for (let i = 0; i < 2 * ACK_WAIT_SECONDS; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      await holdLease(bus, seq, { ...ghostOn('held-job'), state: 'running' });
    }
    assert.deepEqual(runs, [], 'the second delivery ran while the holder was alive');
    assert.equal(await pending(), 1, 'the second delivery is kept, not given up');
    // The holder finishes: the waiting delivery is acknowledged, not run.
    await holdLease(bus, seq, { ...ghostOn('held-job'), state: 'done' });
    for (let i = 0; i < 100 && (await pending()) > 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await pending(), 0, 'the job was acknowledged');
    stop.abort();
    assert.equal(await consuming, 0);
    assert.deepEqual(runs, []);
  });

  test('a job whose holder falls silent for a whole ack wait is taken over, and its lease ends done', async () => {
    const seq = await redeliveredUnderGhostLease('orphaned-job', 2);
    const deliveries: number[] = [];
    const handled = await consumeJobs(bus, {
      schema: jobSchema,
      handler: async (_job, ctx) => {
        deliveries.push(ctx.deliveryCount);
        const lease = await readLease(bus, seq);
        assert.deepEqual(lease?.record, {
          job: 'orphaned-job',
          worker: 'third',
          delivery: ctx.deliveryCount,
          state: 'running',
        });
      },
      log,
      pollMs: 1000,
      // Bounds a hang; maxJobs ends the run.
      signal: AbortSignal.timeout(60_000),
      maxJobs: 1,
      worker: 'third',
    });
    assert.equal(handled, 1);
    assert.equal(deliveries.length, 1);
    assert.ok(deliveries[0] >= 2, `delivery ${deliveries[0]}`);
    const lease = await readLease(bus, seq);
    assert.deepEqual(lease?.record, {
      job: 'orphaned-job',
      worker: 'third',
      delivery: deliveries[0],
      state: 'done',
    });
    assert.equal(await pending(), 0);
  });

  test('a worker stopped mid-job releases its lease, so another worker runs the job without waiting', async () => {
    await submitJob(bus, names.distillSubject, 'handed-back', { n: 3 });
    const stop = new AbortController();
    let seq = 0;
    let leaseWhileRunning: string | undefined;
    await consumeJobs(bus, {
      schema: jobSchema,
      handler: async (_job, ctx) => {
        seq = ctx.jobSequence;
        leaseWhileRunning = (await readLease(bus, seq))?.record.worker;
        // Stopped (SIGTERM) in the middle of the job.
        stop.abort();
        throw new Error('stopped');
      },
      log,
      pollMs: 1000,
      signal: stop.signal,
      worker: 'stopping',
    });
    assert.equal(leaseWhileRunning, 'stopping');
    assert.equal(await readLease(bus, seq), null, 'the lease was released');
    const deliveries: number[] = [];
    const handled = await consumeJobs(bus, {
      schema: jobSchema,
      handler: async (_job, ctx) => {
        deliveries.push(ctx.deliveryCount);
      },
      log,
      pollMs: 1000,
      signal: AbortSignal.timeout(60_000),
      maxJobs: 1,
      worker: 'next',
    });
    assert.equal(handled, 1);
    assert.equal(deliveries.length, 1);
    assert.ok(deliveries[0] >= 2, `delivery ${deliveries[0]}`);
    assert.equal((await readLease(bus, seq))?.record.state, 'done');
  });
  test("a lease another job left under the same sequence is not this job's: the job runs", async () => {
    // As if the jobs stream had been created anew beside the old results
    // bucket: the sequence's lease says done, but for another job.
    const seq = await redeliveredUnderGhostLease('fresh-job', 5, {
      ...ghostOn('an-older-job'),
      state: 'done',
    });
    const runs: number[] = [];
    const handled = await consumeJobs(bus, {
      schema: jobSchema,
      handler: async (job) => {
        runs.push(job.n);
      },
      log,
      pollMs: 1000,
      signal: AbortSignal.timeout(60_000),
      maxJobs: 1,
      worker: 'fifth',
    });
    assert.equal(handled, 1);
    assert.deepEqual(runs, [5]);
    assert.equal((await readLease(bus, seq))?.record.job, 'fresh-job');
  });
});
