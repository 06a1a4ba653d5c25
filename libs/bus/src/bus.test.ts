import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '@vicinal/telemetry';
import { z } from 'zod';
import {
  type Bus,
  connectBus,
  consumeJobs,
  deadLetteredJobs,
  findTeachers,
  getArtifact,
  getResult,
  isFinalFailure,
  JOB_MAX_DELIVER,
  lastEventSequence,
  type NatsServerHandle,
  names,
  publishEvent,
  putArtifact,
  putResult,
  registerTeacher,
  startNatsServer,
  submitJob,
  teacherInstance,
  waitForTeacher,
  watchEvents,
} from './index.js';

const jobSchema = z.object({ n: z.number() }).strict();
const log = createLogger('bus-test', process.env.VICINAL_LOG_LEVEL ?? 'silent');

describe('bus over a real nats-server', () => {
  let server: NatsServerHandle;
  let bus: Bus;
  before(async () => {
    server = await startNatsServer();
    // A short ack wait: in some CI runs a job nak'ed with a 2 s delay was not
    // back within 60 s under the default 60 s ack wait (cause not established);
    // the guarantee tested is that it comes back, not how soon.
    bus = await connectBus(server.url, {
      name: 'bus-test',
      teacherTtlSeconds: 2,
      jobAckWaitSeconds: 5,
    });
  });
  after(async () => {
    await bus.close();
    await server.stop();
  });

  test('a job submitted twice is stored once and handled once', async () => {
    const first = await submitJob(bus, names.distillSubject, 'job-a', { n: 1 });
    const second = await submitJob(bus, names.distillSubject, 'job-a', { n: 1 });
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    const seen: number[] = [];
    const handled = await consumeJobs(bus, {
      schema: jobSchema,
      handler: async (job) => {
        seen.push(job.n);
      },
      log,
      pollMs: 1000,
      // A safety stop against a hang, not a speed check: maxJobs ends the run.
      signal: AbortSignal.timeout(60_000),
      maxJobs: 1,
    });
    assert.equal(handled, 1);
    assert.deepEqual(seen, [1]);
  });

  test('a failing job is redelivered, then handled; a poison job is dead-lettered', async () => {
    await submitJob(bus, names.distillSubject, 'poison', { wrong: true });
    await submitJob(bus, names.distillSubject, 'flaky', { n: 2 });
    const deliveries: number[] = [];
    const handled = await consumeJobs(bus, {
      schema: jobSchema,
      handler: async (_job, ctx) => {
        deliveries.push(ctx.deliveryCount);
        if (ctx.deliveryCount === 1) throw new Error('first attempt fails');
      },
      log,
      pollMs: 1000,
      // Redelivery after the 2 s back-off (or the 5 s ack wait); the stop bounds a hang.
      signal: AbortSignal.timeout(60_000),
      maxJobs: 1,
    });
    assert.equal(handled, 1, `deliveries seen: ${JSON.stringify(deliveries)}`);
    // Failed once, then redelivered and handled once. The redelivery's count is
    // 2, or 3 when JetStream handed delivery 2 to a pull request that had just
    // expired (it then comes back after the ack wait): seen in a loaded CI run.
    assert.equal(deliveries.length, 2, `deliveries seen: ${JSON.stringify(deliveries)}`);
    assert.equal(deliveries[0], 1);
    assert.ok(
      deliveries[1] === 2 || deliveries[1] === 3,
      `deliveries seen: ${JSON.stringify(deliveries)}`,
    );
    const dead = await bus.jsm.streams.getMessage(names.jobsStream, {
      last_by_subj: names.deadLetterSubject,
    });
    assert.ok(dead);
    assert.match(dead.header.get('Vicinal-Reason') ?? '', /undecodable job: .*n/);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(dead.data)), { wrong: true });
    // The poison job was terminated, not left to come back after the ack wait
    // (nats-server 2.9 ignores a termination that carries a reason).
    const students = await bus.jsm.consumers.info(
      names.jobsStream,
      names.studentsConsumer,
    );
    assert.equal(students.num_ack_pending, 0, 'a dead-lettered job is still pending');
    assert.equal(students.num_pending, 0);
  });

  test('teacher registry: register, find, deregister, expire without heartbeat', async () => {
    const entry = {
      instance: 't1',
      address: '127.0.0.1:1',
      model: 'm',
      version: '1',
      architecture: 'a',
      backend: 'cpu',
      startedAt: new Date().toISOString(),
    };
    const stop = await registerTeacher(bus, entry, 200, () => {});
    assert.deepEqual(await findTeachers(bus, 'm'), [entry]);
    assert.deepEqual(await findTeachers(bus, 'other'), []);
    await stop();
    assert.deepEqual(await findTeachers(bus, 'm'), []);
    // A registration whose heartbeats stopped disappears after the bucket TTL.
    await bus.teachers.put('teacher.t2', JSON.stringify({ ...entry, instance: 't2' }));
    assert.equal((await findTeachers(bus, 'm')).length, 1);
    // The server expires it on its own schedule: wait for that, within a bound.
    const deadline = Date.now() + 30_000;
    while ((await findTeachers(bus, 'm')).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(await findTeachers(bus, 'm'), []);
  });

  test('waiting for one named teacher instance ignores the others serving its model', async () => {
    const entry = (instance: string, port: number) => ({
      instance,
      address: `127.0.0.1:${port}`,
      model: 'shared-model',
      version: '1',
      architecture: 'a',
      backend: 'cpu',
      startedAt: new Date().toISOString(),
    });
    const other = await registerTeacher(bus, entry('someone-else', 1), 200, () => {});
    try {
      assert.equal(
        (await waitForTeacher(bus, 'shared-model', 1000)).instance,
        'someone-else',
      );
      // Its own server registers later: the wait returns that one, not the first.
      const mine = teacherInstance(4242);
      assert.match(mine, /-4242$/);
      const waiting = waitForTeacher(bus, 'shared-model', 10_000, undefined, mine);
      const stop = await registerTeacher(bus, entry(mine, 2), 200, () => {});
      try {
        assert.equal((await waiting).address, '127.0.0.1:2');
      } finally {
        await stop();
      }
      await assert.rejects(
        waitForTeacher(bus, 'shared-model', 300, undefined, teacherInstance(1)),
        /no teacher serving model "shared-model" registered within 300 ms/,
      );
    } finally {
      await other();
    }
  });

  test('events published before lastEventSequence are told apart from later ones', async () => {
    const started = (jobId: string) =>
      ({
        type: 'job-started',
        jobId,
        worker: 'w',
        deliveryCount: 1,
        resumedAfterEpoch: 0,
      }) as const;
    await publishEvent(bus, 'seq-study', started('earlier-1'));
    await publishEvent(bus, 'another-study', started('other'));
    await publishEvent(bus, 'seq-study', started('earlier-2'));
    const before = await lastEventSequence(bus);
    await publishEvent(bus, 'seq-study', started('later'));
    const stop = new AbortController();
    const seen: { jobId: string; earlier: boolean }[] = [];
    for await (const ev of watchEvents(bus, 'seq-study', stop.signal)) {
      seen.push({ jobId: ev.jobId, earlier: ev.sequence <= before });
      if (seen.length === 3) stop.abort();
    }
    assert.deepEqual(seen, [
      { jobId: 'earlier-1', earlier: true },
      { jobId: 'earlier-2', earlier: true },
      { jobId: 'later', earlier: false },
    ]);
  });

  test('deadLetteredJobs counts last-delivery failures per job of one study', async () => {
    // A study with no events at all answers at once.
    assert.deepEqual(await deadLetteredJobs(bus, 'quiet-study'), new Map());
    const failed = (jobId: string, deliveryCount?: number) =>
      ({ type: 'job-failed', jobId, error: 'boom', deliveryCount }) as const;
    for (let d = 1; d <= JOB_MAX_DELIVER; d++)
      await publishEvent(bus, 'dl-study', failed('a', d));
    await publishEvent(bus, 'dl-study', failed('b', 2));
    // An event of a worker that did not report its delivery is not a dead letter.
    await publishEvent(bus, 'dl-study', failed('c'));
    await publishEvent(bus, 'other-dl-study', failed('a', JOB_MAX_DELIVER));
    // Job a, submitted again and dead-lettered again.
    await publishEvent(bus, 'dl-study', failed('a', JOB_MAX_DELIVER));
    // Job d's one copy, reported dead-lettered twice (by its worker and by a
    // coordinator), counts once; its second copy once more.
    const copyOf = (jobSequence: number) => ({
      ...failed('d', JOB_MAX_DELIVER),
      jobSequence,
    });
    await publishEvent(bus, 'dl-study', copyOf(11));
    await publishEvent(bus, 'dl-study', copyOf(11));
    await publishEvent(bus, 'dl-study', copyOf(19));
    await publishEvent(bus, 'dl-study', {
      type: 'job-finished',
      jobId: 'b',
      accuracy: 0.5,
      ece: 0.1,
    });
    assert.deepEqual(
      await deadLetteredJobs(bus, 'dl-study'),
      new Map([
        ['a', 2],
        ['d', 2],
      ]),
    );
    assert.deepEqual(await deadLetteredJobs(bus, 'other-dl-study'), new Map([['a', 1]]));
    assert.equal(isFinalFailure(failed('x', JOB_MAX_DELIVER - 1)), false);
    assert.equal(isFinalFailure(failed('x', JOB_MAX_DELIVER)), true);
  });

  test('artifacts and results round-trip', async () => {
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
    await putArtifact(bus, 'teacher/abc', bytes);
    assert.deepEqual(await getArtifact(bus, 'teacher/abc'), bytes);
    assert.equal(await getArtifact(bus, 'missing'), null);
    await putResult(bus, 'study1', 'job1', { accuracy: 0.5 });
    assert.deepEqual(await getResult(bus, 'study1', 'job1'), { accuracy: 0.5 });
    assert.equal(await getResult(bus, 'study1', 'nope'), null);
  });
});
