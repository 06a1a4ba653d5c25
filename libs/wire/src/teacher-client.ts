import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { TeacherCallError } from './call-error.js';
import { decodeDescription, type TeacherDescription } from './describe.js';
import type {
  DescribeRequestMessage,
  DescribeResponseMessage,
  SoftLabelsRequestMessage,
  SoftLabelsResponseMessage,
} from './messages.js';
import { teacherMethod } from './proto.js';
import {
  decodeSoftLabelsResponse,
  encodeSoftLabelsQuery,
  type SoftLabelsQuery,
  type SoftLabelsResult,
} from './soft-labels.js';
import { SoftLabelsStream } from './soft-labels-stream.js';
import {
  type ClientTlsOptions,
  channelCredentials,
  checkPlaintextAllowed,
} from './transport-security.js';

export interface TeacherClientOptions {
  /** How long connect() waits for the channel to be ready (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Reject as soon as a connection attempt fails (refused, TLS error) instead
   * of retrying until connectTimeoutMs: for callers with other teachers to try.
   */
  failFast?: boolean;
  /** Default deadline of each unary call or stream request (default 30 s). */
  deadlineMs?: number;
  /** Largest response accepted (default 64 MiB). */
  maxMessageBytes?: number;
  /** TLS (and a client certificate for mutual TLS); without it, plaintext. */
  tls?: ClientTlsOptions;
  /**
   * Allow plaintext to a non-loopback address. Without TLS and without this,
   * dialling anything but loopback is refused (InsecureTransportError).
   */
  insecure?: boolean;
}

export interface CallOptions {
  /** Deadline of this call in ms from now; overrides the client default. */
  deadlineMs?: number;
  /** Request metadata (e.g. W3C traceparent) sent with a unary call. */
  metadata?: Record<string, string>;
}

/** grpc.health.v1 serving status of a service. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

type Unary<Req, Res> = (
  request: Req,
  deadlineMs: number,
  metadata?: Record<string, string>,
) => Promise<Res>;

/**
 * A client of one teacher server, over TLS when `tls` is given and plaintext
 * otherwise (loopback only, unless `insecure`). Every failed call rejects
 * with a TeacherCallError carrying the status code and, when the server
 * named it, the request field at fault.
 */
export class TeacherClient {
  private readonly client: grpc.Client;
  /** Default deadline of each call (and of each request on a stream), ms. */
  readonly deadlineMs: number;

  private constructor(
    readonly address: string,
    options: TeacherClientOptions,
  ) {
    const maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    if (!options.tls) checkPlaintextAllowed(address, options.insecure ?? false, 'dial');
    const transport = channelCredentials(options.tls);
    this.client = new grpc.Client(address, transport.credentials, {
      ...transport.options,
      'grpc.max_receive_message_length': maxBytes,
      'grpc.max_send_message_length': -1,
    });
    this.deadlineMs = options.deadlineMs ?? 30_000;
  }

  /**
   * Opens a channel to `address` (host:port) and waits until it is ready.
   * A TLS setup that cannot work (unreadable or expired certificate, key not
   * matching) rejects with a TlsConfigError; plaintext to a non-loopback
   * address without `insecure` with an InsecureTransportError.
   */
  static async connect(
    address: string,
    options: TeacherClientOptions = {},
  ): Promise<TeacherClient> {
    const client = new TeacherClient(address, options);
    const timeout = options.connectTimeoutMs ?? 10_000;
    const failure = await client.whenReady(
      Date.now() + timeout,
      options.failFast ?? false,
    );
    if (!failure) return client;
    // The channel only says "deadline" or "failed"; one fail-fast call returns
    // its last connection error (refused, TLS alert, unknown CA...).
    const reason = await client.health('', { deadlineMs: 1000 }).then(
      () => null,
      (err: TeacherCallError) => connectionFailure(err.message) ?? failure,
    );
    if (reason === null) return client; // became ready meanwhile
    client.close();
    throw new TeacherCallError(
      grpc.status.UNAVAILABLE,
      failure === 'deadline'
        ? `teacher at ${address} not reachable within ${timeout} ms (${reason})`
        : `teacher at ${address} not reachable (${reason})`,
    );
  }

