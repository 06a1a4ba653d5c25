import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  JOB_MAX_DELIVER,
  names,
  publishEvent,
  type SeenEvent,
  storedEvents,
} from '@vicinal/bus';
import type { PlannedJob } from '@vicinal/config';
import { smallDistillJob } from '../../../../test/support/distill-jobs.js';
import { loseEveryDelivery } from '../../../../test/support/lost-deliveries.js';
import { testBus } from '../../../../test/support/test-bus.js';
import {
  endsTheWait,
  jobMessageId,
  type SubmittedCopy,
  submitJobs,
} from './run-study.js';

// A study re-run after one of its jobs was dead-lettered, against a
// nats-server of its own on loopback. The students' side is played here by
// hand: it takes the job from the queue and terminates it, with the events a
// student trainer publishes for each failed delivery.
const nats = testBus('resubmit-test', { jobAckWaitSeconds: 1 });

const planned = (studyId: string, jobId: string): PlannedJob => ({
  job: smallDistillJob({ studyId, jobId, arm: 'baseline', seed: 1, epochs: 1 }),
  teacher: null,
  temperature: null,
  datasetIndex: 0,
  studentIndex: 0,
});

/** Takes the next queued job as a student would; null when none comes. */
async function takeJob() {
  const consumer = await nats.bus.js.consumers.get(
    names.jobsStream,
    names.studentsConsumer,
  );
  return consumer.next({ expires: 2000 });
}

async function deadLetter(studyId: string, jobId: string): Promise<number> {
  const msg = await takeJob();
  assert.ok(msg, `job ${jobId} was not in the queue`);
  assert.equal(msg.json<{ jobId: string }>().jobId, jobId);
  for (let d = 1; d <= JOB_MAX_DELIVER; d++) {
    await publishEvent(nats.bus, studyId, {
      type: 'job-failed',
      jobId,
      error: `out of memory (delivery ${d})`,
      deliveryCount: d,
      jobSequence: msg.seq,
    });
  }
  msg.term();
  return msg.seq;
}

/** Per job, how many earlier copies were dead-lettered, from submitJobs' answer. */
const deadLetteredOf = (copies: Map<string, SubmittedCopy>) =>
  new Map([...copies].map(([id, c]) => [id, c.deadLettered]));

test('a re-run submits a dead-lettered job again, and a still-queued one once', async () => {
  const studyId = 'resubmit-study';
  const jobs = [planned(studyId, 'job-a'), planned(studyId, 'job-b')];
  const lines: string[] = [];
  const first = await submitJobs(nats.bus, studyId, jobs, (l) => lines.push(l));
  assert.deepEqual(
    deadLetteredOf(first),
    new Map([
      ['job-a', 0],
      ['job-b', 0],
    ]),
  );
  assert.deepEqual(lines, [`submitted 2 jobs for study ${studyId}`]);

  // job-a fails all its deliveries; job-b waits in the queue behind it.
  const lostCopy = await deadLetter(studyId, 'job-a');
  assert.equal(lostCopy, first.get('job-a')?.sequence);

  lines.length = 0;
  const second = await submitJobs(nats.bus, studyId, jobs, (l) => lines.push(l));
  assert.deepEqual(
    deadLetteredOf(second),
    new Map([
      ['job-a', 1],
      ['job-b', 0],
    ]),
  );
  assert.deepEqual(lines, [
    `submitted 2 jobs for study ${studyId}: 1 queued now, 1 already queued by an ` +
      'earlier run, 1 of them queued again after being dead-lettered in an earlier run',
  ]);
  // The queue now holds job-b once and job-a again, as a first delivery.
  const seen: string[] = [];
  for (let msg = await takeJob(); msg; msg = await takeJob()) {
    seen.push(`${msg.json<{ jobId: string }>().jobId}@${msg.info.deliveryCount}`);
    await msg.ackAck();
  }
  assert.deepEqual(seen.sort(), ['job-a@1', 'job-b@1']);
  // job-b was found queued: the same copy as before. job-a is a new copy.
  assert.equal(second.get('job-b')?.sequence, first.get('job-b')?.sequence);
  assert.notEqual(second.get('job-a')?.sequence, lostCopy);
});

