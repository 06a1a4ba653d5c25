import { type ClientDuplexStream, type ServiceError, status } from '@grpc/grpc-js';
import { TeacherCallError } from './call-error.js';
import type { SoftLabelsRequestMessage, SoftLabelsResponseMessage } from './messages.js';
import {
  decodeSoftLabelsResponse,
  encodeSoftLabelsQuery,
  type SoftLabelsQuery,
  type SoftLabelsResult,
} from './soft-labels.js';

interface Pending {
  rows: number;
  wantConstituents: boolean;
  resolve: (result: SoftLabelsResult) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One SoftLabelsStream call with several requests in flight. Each request
 * gets its own promise, settled by the response carrying its request_id
 * (responses may come back in any order). A failed request rejects only its
 * promise; a failed stream rejects all that are pending.
 */
export class SoftLabelsStream {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;
  private readonly finished: Promise<void>;

  constructor(
    private readonly call: ClientDuplexStream<
      SoftLabelsRequestMessage,
      SoftLabelsResponseMessage
    >,
  ) {
    call.on('data', (message: SoftLabelsResponseMessage) => this.onResponse(message));
    this.finished = new Promise((resolve) => {
      call.on('error', (err: ServiceError) => {
        this.fail(TeacherCallError.fromServiceError(err));
        resolve();
      });
      call.on('status', () => {
        this.fail(
          new TeacherCallError(status.UNAVAILABLE, 'stream ended before the response'),
        );
        resolve();
      });
    });
  }

  /** Requests sent and not yet answered. */
  /** Whether the stream has ended (its requests now fail at once). */
  get ended(): boolean {
    return this.failure !== null;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends one query; the promise settles with its response. `timeoutMs`
   * rejects this request only (DEADLINE_EXCEEDED) if no response came.
   */
  softLabels(
    query: SoftLabelsQuery,
    options: { timeoutMs?: number } = {},
  ): Promise<SoftLabelsResult> {
    if (this.failure) return Promise.reject(this.failure);
    const requestId = query.requestId ?? this.freshId();
    if (this.pending.has(requestId)) {
      return Promise.reject(
        new TeacherCallError(
          status.INVALID_ARGUMENT,
          `request_id: expected an id not in flight, got ${requestId}`,
          'request_id',
        ),
      );
    }
    let encoded: ReturnType<typeof encodeSoftLabelsQuery>;
    try {
      encoded = encodeSoftLabelsQuery(query, requestId);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      const entry: Pending = {
        rows: encoded.rows,
        wantConstituents: query.mix?.returnConstituents ?? false,
        resolve,
        reject,
        timer: undefined,
      };
      if (options.timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          this.pending.delete(requestId);
          reject(
            new TeacherCallError(
              status.DEADLINE_EXCEEDED,
              `no response to request ${requestId} within ${options.timeoutMs} ms`,
            ),
          );
        }, options.timeoutMs);
      }
      this.pending.set(requestId, entry);
      this.call.write(encoded.message);
    });
  }

  /** Half-closes the stream and waits for the server to finish it. */
  async close(): Promise<void> {
    if (!this.failure) this.call.end();
    await this.finished;
  }

  /** Abandons the stream: pending requests reject with CANCELLED. */
  cancel(): void {
    this.call.cancel();
  }

  private freshId(): number {
    while (this.pending.has(this.nextId)) this.nextId++;
    return this.nextId++;
  }

  private onResponse(message: SoftLabelsResponseMessage): void {
    const entry = this.pending.get(message.requestId);
    if (!entry) return; // timed out already, or not ours
    this.pending.delete(message.requestId);
    clearTimeout(entry.timer);
    if (message.error) {
      const { code, field } = message.error;
      entry.reject(new TeacherCallError(code, message.error.message, field || null));
      return;
    }
    try {
      entry.resolve(
        decodeSoftLabelsResponse(message, entry.rows, entry.wantConstituents),
      );
    } catch (err) {
      entry.reject(err as Error);
    }
  }

  private fail(err: TeacherCallError): void {
    this.failure ??= err;
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.reject(err);
      this.pending.delete(id);
    }
  }
}
