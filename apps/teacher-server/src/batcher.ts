import { performance } from 'node:perf_hooks';

/**
 * Runs a model on `rows` rows packed row-major in `input` and returns the
 * outputs for those rows, also row-major (rows x K values). `handOver` says
 * nothing reads `input` afterwards: a batch the batcher assembled, or the
 * input of a request submitted with `handOver`.
 */
export type BatchInfer = (
  input: Float32Array,
  rows: number,
  handOver: boolean,
) => Promise<Float32Array>;

export interface BatcherOptions {
  /** Rows a coalesced batch may hold (a single larger request runs alone). */
  maxBatch: number;
  /**
   * Rows at which a coalesced batch is full (default maxBatch): it takes no
   * further requests, and a queue holding this many rows runs without
   * waiting for the delay window. Where the model's rows per second stop
   * growing with the batch, a larger batch only makes its requests wait.
   */
  targetRows?: number;
  /** How long the oldest waiting request may wait for others to join. */
  maxDelayMs: number;
  /** Rows allowed to wait; a request that would exceed it is refused. */
  queueLimit: number;
  /**
   * Batches handed to the model at once (default 1). With 2, a full batch
   * is handed over while the previous one still runs, so a model on its own
   * thread starts it the moment the previous one ends; a batch that is not
   * full still waits for the running one, gathering company meanwhile.
   */
  maxInFlight?: number;
  /** Called after each batch that the model answered: its rows and inference time. */
  onBatch?: (rows: number, inferenceMs: number) => void;
  /** Input values per row (H*W*C). */
  rowSize: number;
}

/** One request's share of a batch's output, with how it was served. */
export interface BatchResult {
  /** rows x K outputs of this request (a view of the batch's output). */
  output: Float32Array;
  /** Time from submit to the start of its batch's inference. */
  queueMs: number;
  /** Duration of the batch's inference. */
  inferenceMs: number;
  /** Rows in the batch this request joined. */
  batchSize: number;
}

export type BatcherErrorReason =
  | 'queue-full'
  | 'closed'
  | 'invalid'
  | 'inference'
  | 'cancelled'
  | 'deadline';

/** Why a submission was refused or failed. */
export class BatcherError extends Error {
  override readonly name = 'BatcherError';
  constructor(
    readonly reason: BatcherErrorReason,
    message: string,
  ) {
    super(message);
  }
}

interface Item {
  input: Float32Array;
  rows: number;
  handOver: boolean;
  enqueuedAt: number;
  resolve: (result: BatchResult) => void;
  reject: (err: Error) => void;
}

/** Why an aborted submission failed: the signal's BatcherError, else "cancelled". */
function abortError(signal: AbortSignal): BatcherError {
  return signal.reason instanceof BatcherError
    ? signal.reason
    : new BatcherError('cancelled', 'the call was cancelled');
}

export interface BatcherStats {
  /** Rows waiting for a batch. */
  queuedRows: number;
  /** Whether an inference is running. */
  running: boolean;
  batches: number;
  rows: number;
  /** Submissions refused because the queue was full (RESOURCE_EXHAUSTED). */
  refused: number;
  /** Submissions aborted (cancelled call, deadline) before their answer. */
  aborted: number;
  /** Most rows ever waiting at once (never above queueLimit). */
  peakQueuedRows: number;
}

/**
 * Dynamic batching: requests submitted close together are packed into one
 * inference of up to maxBatch rows, waiting at most maxDelayMs for company.
 * One inference runs at a time (or, with maxInFlight 2, a full batch may be
 * handed over behind it); requests that arrive meanwhile wait and form the
 * next batch. The queue is bounded in rows, which is the back-pressure.
 */
export class DynamicBatcher {
  private readonly queue: Item[] = [];
  private queued = 0;
  private inFlight = 0;
  /** When the last batch's answer came back. */
  private lastEnded = 0;
  private readonly maxInFlight: number;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly targetRows: number;
  private idleWaiters: (() => void)[] = [];
  private batches = 0;
  private servedRows = 0;
  private refused = 0;
  private aborted = 0;
  private peakQueued = 0;

