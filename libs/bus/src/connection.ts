import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ObjectStore, Objm } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { names } from './names.js';
import { ensureTopology } from './topology.js';

/** An open connection with the JetStream handles the services use. */
export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  teachers: KV;
  results: KV;
  models: ObjectStore;
  close(): Promise<void>;
}

export interface BusOptions {
  /** Client name shown by the server (monitoring, logs). */
  name: string;
  /** Seconds a teacher registration lives without a heartbeat. */
  teacherTtlSeconds?: number;
  /**
   * Seconds a job may go without an ack or a "working" signal before it is
   * redelivered; applies when this connection creates the consumer.
   */
  jobAckWaitSeconds?: number;
}

/**
 * Connects to NATS, creating the streams, buckets and consumers on first use
 * (idempotent), and keeps reconnecting forever after a lost connection.
 */
export async function connectBus(url: string, options: BusOptions): Promise<Bus> {
  const nc = await connect({
    servers: url.split(','),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  }).catch((err: Error) => {
    throw new Error(`cannot reach NATS at ${url}: ${err.message}`);
  });
  const jsm = await jetstreamManager(nc);
  await ensureTopology(jsm, { ackWaitSeconds: options.jobAckWaitSeconds });
  const js = jetstream(nc);
  const kvm = new Kvm(nc);
  const teachers = await kvm.create(names.teachersBucket, {
    ttl: (options.teacherTtlSeconds ?? 10) * 1000,
    history: 1,
  });
  const results = await kvm.create(names.resultsBucket, { history: 1 });
  const models = await new Objm(nc).create(names.modelsStore);
  return {
    nc,
    js,
    jsm,
    teachers,
    results,
    models,
    async close() {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}
