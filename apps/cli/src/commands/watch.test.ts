import assert from 'node:assert/strict';
import { test } from 'node:test';
import { names, publishEvent, submitJob } from '@vicinal/bus';
import { loseEveryDelivery } from '../../../../test/support/lost-deliveries.js';
import { testBus } from '../../../../test/support/test-bus.js';
import {
  getManifest,
  gridProgress,
  putManifest,
  type StudyManifest,
} from '../study/grid-state.js';
import type { CommandIo } from './io.js';
import { describeEvent, noStudy, statusCommand, watchCommand } from './watch.js';

// `vicinal watch` against a nats-server of its own on loopback; a job not
// acked within a second is delivered again (the test of lost deliveries).
const nats = testBus('watch-test', { jobAckWaitSeconds: 1 });

function manifest(studyId: string): StudyManifest {
  return {
    studyId,
    submittedAt: new Date().toISOString(),
    teachers: [],
    jobs: [
      {
        jobId: `${studyId}-job`,
        arm: 'baseline',
        teacher: null,
        temperature: null,
        seed: 1,
        dataset: 'fashion-mnist',
        student: 'student-cnn',
      },
    ],
  };
}

/** Stores the one-job grid of a study, then that job's job-finished event. */
async function submitAndFinish(studyId: string, accuracy: number, ece: number) {
  await putManifest(nats.bus, manifest(studyId));
  await publishEvent(nats.bus, studyId, {
    type: 'job-finished',
    jobId: `${studyId}-job`,
    accuracy,
    ece,
  });
}

