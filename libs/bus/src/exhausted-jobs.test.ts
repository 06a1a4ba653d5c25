import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { loseEveryDelivery } from '../../../test/support/lost-deliveries.js';
import { testBus } from '../../../test/support/test-bus.js';
import type { Bus } from './connection.js';
import { deadLetteredJobs, storedEvents } from './events.js';
import {
  deadLetterExhausted,
  exhaustedReason,
  reapExhaustedJobs,
} from './exhausted-jobs.js';
import { submitJob } from './jobs.js';
import { names } from './names.js';
import { putResult } from './results.js';
import { JOB_MAX_DELIVER } from './topology.js';

// A job whose every delivery ends with its worker gone (no ack, no failure
// report) runs out of deliveries. A real nats-server on loopback announces
// it; the job's worker side is played here by pulling it and never answering.
describe('jobs that run out of deliveries without a failure report', () => {
  const nats = testBus('exhausted-test', { jobAckWaitSeconds: 1 });
  let bus: Bus;
  before(() => {
    bus = nats.bus;
  });

  test('the advisory subject is the one of the jobs stream and the students', () => {
    assert.equal(
      names.exhaustedJobsAdvisory,
      `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${names.jobsStream}.${names.studentsConsumer}`,
    );
  });

  test('the job is dead-lettered with a final failure event, once, and leaves the queue', async () => {
    const studyId = 'exhausted-study';
    const job = { kind: 'distill', studyId, jobId: 'job-lost', arm: 'baseline' };
    await submitJob(bus, names.distillSubject, `${studyId}.job-lost`, job);
    const sequence = await loseEveryDelivery(bus, 'job-lost');

    // No reaper is running while the last ack wait runs out: the advisory
    // stream keeps the announcement for the next one.
    let kept = 0;
    for (let i = 0; i < 100 && kept === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      kept = (await bus.jsm.streams.info(names.advisoriesStream)).state.messages;
    }
    assert.equal(kept, 1, 'the max-deliveries advisory was not kept');

    const outcomes = await reapExhaustedJobs(bus, {
      signal: new AbortController().signal,
      follow: false,
    });
    assert.deepEqual(outcomes, [
      { kind: 'dead-lettered', sequence, studyId, jobId: 'job-lost' },
    ]);

    // The study learns it as a last delivery's failure, which stops a
    // coordinator waiting for it and makes a re-run queue it again.
    const events = await storedEvents(bus, studyId);
    assert.equal(events.length, 1);
    assert.equal(events[0].type, 'job-failed');
    assert.equal(events[0].jobId, 'job-lost');
    assert.equal(
      events[0].type === 'job-failed' && events[0].deliveryCount,
      JOB_MAX_DELIVER,
    );
    assert.equal(
      events[0].type === 'job-failed' && events[0].error,
      exhaustedReason(JOB_MAX_DELIVER),
    );
    // It names the copy that was lost.
    assert.equal(events[0].type === 'job-failed' && events[0].jobSequence, sequence);
    assert.deepEqual(await deadLetteredJobs(bus, studyId), new Map([['job-lost', 1]]));

    // A copy of the job, with the reason, on the dead-letter subject.
    const copy = await bus.jsm.streams.getMessage(names.jobsStream, {
      last_by_subj: names.deadLetterSubject,
    });
    assert.ok(copy, 'no dead letter');
    assert.deepEqual(copy.json(), job);
    assert.equal(copy.header.get('Vicinal-Subject'), names.distillSubject);
    assert.match(
      copy.header.get('Vicinal-Reason'),
      /no worker finished it in 5 deliveries/,
    );
    // The job itself is gone from the queue; the advisory was acked.
    assert.equal(
      await bus.jsm.streams.getMessage(names.jobsStream, { seq: sequence }),
      null,
    );
    const reaper = await bus.jsm.consumers.info(
      names.advisoriesStream,
      names.exhaustedJobsConsumer,
    );
    assert.equal(reaper.num_pending + reaper.num_ack_pending, 0);

    // The same advisory handled again (a reaper that crashed before its ack)
    // finds the job gone and publishes nothing.
    const advisory = await bus.jsm.streams.getMessage(names.advisoriesStream, {
      last_by_subj: names.exhaustedJobsAdvisory,
    });
    assert.ok(advisory);
    assert.deepEqual(await deadLetterExhausted(bus, advisory.data), {
      kind: 'gone',
      sequence,
    });
    assert.equal((await storedEvents(bus, studyId)).length, 1);
  });

  test('a following reaper dead-letters a job as soon as its deliveries run out', async () => {
    const studyId = 'exhausted-follow';
    const stop = new AbortController();
    const reaping = reapExhaustedJobs(bus, {
      signal: stop.signal,
      follow: true,
      pollMs: 1000,
    });
    try {
      const job = { kind: 'distill', studyId, jobId: 'job-followed', arm: 'kd' };
      await submitJob(bus, names.distillSubject, `${studyId}.job-followed`, job);
      await loseEveryDelivery(bus, 'job-followed');
      let counts = new Map<string, number>();
      for (let i = 0; i < 150 && counts.size === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        counts = await deadLetteredJobs(bus, studyId);
      }
      assert.deepEqual(counts, new Map([['job-followed', 1]]));
    } finally {
      stop.abort();
    }
    const outcomes = await reaping;
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['dead-lettered'],
    );
  });

  test('a job whose result is stored (its worker died before the ack) is only removed', async () => {
    const studyId = 'exhausted-finished';
    const job = { kind: 'distill', studyId, jobId: 'job-done', arm: 'baseline' };
    await submitJob(bus, names.distillSubject, `${studyId}.job-done`, job);
    const sequence = await loseEveryDelivery(bus, 'job-done');
    await putResult(bus, studyId, 'job-done', { accuracy: 0.9 });
    let outcomes: Awaited<ReturnType<typeof reapExhaustedJobs>> = [];
    for (let i = 0; i < 100 && outcomes.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      outcomes = await reapExhaustedJobs(bus, {
        signal: new AbortController().signal,
        follow: false,
      });
    }
    assert.deepEqual(outcomes, [
      { kind: 'finished', sequence, studyId, jobId: 'job-done' },
    ]);
    assert.deepEqual(await storedEvents(bus, studyId), []);
    assert.deepEqual(await deadLetteredJobs(bus, studyId), new Map());
    assert.equal(
      await bus.jsm.streams.getMessage(names.jobsStream, { seq: sequence }),
      null,
    );
  });

  test('a pass that does not follow waits for announcements another reaper holds', async () => {
    const studyId = 'exhausted-held';
    const job = { kind: 'distill', studyId, jobId: 'job-held', arm: 'baseline' };
    await submitJob(bus, names.distillSubject, `${studyId}.job-held`, job);
    await loseEveryDelivery(bus, 'job-held');
    // Another reaper (a following watch) takes the announcement...
    const advisories = await bus.js.consumers.get(
      names.advisoriesStream,
      names.exhaustedJobsConsumer,
    );
    let held = null;
    for (let i = 0; i < 100 && !held; i++)
      held = await advisories.next({ expires: 1000 });
    assert.ok(held, 'nats-server did not announce the exhausted job');
    // ...while a submission's pass looks: it waits instead of returning.
    let settled = false;
    const pass = reapExhaustedJobs(bus, {
      signal: new AbortController().signal,
      follow: false,
    }).then((outcomes) => {
      settled = true;
      return outcomes;
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(settled, false, 'the pass returned while an announcement was held');
    // The other reaper dead-letters the job: the pass then returns, and the
    // job's failure is there for the submission to count.
    await deadLetterExhausted(bus, held.data);
    await held.ackAck();
    assert.deepEqual(await pass, []);
    assert.deepEqual(await deadLetteredJobs(bus, studyId), new Map([['job-held', 1]]));
  });

  test('advisories that name no job of the queue are acked and ignored', async () => {
    const cases: Array<[string, RegExp | 'gone']> = [
      ['not json', /not JSON/],
      [
        JSON.stringify({ stream: names.jobsStream, stream_seq: -3 }),
        /stream_seq: expected a positive integer, got -3/,
      ],
      [
        JSON.stringify({ stream: 'OTHER', stream_seq: 4 }),
        /stream: expected VICINAL_JOBS, got "OTHER"/,
      ],
      [
        JSON.stringify({ stream: names.jobsStream, stream_seq: 999_999, deliveries: 5 }),
        'gone',
      ],
    ];
    for (const [text, expected] of cases) {
      const outcome = await deadLetterExhausted(bus, new TextEncoder().encode(text));
      if (expected === 'gone')
        assert.deepEqual(outcome, { kind: 'gone', sequence: 999_999 });
      else {
        assert.equal(outcome.kind, 'unreadable');
        assert.match(outcome.kind === 'unreadable' ? outcome.reason : '', expected);
      }
    }
  });
});
