import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '@vicinal/telemetry';
import type { Bus } from './connection.js';
import { publishEvent, type StudyEvent } from './events.js';
import { isJobQueued, publishDeadLetter } from './jobs.js';
import { names } from './names.js';
import { getResult } from './results.js';

/** The fields of a max-deliveries advisory this module reads. */
interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export type ExhaustedOutcome =
  /** Dead-lettered, with a final job-failed event for its study. */
  | {
      kind: 'dead-lettered';
      sequence: number;
      studyId: string | null;
      jobId: string | null;
    }
  /** The job was no longer in the queue (handled meanwhile, or by an earlier pass). */
  | { kind: 'gone'; sequence: number }
  /**
   * The job has a stored result (its worker finished it but stopped before
   * the ack): only removed from the queue.
   */
  | { kind: 'finished'; sequence: number; studyId: string; jobId: string }
  /** The advisory did not parse: nothing to do. */
  | { kind: 'unreadable'; reason: string };

/**
 * Why a job ran out of deliveries without a failure report: every worker
 * that held it stopped before the job ended (a worker that fails reports it).
 */
export function exhaustedReason(deliveries: number): string {
  return (
    `no worker finished it in ${deliveries} deliveries and none reported a ` +
    'failure: each worker holding it stopped first (killed, out of memory, shut ' +
    'down, or cut off from NATS for longer than the ack wait)'
  );
}

/**
 * Dead-letters the job one max-deliveries advisory names, as a worker
 * dead-letters a job that failed on its last delivery: a copy on the
 * dead-letter subject with the reason, a job-failed event of its last
 * delivery for its study (so the coordinator stops waiting for it and a
 * re-run queues it again), and the job removed from the queue. A job that
 * has a result is only removed. Safe to run twice for one advisory: the
 * second finds the job gone, and the copies are published under message ids
 * the jobs and events streams de-duplicate for an hour.
 */
export async function deadLetterExhausted(
  bus: Bus,
  data: Uint8Array,
  log?: Logger,
): Promise<ExhaustedOutcome> {
  let advisory: MaxDeliveriesAdvisory;
  try {
    advisory = JSON.parse(new TextDecoder().decode(data));
  } catch (err) {
    return { kind: 'unreadable', reason: `not JSON: ${(err as Error).message}` };
  }
  const sequence = advisory?.stream_seq;
  if (!Number.isSafeInteger(sequence) || sequence <= 0) {
    return {
      kind: 'unreadable',
      reason: `stream_seq: expected a positive integer, got ${JSON.stringify(sequence)}`,
    };
  }
  if (advisory.stream !== names.jobsStream) {
    return {
      kind: 'unreadable',
      reason: `stream: expected ${names.jobsStream}, got ${JSON.stringify(advisory.stream)}`,
    };
  }
  const stored = await bus.jsm.streams.getMessage(names.jobsStream, { seq: sequence });
  if (!stored) return { kind: 'gone', sequence };
  let studyId: string | null = null;
  let jobId: string | null = null;
  try {
    const job = JSON.parse(new TextDecoder().decode(stored.data)) as {
      studyId?: unknown;
      jobId?: unknown;
    };
    if (typeof job?.studyId === 'string' && job.studyId) studyId = job.studyId;
    if (typeof job?.jobId === 'string' && job.jobId) jobId = job.jobId;
  } catch {
    // An undecodable job cannot be traced to a study; the copy below keeps it.
  }
  if (studyId && jobId && (await getResult(bus, studyId, jobId))) {
    await removeJob(bus, sequence);
    log?.info({ sequence, studyId, jobId }, 'finished job removed from the queue');
    return { kind: 'finished', sequence, studyId, jobId };
  }
  const deliveries = Number.isSafeInteger(advisory.deliveries) ? advisory.deliveries : 0;
  const reason = exhaustedReason(deliveries);
  const msgID = `exhausted-${sequence}`;
  await publishDeadLetter(bus, stored, reason, {
    msgID,
    log,
    context: { sequence, studyId, jobId },
  });
  if (studyId && jobId) {
    const event: StudyEvent = {
      type: 'job-failed',
      jobId,
      error: reason,
      deliveryCount: deliveries,
      jobSequence: sequence,
    };
    await publishEvent(bus, studyId, event, { msgID });
  }
  await removeJob(bus, sequence);
  return { kind: 'dead-lettered', sequence, studyId, jobId };
}