  /**
   * Waits until the channel is READY (null), the deadline passes
   * ("deadline"), or, with `failFast`, a connection attempt fails ("failed").
   */
  private whenReady(deadline: number, failFast: boolean): Promise<string | null> {
    const channel = this.client.getChannel();
    return new Promise((resolve) => {
      const check = () => {
        const state = channel.getConnectivityState(true);
        if (state === grpc.connectivityState.READY) return resolve(null);
        if (state === grpc.connectivityState.SHUTDOWN) return resolve('failed');
        if (failFast && state === grpc.connectivityState.TRANSIENT_FAILURE) {
          return resolve('failed');
        }
        channel.watchConnectivityState(state, deadline, (err) =>
          err ? resolve('deadline') : check(),
        );
      };
      check();
    });
  }

  /** Soft labels for one batch (unary call). */
  async softLabels(
    query: SoftLabelsQuery,
    options: CallOptions = {},
  ): Promise<SoftLabelsResult> {
    const requestId = query.requestId ?? 0;
    const { message, rows } = encodeSoftLabelsQuery(query, requestId);
    const response = await this.unary<
      SoftLabelsRequestMessage,
      SoftLabelsResponseMessage
    >('SoftLabels')(message, options.deadlineMs ?? this.deadlineMs, options.metadata);
    return decodeSoftLabelsResponse(
      response,
      rows,
      query.mix?.returnConstituents ?? false,
    );
  }

  /**
   * Opens a SoftLabelsStream call for keeping several batches in flight.
   * `deadlineMs` bounds the whole stream (default: none).
   */
  stream(options: CallOptions = {}): SoftLabelsStream {
    const method = teacherMethod<SoftLabelsRequestMessage, SoftLabelsResponseMessage>(
      'SoftLabelsStream',
    );
    const callOptions: grpc.CallOptions = {};
    if (options.deadlineMs !== undefined)
      callOptions.deadline = Date.now() + options.deadlineMs;
    const call = this.client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      new grpc.Metadata(),
      callOptions,
    );
    return new SoftLabelsStream(call);
  }

  /** What the server serves (its default model when `model` is empty). */
  async describe(model = '', options: CallOptions = {}): Promise<TeacherDescription> {
    const response = await this.unary<DescribeRequestMessage, DescribeResponseMessage>(
      'Describe',
    )({ model }, options.deadlineMs ?? this.deadlineMs);
    return decodeDescription(response);
  }

  /** grpc.health.v1 Check for `service` ("" = the whole server). */
  async health(service = '', options: CallOptions = {}): Promise<ServingStatus> {
    const method = healthService.Check as grpc.MethodDefinition<
      { service: string },
      { status: ServingStatus }
    >;
    const response = await this.call(
      method,
      { service },
      options.deadlineMs ?? this.deadlineMs,
    );
    return response.status;
  }

  /** Closes the channel; calls still running fail with CANCELLED. */
  close(): void {
    this.client.close();
  }

  private unary<Req, Res>(name: 'SoftLabels' | 'Describe'): Unary<Req, Res> {
    const method = teacherMethod<Req, Res>(name);
    return (request, deadlineMs, metadata) =>
      this.call(method, request, deadlineMs, metadata);
  }

  private call<Req, Res>(
    method: grpc.MethodDefinition<Req, Res>,
    request: Req,
    deadlineMs: number,
    metadata: Record<string, string> = {},
  ): Promise<Res> {
    const sent = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata)) sent.set(key, value);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        sent,
        { deadline: Date.now() + deadlineMs },
        (err, response) => {
          if (err) reject(TeacherCallError.fromServiceError(err));
          else if (response === undefined) {
            reject(
              new TeacherCallError(
                grpc.status.INTERNAL,
                `${method.path}: empty response`,
              ),
            );
          } else resolve(response);
        },
      );
    });
  }
}

/** The "Last error" grpc-js reports for a channel that never connected, tidied. */
function connectionFailure(details: string): string | null {
  const m =
    /Last error: ([\s\S]*?)(?:\s*\(\d{4}-\d\d-\d\dT[^)]*\))?\.?\s*(?:Resolution note:[\s\S]*)?$/.exec(
      details,
    );
  if (!m) return null;
  const openssl = /SSL routines:[^:]*:([^:]+)/.exec(m[1]);
  return openssl
    ? openssl[1]
    : m[1]
        .replace(/\s+/g, ' ')
        .replace(/^Error: /, '')
        .trim();
}
