import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ObjectStore, Objm } from '@nats-io/obj';
import { connect, type NatsConnection, type TlsOptions } from '@nats-io/transport-node';
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
  /** Drains the connection (bounded in time), then closes it. */
  close(): Promise<void>;
}

/** TLS towards NATS, as PEM text or bytes. */
export interface BusTlsOptions {
  /** CA that the server certificate must chain to (default: the system's). */
  ca?: string | Uint8Array;
  /** Client certificate and key, for servers that verify clients. */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
}

export interface BusOptions {
  /** Client name shown by the server (monitoring, logs). */
  name: string;
  /** Seconds a teacher registration lives without a heartbeat. */
  teacherTtlSeconds?: number;
  /** User name and password, for servers with `authorization { users }`. */
  user?: string;
  pass?: string;
  /** Token, for servers with `authorization { token }`. */
  token?: string;
  /** Connect over TLS only (an empty object trusts the system's CAs). */
  tls?: BusTlsOptions;
  /**
   * "create" (default) creates missing streams, buckets and the students'
   * consumer; "bind" uses existing ones without asking for their config,
   * for roles not allowed to create them (teacher, student).
   */
  topology?: 'create' | 'bind';
  /**
   * How long the first connection may take (default 20 s). A server that
   * refuses a client certificate after a TLS 1.3 handshake just closes the
   * socket, so such a refusal surfaces as this timeout.
   */
  connectTimeoutMs?: number;
  /**
   * Seconds a job may go without an ack or a "working" signal before it is
   * redelivered; applies when this connection creates the consumer.
   */
  jobAckWaitSeconds?: number;
}

/**
 * Connects to NATS, creating the streams, buckets and consumers on first use
 * (idempotent) unless `topology` is "bind", and keeps reconnecting forever
 * after a lost connection. Refused credentials or a failed TLS handshake
 * reject at once with the reason.
 */
export async function connectBus(url: string, options: BusOptions): Promise<Bus> {
  if ((options.user === undefined) !== (options.pass === undefined)) {
    throw new Error(
      'NATS credentials: expected both user and password, got only ' +
        (options.user === undefined ? 'a password' : 'a user'),
    );
  }
  const nc = await connect({
    servers: url.split(','),
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: options.connectTimeoutMs ?? 20_000,
    user: options.user,
    pass: options.pass,
    token: options.token,
    tls: options.tls ? tlsOptions(options.tls) : undefined,
  }).catch((err: Error) => {
    const who = options.user ? ` as user "${options.user}"` : '';
    throw new Error(`cannot connect to NATS at ${url}${who}: ${err.message}`);
  });
  try {
    return await openHandles(nc, options);
  } catch (err) {
    await nc.close().catch(() => {});
    throw err;
  }
}

/** How long `Bus.close` waits for a drain before closing outright. */
const CLOSE_DRAIN_MS = 3000;

async function openHandles(nc: NatsConnection, options: BusOptions): Promise<Bus> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  let teachers: KV;
  let results: KV;
  let models: ObjectStore;
  if (options.topology === 'bind') {
    teachers = await kvm.open(names.teachersBucket);
    results = await kvm.open(names.resultsBucket);
    models = await objm.open(names.modelsStore).catch((err: Error) => {
      throw new Error(
        `object store "${names.modelsStore}": ${err.message}; the NATS topology ` +
          'is created by a client with topology "create" (the coordinator)',
      );
    });
  } else {
    await ensureTopology(jsm, { ackWaitSeconds: options.jobAckWaitSeconds });
    teachers = await kvm.create(names.teachersBucket, {
      ttl: (options.teacherTtlSeconds ?? 10) * 1000,
      history: 1,
    });
    results = await kvm.create(names.resultsBucket, { history: 1 });
    models = await objm.create(names.modelsStore);
  }
  return {
    nc,
    js,
    jsm,
    teachers,
    results,
    models,
    async close() {
      if (nc.isClosed()) return;
      // A drain needs the server; with the server gone the client would keep
      // reconnecting and the drain never end, so it gets a bounded time.
      let timer: NodeJS.Timeout | undefined;
      const drained = nc.drain().catch(() => {});
      await Promise.race([
        drained,
        new Promise<void>((r) => {
          timer = setTimeout(r, CLOSE_DRAIN_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!nc.isClosed()) await nc.close().catch(() => {});
    },
  };
}

function tlsOptions(tls: BusTlsOptions): TlsOptions {
  const text = (v: string | Uint8Array | undefined) =>
    v === undefined || typeof v === 'string' ? v : new TextDecoder().decode(v);
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new Error(
      'NATS TLS: expected both a client certificate and its key, got only ' +
        (tls.cert === undefined ? 'the key' : 'the certificate'),
    );
  }
  return { ca: text(tls.ca), cert: text(tls.cert), key: text(tls.key) };
}