  constructor(
    private readonly infer: BatchInfer,
    private readonly options: BatcherOptions,
  ) {
    this.maxInFlight = options.maxInFlight ?? 1;
    for (const key of ['maxBatch', 'queueLimit', 'rowSize', 'maxInFlight'] as const) {
      const v = key === 'maxInFlight' ? this.maxInFlight : options[key];
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`${key}: expected an integer >= 1, got ${v}`);
      }
    }
    this.targetRows = Math.min(options.targetRows ?? options.maxBatch, options.maxBatch);
    if (!Number.isInteger(this.targetRows) || this.targetRows < 1) {
      throw new RangeError(
        `targetRows: expected an integer >= 1, got ${options.targetRows}`,
      );
    }
    if (!(options.maxDelayMs >= 0)) {
      throw new RangeError(
        `maxDelayMs: expected a number >= 0, got ${options.maxDelayMs}`,
      );
    }
  }

  /**
   * Queues `rows` rows for inference; resolves with this request's outputs.
   * When `signal` aborts first, the promise rejects with the signal's reason
   * (a BatcherError) or a "cancelled" one, and rows still waiting leave the
   * queue without being run. With `handOver` the caller gives `input` up
   * (see BatchInfer).
   */
  submit(
    input: Float32Array,
    rows: number,
    signal?: AbortSignal,
    handOver = false,
  ): Promise<BatchResult> {
    const { queueLimit, rowSize } = this.options;
    if (this.closed) {
      return Promise.reject(new BatcherError('closed', 'the server is draining'));
    }
    if (!Number.isInteger(rows) || rows < 1 || input.length !== rows * rowSize) {
      return Promise.reject(
        new BatcherError(
          'invalid',
          `expected ${rows} rows of ${rowSize} values, got ${input.length} values`,
        ),
      );
    }
    if (signal?.aborted) {
      this.aborted++;
      return Promise.reject(abortError(signal));
    }
    if (this.queued + rows > queueLimit) {
      this.refused++;
      return Promise.reject(
        new BatcherError(
          'queue-full',
          `batching queue full: ${this.queued} rows waiting + ${rows} requested ` +
            `> limit ${queueLimit}; retry later`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.queue.indexOf(item);
        if (index >= 0) {
          this.queue.splice(index, 1);
          this.queued -= rows;
          if (this.inFlight === 0 && this.queue.length === 0) this.wakeIdle();
        }
        this.aborted++;
        reject(abortError(signal!));
      };
      const item: Item = {
        input,
        rows,
        handOver,
        enqueuedAt: performance.now(),
        resolve: (result) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(result);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(item);
      this.queued += rows;
      this.peakQueued = Math.max(this.peakQueued, this.queued);
      this.schedule();
    });
  }

  stats(): BatcherStats {
    return {
      queuedRows: this.queued,
      running: this.inFlight > 0,
      batches: this.batches,
      rows: this.servedRows,
      refused: this.refused,
      aborted: this.aborted,
      peakQueuedRows: this.peakQueued,
    };
  }

  /** Refuses new submissions; what is queued still runs. */
  close(): void {
    this.closed = true;
    this.schedule();
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    const full = this.queued >= this.targetRows;
    // Behind a running batch only a full one goes ahead; the rest wait for it.
    if (this.inFlight > 0 && !full) return;
    if (full || this.closed) {
      this.runSoon(0);
      return;
    }
    const wait = this.queue[0].enqueuedAt + this.options.maxDelayMs - performance.now();
    this.runSoon(Math.max(0, wait));
  }

  private runSoon(delayMs: number): void {
    if (this.immediate) return; // a run is already due
    if (this.timer && delayMs > 0) return; // a timer for the oldest request is set
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (delayMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.run();
      }, delayMs);
      return;
    }
    // Even "now" waits for the event loop's check phase, so requests
    // submitted in the same tick join the batch (a 0 ms timer would wait 1 ms).
    this.immediate = setImmediate(() => {
      this.immediate = null;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    if (this.inFlight > 0 && this.queued < this.targetRows && !this.closed) return;
    const taken: Item[] = [];
    let rows = 0;
    while (
      this.queue.length > 0 &&
      (taken.length === 0 ||
        (rows < this.targetRows && rows + this.queue[0].rows <= this.options.maxBatch))
    ) {
      const item = this.queue.shift()!;
      taken.push(item);
      rows += item.rows;
    }
    this.queued -= rows;
    this.inFlight++;
    this.schedule(); // a full batch behind this one may go ahead now
    const started = performance.now();
    let begun = started;
    try {
      const alone = taken.length === 1;
      const input = alone ? taken[0].input : concat(taken, rows, this.options);
      let output: Float32Array;
      try {
        output = await this.infer(input, rows, !alone || taken[0].handOver);
      } finally {
        // A batch handed over behind another began when that one ended (the
        // model takes them in order): its wait until then counts as queueing.
        begun = Math.max(started, this.lastEnded);
        this.lastEnded = performance.now();
      }
      const inferenceMs = this.lastEnded - begun;
      this.options.onBatch?.(rows, inferenceMs);
      if (output.length === 0 || output.length % rows !== 0) {
        throw new BatcherError(
          'inference',
          `model output: expected a multiple of ${rows} values (one row per input), ` +
            `got ${output.length}`,
        );
      }
      const k = output.length / rows;
      let offset = 0;
      for (const item of taken) {
        item.resolve({
          output: output.subarray(offset * k, (offset + item.rows) * k),
          queueMs: begun - item.enqueuedAt,
          inferenceMs,
          batchSize: rows,
        });
        offset += item.rows;
      }
      this.batches++;
      this.servedRows += rows;
    } catch (err) {
      const failure =
        err instanceof BatcherError
          ? err
          : new BatcherError('inference', `inference failed: ${(err as Error).message}`);
      for (const item of taken) item.reject(failure);
    } finally {
      this.inFlight--;
      this.schedule();
      if (this.inFlight === 0 && this.queue.length === 0) this.wakeIdle();
    }
  }

  private wakeIdle(): void {
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

function concat(items: Item[], rows: number, options: BatcherOptions): Float32Array {
  const out = new Float32Array(rows * options.rowSize);
  let offset = 0;
  for (const item of items) {
    out.set(item.input, offset);
    offset += item.input.length;
  }
  return out;
}