/** Starts `vicinal watch ARGS`; what it printed so far stays readable while it runs. */
function watch(args: string[], stop?: AbortSignal) {
  const printed = { out: '', err: '' };
  const io: CommandIo = {
    out: (text) => {
      printed.out += text;
    },
    err: (text) => {
      printed.err += text;
    },
    setExitCode: () => {},
  };
  const done = watchCommand(io, stop).parseAsync([...args, '--nats', nats.url], {
    from: 'user',
  });
  return { printed, done };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('watch --no-follow on a study that does not exist fails as status does', async () => {
  const expected = noStudy('nosuch', nats.url);
  const { printed, done } = watch(['nosuch', '--no-follow']);
  await assert.rejects(done, { message: expected });
  assert.equal(printed.out, '');
  await assert.rejects(
    statusCommand().parseAsync(['nosuch', '--nats', nats.url], { from: 'user' }),
    { message: expected },
  );
});

test('watch --no-follow prints the grid and the stored events of a study', async () => {
  await submitAndFinish('stored', 0.5, 0.25);
  const { printed, done } = watch(['stored', '--no-follow']);
  await done;
  assert.equal(
    printed.out,
    'stored: 1 job in the grid\n' +
      'stored-job: finished, accuracy 50.00%, ECE 0.2500 (1/1 finished)\n',
  );
  assert.equal(printed.err, '');
});

test('watch follows a study not submitted yet: says so once, then shows it', async () => {
  const stop = new AbortController();
  const { printed, done } = watch(['later'], stop.signal);
  try {
    await until('the waiting line', () => printed.err !== '');
    assert.equal(
      printed.err,
      `no study "later" on ${nats.url} yet: waiting for it to be submitted ` +
        '(vicinal study or vicinal submit); Ctrl-C to stop\n',
    );
    assert.equal(printed.out, '');
    await submitAndFinish('later', 0.75, 0.125);
    await until('the event', () => printed.out.includes('finished'));
    assert.equal(
      printed.out,
      'later: 1 job in the grid\n' +
        'later-job: finished, accuracy 75.00%, ECE 0.1250 (1/1 finished)\n',
    );
  } finally {
    stop.abort();
    await done;
  }
  assert.equal(printed.err.split('\n').length, 2, 'the waiting line is printed once');
});

/** Stores the one-job grid of a study and queues its job. */
async function queueOneJob(studyId: string, jobId: string) {
  await putManifest(nats.bus, manifest(studyId));
  await submitJob(nats.bus, names.distillSubject, `${studyId}.${jobId}`, {
    kind: 'distill',
    studyId,
    jobId,
    arm: 'baseline',
  });
}

test('a followed study learns of a job whose workers were all killed: watch dead-letters it', async () => {
  const studyId = 'lost';
  const jobId = `${studyId}-job`;
  await queueOneJob(studyId, jobId);
  const stop = new AbortController();
  const { printed, done } = watch([studyId], stop.signal);
  try {
    await until('the grid', () => printed.out !== '');
    await loseEveryDelivery(nats.bus, jobId);
    await until('the dead letter', () => printed.out.includes('failed'));
    assert.match(
      printed.out,
      /^lost-job: failed \(delivery 5 of 5; dead-lettered\): no worker finished it in 5 deliveries/m,
    );
    assert.equal(printed.err, '');
  } finally {
    stop.abort();
    await done;
  }
  // Off the queue, on the dead-letter subject.
  const queue = await nats.bus.jsm.consumers.info(
    names.jobsStream,
    names.studentsConsumer,
  );
  assert.equal(queue.num_pending + queue.num_ack_pending, 0);
  const dead = await nats.bus.jsm.streams.getMessage(names.jobsStream, {
    last_by_subj: names.deadLetterSubject,
  });
  assert.equal(dead?.json<{ jobId: string }>().jobId, jobId);
  assert.match(dead?.header.get('Vicinal-Reason') ?? '', /no worker finished it/);
  // status says so: dead-lettered with the reason, not running on a dead worker.
  const [progress] = await gridProgress(nats.bus, manifest(studyId));
  assert.equal(progress.state, 'dead-lettered');
  assert.match(progress.lastError ?? '', /^no worker finished it in 5 deliveries/);
});

test('watch --no-follow only reads: an announced job stays for a coordinator', async () => {
  const studyId = 'lost-unread';
  const jobId = `${studyId}-job`;
  await queueOneJob(studyId, jobId);
  await loseEveryDelivery(nats.bus, jobId);
  let announced = 0;
  for (let i = 0; i < 100 && announced === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    announced = (
      await nats.bus.jsm.consumers.info(
        names.advisoriesStream,
        names.exhaustedJobsConsumer,
      )
    ).num_pending;
  }
  assert.equal(announced, 1, 'nats-server did not announce the exhausted job');
  const { printed, done } = watch([studyId, '--no-follow']);
  await done;
  assert.doesNotMatch(printed.out, /failed/);
  const advisories = await nats.bus.jsm.consumers.info(
    names.advisoriesStream,
    names.exhaustedJobsConsumer,
  );
  assert.equal(advisories.num_pending, 1, 'the announcement is left for a coordinator');
});

test('a followed grid that is extended is read again: its new size and counts', async () => {
  const stop = new AbortController();
  await putManifest(nats.bus, manifest('grow'));
  const { printed, done } = watch(['grow'], stop.signal);
  try {
    await until('the grid', () => printed.out !== '');
    const bigger = manifest('grow');
    bigger.jobs.push({ ...bigger.jobs[0], jobId: 'grow-job-2', seed: 2 });
    await putManifest(nats.bus, bigger);
    await publishEvent(nats.bus, 'grow', {
      type: 'job-finished',
      jobId: 'grow-job-2',
      accuracy: 0.5,
      ece: 0.25,
    });
    await until('the new job', () => printed.out.includes('grow-job-2'));
    assert.equal(
      printed.out,
      'grow: 1 job in the grid\n' +
        'grow: 2 jobs in the grid\n' +
        'grow-job-2: finished, accuracy 50.00%, ECE 0.2500 (1/2 finished)\n',
    );
  } finally {
    stop.abort();
    await done;
  }
});

test('the same grid submitted again keeps its first submission time', async () => {
  const first = { ...manifest('again'), submittedAt: '2026-01-01T00:00:00.000Z' };
  await putManifest(nats.bus, first);
  await putManifest(nats.bus, { ...first, submittedAt: '2026-01-02T00:00:00.000Z' });
  let stored = await getManifest(nats.bus, 'again');
  assert.equal(stored?.submittedAt, '2026-01-01T00:00:00.000Z');
  assert.equal(stored?.resubmittedAt, '2026-01-02T00:00:00.000Z');
  // Another grid under the same name is a new submission.
  const changed = {
    ...first,
    submittedAt: '2026-01-03T00:00:00.000Z',
    jobs: [{ ...first.jobs[0], jobId: 'again-other-job' }],
  };
  await putManifest(nats.bus, changed);
  stored = await getManifest(nats.bus, 'again');
  assert.equal(stored?.submittedAt, '2026-01-03T00:00:00.000Z');
  assert.equal(stored?.resubmittedAt, undefined);
  // First submissions at the same moment: one is the first, the others
  // find it (a write over what another just wrote fails and reads again).
  const race = manifest('race');
  await Promise.all(
    ['2026-01-04', '2026-01-05', '2026-01-06'].map((day) =>
      putManifest(nats.bus, { ...race, submittedAt: `${day}T00:00:00.000Z` }),
    ),
  );
  stored = await getManifest(nats.bus, 'race');
  assert.match(stored?.submittedAt ?? '', /^2026-01-0[456]T/);
  assert.match(stored?.resubmittedAt ?? '', /^2026-01-0[456]T/);
  assert.notEqual(stored?.submittedAt, stored?.resubmittedAt);
});

test('a failure names its delivery, and the last one says the job was dead-lettered', () => {
  const failed = (deliveryCount?: number) =>
    describeEvent({
      type: 'job-failed',
      jobId: 'j',
      error: 'out of memory',
      deliveryCount,
    });
  assert.equal(failed(2), 'j: failed (delivery 2 of 5): out of memory');
  assert.equal(failed(5), 'j: failed (delivery 5 of 5; dead-lettered): out of memory');
  // Events of workers older than the field.
  assert.equal(failed(undefined), 'j: failed: out of memory');
});
