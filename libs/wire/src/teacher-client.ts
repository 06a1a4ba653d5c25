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

export interface TeacherClientOptions {
  /** How long connect() waits for the channel to be ready (default 10 s). */
  connectTimeoutMs?: number;
  /** Default deadline of each unary call (default 30 s). */
  deadlineMs?: number;
  /** Largest response accepted (default 64 MiB). */
  maxMessageBytes?: number;
}

export interface CallOptions {
  /** Deadline of this call in ms from now; overrides the client default. */
  deadlineMs?: number;
}

/** grpc.health.v1 serving status of a service. */
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

type Unary<Req, Res> = (request: Req, deadlineMs: number) => Promise<Res>;

/**
 * A client of one teacher server (plain-text gRPC). Every failed call rejects
 * with a TeacherCallError carrying the status code and, when the server
 * named it, the request field at fault.
 */
export class TeacherClient {
  private readonly client: grpc.Client;
  private readonly deadlineMs: number;

  private constructor(
    readonly address: string,
    options: TeacherClientOptions,
  ) {
    const maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxBytes,
      'grpc.max_send_message_length': -1,
    });
    this.deadlineMs = options.deadlineMs ?? 30_000;
  }

  /** Opens a channel to `address` (host:port) and waits until it is ready. */
  static async connect(
    address: string,
    options: TeacherClientOptions = {},
  ): Promise<TeacherClient> {
    const client = new TeacherClient(address, options);
    const timeout = options.connectTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      client.client.waitForReady(Date.now() + timeout, (err) => {
        if (!err) return resolve();
        client.close();
        reject(
          new TeacherCallError(
            grpc.status.UNAVAILABLE,
            `teacher at ${address} not reachable within ${timeout} ms (${err.message})`,
          ),
        );
      });
    });
    return client;
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
    >('SoftLabels')(message, options.deadlineMs ?? this.deadlineMs);
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
    return (request, deadlineMs) => this.call(method, request, deadlineMs);
  }

  private call<Req, Res>(
    method: grpc.MethodDefinition<Req, Res>,
    request: Req,
    deadlineMs: number,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new grpc.Metadata(),
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
