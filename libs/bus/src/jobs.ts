import type { JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import {
  failSpan,
  inSpan,
  instruments,
  type Logger,
  SpanKind,
  startSpan,
  withSpan,
} from '@vicinal/telemetry';
import type { z } from 'zod';
import type { Bus } from './connection.js';
import {
  holdLease,
  type LeaseRecord,
  releaseLease,
  sleep,
  standBy,
} from './job-lease.js';
import { names } from './names.js';
import { JOB_MAX_DELIVER } from './topology.js';
import { messageTraceContext, traceHeaders } from './trace-headers.js';

/**
 * Publishes a job. The job id is the JetStream message id, so submitting the
 * same job twice within the duplicate window stores it once. The message
 * carries the trace context of a "publish" span in its headers, so the
 * worker's "process" span joins the submitter's trace.
 */
export async function submitJob(
  bus: Bus,
  subject: string,
  jobId: string,
  job: unknown,
): Promise<{ duplicate: boolean; sequence: number }> {
  return withSpan(
    `publish ${subject}`,
    { kind: SpanKind.PRODUCER, attributes: messagingAttributes(subject, jobId, 'send') },
    async (span) => {
      const ack = await bus.js.publish(subject, JSON.stringify(job), {
        msgID: jobId,
        headers: traceHeaders(),
      });
      span.setAttribute('vicinal.job.duplicate', ack.duplicate);
      countJob(subject, ack.duplicate ? 'duplicate' : 'submitted');
      // A duplicate's ack carries the sequence of the copy already stored.
      return { duplicate: ack.duplicate, sequence: ack.seq };
    },
  );
}

export type JobState =
  | 'submitted'
  | 'duplicate'
  | 'started'
  | 'completed'
  | 'completed_elsewhere'
  | 'failed'
  | 'handed_back'
  | 'dead_lettered';

/** Counts a job's state transition (vicinal.jobs, by vicinal.job.state). */
export function countJob(subject: string, state: JobState): void {
  instruments().jobs.add(1, {
    'messaging.destination.name': subject,
    'vicinal.job.state': state,
  });
}

function messagingAttributes(subject: string, jobId: string, operation: string) {
  return {
    'messaging.system': 'nats',
    'messaging.destination.name': subject,
    'messaging.operation.type': operation,
    'messaging.message.id': jobId,
  };
}

export interface JobContext {
  /** 1 on first delivery, more when the job was redelivered. */
  deliveryCount: number;
  /** Stream sequence of the job's message (one per copy of the job). */
  jobSequence: number;
  /** Aborted when the worker is asked to stop. */
  signal: AbortSignal;
}

export interface ConsumeOptions<S extends z.ZodType> {
  schema: S;
  handler: (job: z.output<S>, ctx: JobContext) => Promise<void>;
  log: Logger;
  pollMs: number;
  signal: AbortSignal;
  /** Stop after this many handled jobs (0 = never). */
  maxJobs?: number;
  /** This worker's name in job leases (default worker-<pid>). */
  worker?: string;
}

/**
 * Pulls jobs one at a time from the students' durable consumer. A job is
 * acked only after its handler resolved (its result is stored). While it
 * runs, "working" signals keep it from being redelivered. A job that cannot
 * be decoded, or that failed JOB_MAX_DELIVER times, goes to the dead-letter
 * subject with the reason. On stop, the job in hand is handed back (nak)
 * so another worker takes it at once. A running job holds a lease
 * (job-lease.ts), refreshed with each "working" signal, marked done before
 * the ack and released when the job goes back; a redelivered job whose lease
 * another worker still keeps fresh is not run twice: this worker stands by
 * and acknowledges it once that worker is done.
 */
export async function consumeJobs<S extends z.ZodType>(
  bus: Bus,
  options: ConsumeOptions<S>,
): Promise<number> {
  const { schema, handler, log, pollMs, signal } = options;
  const worker = options.worker ?? `worker-${process.pid}`;
  const consumer = await bus.js.consumers.get(names.jobsStream, names.studentsConsumer);
  // "Working" signals go out four times per ack wait of the consumer.
  const ackWaitMs = ((await consumer.info()).config.ack_wait ?? 30e9) / 1e6;
  let handled = 0;
  while (!signal.aborted && (!options.maxJobs || handled < options.maxJobs)) {
    let msg: JsMsg | null;
    try {
      msg = await consumer.next({ expires: Math.max(1000, pollMs) });
    } catch (err) {
      if (signal.aborted) break;
      log.warn({ err: (err as Error).message }, 'job pull failed; retrying');
      await sleep(Math.min(pollMs, 1000), signal);
      continue;
    }
    if (!msg) continue;
    const deliveryCount = msg.info.deliveryCount;
    let job: z.output<S>;
    try {
      const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(msg.data)));
      if (!parsed.success)
        throw new Error(parsed.error.issues.map(describeIssue).join('; '));
      job = parsed.data;
    } catch (err) {
      await deadLetter(bus, msg, `undecodable job: ${(err as Error).message}`, log);
      continue;
    }
    const identity = jobIdentity(msg, job);
    if (deliveryCount > 1) {
      const outcome = await standBy(bus, msg, {
        job: identity,
        worker,
        ackWaitMs,
        signal,
        log,
      });
      if (outcome === 'stopped') {
        msg.nak();
        break;
      }
      if (outcome === 'done') {
        // Another worker ran this delivery's job to the end and stored its result.
        countJob(msg.subject, 'completed_elsewhere');
        log.info({ jobSequence: msg.seq }, 'job finished by the worker that held it');
        await msg.ackAck().catch(() => {});
        continue;
      }
    }
    const lease: LeaseRecord = {
      job: identity,
      worker,
      delivery: deliveryCount,
      state: 'running',
    };
    // Best effort: without a lease the job runs as it would have before them.
    const hold = (record: LeaseRecord) =>
      holdLease(bus, msg.seq, record).catch((err: Error) =>
        log.debug({ err: err.message }, 'job lease not written'),
      );
    await hold(lease);
    const working = setInterval(() => {
      msg.working();
      void hold(lease);
    }, ackWaitMs / 4);
    // The worker's side of the job, in the submitter's trace.
    const span = startSpan(`process ${msg.subject}`, {
      kind: SpanKind.CONSUMER,
      parent: messageTraceContext(msg.headers),
      attributes: {
        ...messagingAttributes(msg.subject, jobIdOf(job), 'process'),
        'messaging.consumer.group.name': names.studentsConsumer,
        'vicinal.job.delivery_count': deliveryCount,
      },
    });
    countJob(msg.subject, 'started');
    let finished = false;
    try {
      await inSpan(span, () =>
        handler(job, { deliveryCount, jobSequence: msg.seq, signal }),
      );
      finished = true;
    } catch (err) {
      failSpan(span, err);
      clearInterval(working);
      await releaseLease(bus, msg.seq).catch(() => {});
      if (signal.aborted) {
        countJob(msg.subject, 'handed_back');
        msg.nak();
        break;
      }
      countJob(msg.subject, 'failed');
      const reason = (err as Error).message;
      if (deliveryCount >= JOB_MAX_DELIVER) {
        await deadLetter(bus, msg, `failed ${deliveryCount} times: ${reason}`, log);
      } else {
        log.error({ err: reason, deliveryCount }, 'job failed; handing it back');
        msg.nak(Math.min(30_000, 1000 * 2 ** deliveryCount));
      }
    } finally {
      span.end();
      clearInterval(working);
    }
    if (!finished) continue;
    // Done before the ack: should the ack be lost, the job's next delivery
    // finds its lease done and acknowledges it without running it again.
    await hold({ ...lease, state: 'done' });
    await msg
      .ackAck()
      .catch((err: Error) =>
        log.warn(
          { err: err.message, jobSequence: msg.seq },
          'job finished; its ack was not confirmed',
        ),
      );
    handled += 1;
    countJob(msg.subject, 'completed');
  }
  return handled;
}

