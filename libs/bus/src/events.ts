import { DeliverPolicy } from '@nats-io/jetstream';
import type { Bus } from './connection.js';
import { names } from './names.js';
import { JOB_MAX_DELIVER } from './topology.js';

/** A progress event of a study, in the order a worker emits them. */
export type StudyEvent =
  | {
      type: 'job-started';
      jobId: string;
      worker: string;
      deliveryCount: number;
      /** Epochs a previous delivery finished and checkpointed (0: fresh start). */
      resumedAfterEpoch: number;
    }
  | {
      type: 'epoch';
      jobId: string;
      epoch: number;
      epochs: number;
      loss: number;
      samplesPerSecond: number;
    }
  | { type: 'job-finished'; jobId: string; accuracy: number; ece: number }
  | {
      type: 'job-failed';
      jobId: string;
      error: string;
      /**
       * The delivery that failed (1 = first). At JOB_MAX_DELIVER the job was
       * dead-lettered. Absent in events of workers older than this field.
       */
      deliveryCount?: number;
      /**
       * Stream sequence of the job's message that failed: tells a job's
       * copies apart (a re-run queues a dead-lettered job as a new copy).
       * Absent in events of workers older than this field.
       */
      jobSequence?: number;
    };

/** Whether a failure event reports the job's last delivery: it was dead-lettered. */
export function isFinalFailure(event: StudyEvent): boolean {
  return (
    event.type === 'job-failed' &&
    event.deliveryCount !== undefined &&
    event.deliveryCount >= JOB_MAX_DELIVER
  );
}

/**
 * Which delivery a failure event reports, for people: "delivery 2 of 5", or
 * "delivery 5 of 5; dead-lettered" for the last; null when the event does
 * not say (a worker older than deliveryCount).
 */
export function deliveryNote(event: StudyEvent): string | null {
  if (event.type !== 'job-failed' || event.deliveryCount === undefined) return null;
  const note = `delivery ${event.deliveryCount} of ${JOB_MAX_DELIVER}`;
  return isFinalFailure(event) ? `${note}; dead-lettered` : note;
}

/**
 * Appends an event to the study's persistent event stream. With `msgID`,
 * JetStream stores one event per id within its de-duplication window.
 */
export async function publishEvent(
  bus: Bus,
  studyId: string,
  event: StudyEvent,
  options: { msgID?: string } = {},
) {
  await bus.js.publish(
    names.eventsSubject(studyId),
    JSON.stringify(event),
    options.msgID ? { msgID: options.msgID } : undefined,
  );
}

/** An event as the stream holds it: `sequence` orders it among all events. */
export type SeenEvent = StudyEvent & { sequence: number };

/**
 * The stream sequence of the newest event of any study (0: none yet).
 * Events that `watchEvents` yields with a sequence up to this one were
 * published before the call, e.g. by an earlier run of the same study.
 */
export async function lastEventSequence(bus: Bus): Promise<number> {
  const info = await bus.jsm.streams.info(names.eventsStream);
  return info.state.last_seq;
}

/**
 * Replays a study's events from the start and then follows new ones, until
 * the signal aborts. Uses an ordered consumer (no server-side state).
 */
export async function* watchEvents(
  bus: Bus,
  studyId: string,
  signal: AbortSignal,
): AsyncGenerator<SeenEvent> {
  const consumer = await bus.js.consumers.get(names.eventsStream, {
    filter_subjects: names.eventsSubject(studyId),
    deliver_policy: DeliverPolicy.All,
  });
  const messages = await consumer.consume();
  const stop = () => messages.stop();
  signal.addEventListener('abort', stop);
  try {
    for await (const m of messages) yield { ...m.json<StudyEvent>(), sequence: m.seq };
  } finally {
    signal.removeEventListener('abort', stop);
    messages.stop();
  }
}

/**
 * Every event stored for a study so far, in order: its events replayed
 * (watchEvents) up to the newest at the call. A study without events gives
 * none at once.
 */
export async function storedEvents(bus: Bus, studyId: string): Promise<SeenEvent[]> {
  // null: the study has no events (yet).
  const newest = await bus.jsm.streams.getMessage(names.eventsStream, {
    last_by_subj: names.eventsSubject(studyId),
  });
  const events: SeenEvent[] = [];
  if (!newest) return events;
  for await (const event of watchEvents(bus, studyId, new AbortController().signal)) {
    events.push(event);
    if (event.sequence >= newest.seq) break;
  }
  return events;
}

/**
 * Per job of a study, how many of its copies the study's events so far
 * report dead-lettered (isFinalFailure): copies are told apart by
 * `jobSequence`, so two reports of one copy (its worker's and a
 * coordinator's) count once; a report without it counts alone. Reads the
 * study's events stored so far (storedEvents).
 */
export async function deadLetteredJobs(
  bus: Bus,
  studyId: string,
): Promise<Map<string, number>> {
  const copies = new Map<string, Set<string>>();
  for (const event of await storedEvents(bus, studyId)) {
    if (event.type === 'job-failed' && isFinalFailure(event)) {
      const copy =
        event.jobSequence === undefined
          ? `event-${event.sequence}`
          : `job-${event.jobSequence}`;
      copies.set(event.jobId, (copies.get(event.jobId) ?? new Set()).add(copy));
    }
  }
  return new Map([...copies].map(([jobId, set]) => [jobId, set.size]));
}
