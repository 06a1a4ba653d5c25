import { DeliverPolicy } from '@nats-io/jetstream';
import type { Bus } from './connection.js';
import { names } from './names.js';

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
  | { type: 'job-failed'; jobId: string; error: string };

/** Appends an event to the study's persistent event stream. */
export async function publishEvent(bus: Bus, studyId: string, event: StudyEvent) {
  await bus.js.publish(names.eventsSubject(studyId), JSON.stringify(event));
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
