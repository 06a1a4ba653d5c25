import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from '@vicinal/telemetry';
import type { Bus } from './connection.js';

/**
 * A running job's lease: which worker runs it, kept fresh while it runs, in
 * the results bucket under `lease.job-<stream sequence>`. It exists for one
 * case JetStream cannot tell apart from a dead worker: after a nats-server
 * restart, 2.9 counts the ack wait from a job's delivery (the "working"
 * signals that extended it are not on disk), so a job delivered more than
 * the ack wait before the restart is delivered again at once while its
 * first worker, reconnected, trains on. The second delivery stands by while
 * the lease shows its holder alive, and takes the job over only when it is
 * released or its holder falls silent (standBy).
 */
export interface LeaseRecord {
  /**
   * The job's identity (study and job id): a lease left under the same
   * stream sequence by another job (a jobs stream created anew beside the
   * old results bucket) is not this job's.
   */
  job: string;
  worker: string;
  /** The delivery the worker is running. */
  delivery: number;
  /** "done": the job's handler finished (its result is stored). */
  state: 'running' | 'done';
}

const leaseKey = (jobSequence: number) => `lease.job-${jobSequence}`;

/** The lease of a job, with its age by this machine's clock; null when none or released. */
export async function readLease(
  bus: Bus,
  jobSequence: number,
): Promise<{ record: LeaseRecord; ageMs: number; revision: number } | null> {
  const entry = await bus.results.get(leaseKey(jobSequence));
  if (entry?.operation !== 'PUT') return null;
  return {
    record: entry.json<LeaseRecord>(),
    ageMs: Date.now() - entry.created.getTime(),
    revision: entry.revision,
  };
}

/** Writes (or refreshes) this worker's lease on a job. */
export async function holdLease(
  bus: Bus,
  jobSequence: number,
  record: LeaseRecord,
): Promise<void> {
  await bus.results.put(leaseKey(jobSequence), JSON.stringify(record));
}

/** Removes a job's lease: the job is back in the queue for anyone. */
export async function releaseLease(bus: Bus, jobSequence: number): Promise<void> {
  await bus.results.delete(leaseKey(jobSequence));
}

/** What a redelivered job's worker does after standing by. */
export type StandByOutcome = 'run' | 'done' | 'stopped';

/**
 * For a redelivered job: 'run' at once when no other worker holds a lease on
 * it (none, released, or this worker's own). Otherwise it waits, keeping the
 * delivery alive, until the holder finishes ('done': acknowledge it, the
 * result is stored), releases it ('run'), or shows no sign for long enough
 * to be taken for dead ('run'): its lease older than the ack wait and not
 * refreshed during the last half ack wait of watching. A worker cut off by a
 * nats-server restart refreshes its lease as soon as it is back (it does
 * every quarter ack wait), so it is seen alive; a worker that died is taken
 * over half an ack wait after the redelivery. `stopped` when this worker is
 * asked to stop. A lease that cannot be read counts as none: the job runs,
 * as it would without leases.
 */
export async function standBy(
  bus: Bus,
  msg: JsMsg,
  options: {
    job: string;
    worker: string;
    ackWaitMs: number;
    signal: AbortSignal;
    log: Logger;
  },
): Promise<StandByOutcome> {
  const { job, worker, ackWaitMs, signal, log } = options;
  const first = await readLease(bus, msg.seq).catch(() => null);
  if (!first || first.record.job !== job || first.record.worker === worker) return 'run';
  if (first.record.state === 'done') return 'done';
  log.info(
    {
      jobSequence: msg.seq,
      holder: first.record.worker,
      delivery: msg.info.deliveryCount,
    },
    'job delivered again while another worker holds its lease; standing by until that worker finishes or falls silent',
  );
  const graceMs = ackWaitMs / 2;
  const pollMs = Math.max(50, Math.min(2000, ackWaitMs / 8));
  let revision = first.revision;
  let lastSign = Date.now();
  for (;;) {
    await sleep(pollMs, signal);
    if (signal.aborted) return 'stopped';
    msg.working();
    let now: Awaited<ReturnType<typeof readLease>>;
    try {
      now = await readLease(bus, msg.seq);
    } catch {
      continue; // NATS away for a moment: keep standing by
    }
    if (!now || now.record.job !== job) return 'run';
    if (now.record.state === 'done') return 'done';
    if (now.revision !== revision) {
      revision = now.revision;
      lastSign = Date.now();
    }
    if (now.ageMs >= ackWaitMs && Date.now() - lastSign >= graceMs) {
      log.warn(
        { jobSequence: msg.seq, holder: now.record.worker },
        'the worker holding the job shows no sign of life; taking the job over',
      );
      return 'run';
    }
  }
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