test('a re-run dead-letters a job whose workers were all killed, and queues it again', async () => {
  const studyId = 'killed-study';
  const jobs = [planned(studyId, 'job-k')];
  const first = await submitJobs(nats.bus, studyId, jobs, () => {});
  // Each delivery's worker dies: no ack, no failure event. The last ack wait
  // runs out while a worker is pulling; no coordinator is running.
  await loseEveryDelivery(nats.bus, 'job-k');
  let announced = 0;
  for (let i = 0; i < 100 && announced === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    announced = (await nats.bus.jsm.streams.info(names.advisoriesStream)).state.messages;
  }
  assert.equal(announced, 1, 'nats-server did not announce the exhausted job');

  const lines: string[] = [];
  const again = await submitJobs(nats.bus, studyId, jobs, (l) => lines.push(l));
  assert.deepEqual(deadLetteredOf(again), new Map([['job-k', 1]]));
  // The submission dead-lettered the lost copy first: its event names that
  // copy, so it would not end the wait for the new one.
  const events = await storedEvents(nats.bus, studyId);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.type, 'job-failed');
  assert.equal(
    events[0]?.type === 'job-failed' && events[0].jobSequence,
    first.get('job-k')?.sequence,
  );
  assert.equal(endsTheWait(events[0], first.get('job-k')), true);
  assert.equal(endsTheWait(events[0], again.get('job-k')), false);
  assert.deepEqual(lines, [
    `submitted 1 job for study ${studyId}: 1 queued now, 1 of them queued again ` +
      'after being dead-lettered in an earlier run',
  ]);
  const msg = await takeJob();
  assert.ok(msg, 'the job was not queued again');
  assert.equal(msg.info.deliveryCount, 1);
  assert.equal(msg.headers?.get('Nats-Msg-Id'), jobMessageId(studyId, 'job-k', 1));
  assert.equal(msg.seq, again.get('job-k')?.sequence);
  await msg.ackAck();
  assert.equal(await takeJob(), null);
});

test('a re-run queues a fresh copy of a job whose copy was taken off the queue unfinished', async () => {
  const studyId = 'lost-copy-study';
  const jobs = [planned(studyId, 'job-l')];
  const first = await submitJobs(nats.bus, studyId, jobs, () => {});
  // A worker takes the job off the queue (acked, or terminated) without a
  // result and without a failure report reaching the study.
  const msg = await takeJob();
  assert.ok(msg);
  assert.equal(msg.seq, first.get('job-l')?.sequence);
  await msg.ackAck();

  const lines: string[] = [];
  const again = await submitJobs(nats.bus, studyId, jobs, (l) => lines.push(l));
  assert.deepEqual(lines, [
    `submitted 1 job for study ${studyId}: 1 queued now, 1 of them queued again as ` +
      'their earlier copy was lost',
  ]);
  const copy = await takeJob();
  assert.ok(copy, 'no fresh copy was queued');
  assert.equal(copy.seq, again.get('job-l')?.sequence);
  assert.equal(
    copy.headers?.get('Nats-Msg-Id'),
    `${jobMessageId(studyId, 'job-l', 0)}.lost-${msg.seq}`,
  );
  // Still queued (handed back, not finished): a third run finds it queued
  // and queues nothing new.
  copy.nak();
  const third = await submitJobs(nats.bus, studyId, jobs, () => {});
  assert.equal(third.get('job-l')?.sequence, copy.seq);
  const last = await takeJob();
  assert.equal(last?.seq, copy.seq);
  await last?.ackAck();
  assert.equal(await takeJob(), null);
});

test('message ids: the job id, then a retry number after each dead letter', () => {
  assert.equal(jobMessageId('s', 'j', 0), 's.j');
  assert.equal(jobMessageId('s', 'j', 1), 's.j.retry-1');
  assert.equal(jobMessageId('s', 'j', 3), 's.j.retry-3');
});

test('the wait ends only on a last failure of the current copy, published after the submission counted', () => {
  const copy: SubmittedCopy = { deadLettered: 1, sequence: 40, countedEvents: 95 };
  const failure = (over: Partial<SeenEvent & { type: 'job-failed' }>): SeenEvent => ({
    type: 'job-failed',
    jobId: 'j',
    error: 'boom',
    deliveryCount: JOB_MAX_DELIVER,
    jobSequence: 40,
    sequence: 100,
    ...over,
  });
  assert.equal(endsTheWait(failure({}), copy), true);
  // Not the last delivery.
  assert.equal(endsTheWait(failure({ deliveryCount: 2 }), copy), false);
  // Replayed from an earlier run (counted by the submission).
  assert.equal(endsTheWait(failure({ sequence: 90 }), copy), false);
  // A job this run did not submit.
  assert.equal(endsTheWait(failure({}), undefined), false);
  // An older copy of the job, dead-lettered late (announced now, or queued
  // beside the current one after the duplicate window).
  assert.equal(endsTheWait(failure({ jobSequence: 7 }), copy), false);
  // A worker older than jobSequence: taken as the current copy's, unless the
  // submission already counted it (it made this copy a retry).
  assert.equal(
    endsTheWait(failure({ jobSequence: undefined, sequence: 95 }), copy),
    false,
  );
  assert.equal(endsTheWait(failure({ jobSequence: undefined }), copy), true);
  // Not a failure at all.
  const started: SeenEvent = {
    type: 'job-started',
    jobId: 'j',
    worker: 'w',
    deliveryCount: 5,
    resumedAfterEpoch: 0,
    sequence: 101,
  };
  assert.equal(endsTheWait(started, copy), false);
});