/**
 * A job copy's identity, as its lease names it: the message id it was
 * submitted under (study, job and copy), else its study and job id.
 */
function jobIdentity(msg: JsMsg, job: unknown): string {
  const id = msg.headers?.get('Nats-Msg-Id');
  if (id) return id;
  const study = (job as { studyId?: unknown } | null)?.studyId;
  return `${typeof study === 'string' ? study : ''}/${jobIdOf(job)}`;
}

function jobIdOf(job: unknown): string {
  const id = (job as { jobId?: unknown } | null)?.jobId;
  return typeof id === 'string' ? id : '';
}

/**
 * Puts a copy of a job on the dead-letter subject, with the reason and the
 * job's subject in its headers, and counts and logs it. With `msgID`, a
 * second copy of the same job is dropped within the jobs stream's window.
 */
export async function publishDeadLetter(
  bus: Bus,
  job: { subject: string; data: Uint8Array },
  reason: string,
  options: { msgID?: string; log?: Logger; context?: Record<string, unknown> } = {},
): Promise<void> {
  options.log?.error(
    { subject: job.subject, reason, ...options.context },
    'job dead-lettered',
  );
  countJob(job.subject, 'dead_lettered');
  const h = headers();
  h.set('Vicinal-Reason', reason.slice(0, 1000));
  h.set('Vicinal-Subject', job.subject);
  await bus.js.publish(names.deadLetterSubject, job.data, {
    headers: h,
    ...(options.msgID ? { msgID: options.msgID } : {}),
  });
}

/** Whether the job message at `sequence` is still in the queue. */
export async function isJobQueued(bus: Bus, sequence: number): Promise<boolean> {
  return (await bus.jsm.streams.getMessage(names.jobsStream, { seq: sequence })) !== null;
}

async function deadLetter(bus: Bus, msg: JsMsg, reason: string, log: Logger) {
  await publishDeadLetter(bus, msg, reason, { log });
  // No reason on the termination: nats-server 2.9 takes only a bare "+TERM"
  // and ignores "+TERM <reason>", leaving the job to come back after the ack
  // wait. The reason travels with the dead-letter copy.
  msg.term();
}

function describeIssue(issue: { path: PropertyKey[]; message: string }): string {
  return `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
}
