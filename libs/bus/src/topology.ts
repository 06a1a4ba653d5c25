import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { names } from './names.js';

const SECOND_NS = 1_000_000_000;

/** How long a job may go without an ack or a "working" signal before redelivery. */
export const JOB_ACK_WAIT_SECONDS = 60;
/** Deliveries before a failing job is dead-lettered. */
export const JOB_MAX_DELIVER = 5;

/**
 * Creates the jobs, events and advisories streams, the students' consumer
 * and the consumer of the advisories if missing.
 */
export async function ensureTopology(
  jsm: JetStreamManager,
  options: { ackWaitSeconds?: number } = {},
): Promise<void> {
  await addStreamIfMissing(jsm, names.jobsStream, {
    subjects: ['vicinal.jobs.>', 'vicinal.dead.>'],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 3600 * SECOND_NS,
  });
  await addStreamIfMissing(jsm, names.eventsStream, {
    subjects: ['vicinal.events.>'],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 7 * 24 * 3600 * SECOND_NS,
    // Events published with a message id (a coordinator's dead letters) are
    // stored once for an hour, however late a second attempt comes.
    duplicate_window: 3600 * SECOND_NS,
  });
  // A job that runs out of deliveries without a failure report (its workers
  // were killed) is announced only by a core-NATS advisory; this stream
  // keeps it until a coordinator dead-letters the job (exhausted-jobs.ts).
  await addStreamIfMissing(jsm, names.advisoriesStream, {
    subjects: [names.exhaustedJobsAdvisory],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: 7 * 24 * 3600 * SECOND_NS,
  });
  await addConsumerIfMissing(jsm, names.advisoriesStream, {
    durable_name: names.exhaustedJobsConsumer,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: 30 * SECOND_NS,
  });
  const existing = await jsm.consumers
    .info(names.jobsStream, names.studentsConsumer)
    .catch(() => null);
  if (!existing) {
    await jsm.consumers.add(names.jobsStream, {
      durable_name: names.studentsConsumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: names.distillSubject,
      ack_wait: (options.ackWaitSeconds ?? JOB_ACK_WAIT_SECONDS) * SECOND_NS,
      max_deliver: JOB_MAX_DELIVER,
      max_ack_pending: 64,
    });
  }
}

async function addConsumerIfMissing(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  const info = await jsm.consumers.info(stream, config.durable_name).catch(() => null);
  if (!info) await jsm.consumers.add(stream, config);
}

async function addStreamIfMissing(
  jsm: JetStreamManager,
  name: string,
  config: Partial<StreamConfig>,
): Promise<void> {
  const info = await jsm.streams.info(name).catch(() => null);
  if (!info) await jsm.streams.add({ ...config, name });
}