/** Deletes a job's message; one already gone (acked late by its worker) is fine. */
async function removeJob(bus: Bus, sequence: number): Promise<void> {
  try {
    await bus.jsm.streams.deleteMessage(names.jobsStream, sequence, false);
  } catch (err) {
    if (await isJobQueued(bus, sequence)) throw err;
  }
}

/** How long a pass that does not follow waits for another reaper's held announcements. */
export const HELD_ANNOUNCEMENT_WAIT_MS = 10_000;

/**
 * Whether announcements wait to be handled. When none does but another
 * reaper holds some unacknowledged, waits up to HELD_ANNOUNCEMENT_WAIT_MS
 * for it to settle them (a live reaper does in well under a second; one
 * that crashed holding them releases them only after the consumer's 30 s
 * ack wait, which this does not wait out). Not when this pass itself has
 * handed one back to retry (`retrying`): those would be waited for forever.
 */
async function announcementsWaiting(
  consumer: Consumer,
  signal: AbortSignal,
  retrying: boolean,
): Promise<boolean> {
  let info = await consumer.info();
  const until = Date.now() + HELD_ANNOUNCEMENT_WAIT_MS;
  while (
    !retrying &&
    info.num_pending === 0 &&
    info.num_ack_pending > 0 &&
    Date.now() < until &&
    !signal.aborted
  ) {
    await new Promise((r) => setTimeout(r, 200));
    info = await consumer.info();
  }
  return info.num_pending > 0;
}

/**
 * Handles the max-deliveries advisories of the students' consumer, which
 * the advisories stream keeps (ensureTopology) until a reaper acks them, so
 * none is lost while no reaper runs. With `follow` it waits for new ones
 * until `signal` aborts; without, it returns once none is waiting, and on
 * a failing bus it warns (through `log`) and returns what it handled, the
 * rest staying for a later pass. Several reapers share one durable
 * consumer, so each advisory is handled once.
 */
export async function reapExhaustedJobs(
  bus: Bus,
  options: {
    signal: AbortSignal;
    follow: boolean;
    pollMs?: number;
    log?: Logger;
    /** Told of what could not be handled (besides `log`), e.g. to print it. */
    onWarning?: (message: string) => void;
  },
): Promise<ExhaustedOutcome[]> {
  const { signal, follow, log } = options;
  const warn = (err: string, message: string) => {
    log?.warn({ err }, message);
    options.onWarning?.(`${message}: ${err}`);
  };
  const consumer = await bus.js.consumers.get(
    names.advisoriesStream,
    names.exhaustedJobsConsumer,
  );
  const outcomes: ExhaustedOutcome[] = [];
  let retrying = false;
  while (!signal.aborted) {
    let msg: JsMsg | null;
    try {
      // Nothing announced: a pass that does not follow returns, once the
      // announcements another reaper holds (a following watch or study) are
      // settled, so that the jobs it dead-letters count for the caller.
      if (!follow && !(await announcementsWaiting(consumer, signal, retrying))) break;
      msg = await consumer.next({
        expires: follow ? Math.max(1000, options.pollMs ?? 5000) : 1000,
      });
    } catch (err) {
      if (signal.aborted) break;
      const message = (err as Error).message;
      if (!follow) {
        warn(message, 'jobs out of deliveries not checked (left for a later run)');
        break;
      }
      log?.warn({ err: message }, 'advisory pull failed; retrying');
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    if (!msg) {
      if (follow) continue;
      break;
    }
    try {
      const outcome = await deadLetterExhausted(bus, msg.data, log);
      if (outcome.kind === 'unreadable') {
        log?.warn({ reason: outcome.reason }, 'max-deliveries advisory ignored');
      }
      outcomes.push(outcome);
      await msg.ackAck();
    } catch (err) {
      // The bus failed mid-way: the advisory comes back after the ack wait.
      warn((err as Error).message, 'a job out of deliveries not dead-lettered yet');
      msg.nak(1000);
      retrying = true;
    }
  }
  return outcomes;
}
