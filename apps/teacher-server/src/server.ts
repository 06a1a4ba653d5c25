import * as grpc from '@grpc/grpc-js';
import { DEFAULT_QUEUE_BATCHES } from '@vicinal/config';
import { createLogger, type Logger, type Span } from '@vicinal/telemetry';
import {
  checkPlaintextAllowed,
  DEFAULT_SERVER_WINDOW_BYTES,
  type DescribeRequestMessage,
  type DescribeResponseMessage,
  DTYPES,
  dtypeEnum,
  encodeTensor,
  fieldMetadata,
  lenientRequests,
  type ServerTlsOptions,
  type SoftLabelsRequestMessage,
  type SoftLabelsResponseMessage,
  serverCredentials,
  TEACHER_SERVICE,
  teacherServiceDefinition,
  widenServerWindow,
} from '@vicinal/wire';
import { HealthImplementation } from 'grpc-health-check';
import { BatcherError, type BatcherStats, DynamicBatcher } from './batcher.js';
import { TeacherRequestError, toRequestError } from './errors.js';
import { checkMetadata, type TeacherMetadata } from './metadata.js';
import {
  checkModel,
  type HeldSplit,
  prepareRequest,
  refuseUndecodable,
} from './request.js';
import { type TeacherModel, toInferFunction } from './runtime.js';
import { softmaxRows } from './softmax.js';
import {
  measureMessageSizes,
  observeQueueDepth,
  recordBatches,
  recordBatchJoin,
  traceCall,
} from './telemetry.js';

export interface TeacherServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  address: string;
  model: TeacherModel;
  metadata: TeacherMetadata;
  /** Most rows per request and per coalesced batch (default 256). */
  maxBatch?: number;
  /** Longest a request waits for others to join its batch (default 2 ms). */
  maxDelayMs?: number;
  /**
   * Rows at which a coalesced batch is full (default 128, at most maxBatch):
   * it takes no more requests and runs without waiting for maxDelayMs. The
   * bench measured no more rows per second from teacher-cnn beyond it, only
   * longer waits; a request larger than it still runs whole.
   */
  batchRows?: number;
  /**
   * Batches handed to the model at once (default 1). A model on its own
   * inference thread (startInferenceThread) takes 2: the next full batch
   * waits on that thread, not on this event loop, and starts the moment the
   * running one ends.
   */
  maxInFlight?: number;
  /** Rows allowed to wait for a batch before RESOURCE_EXHAUSTED (default 8 x maxBatch). */
  queueLimit?: number;
  /** Largest request message accepted (default 16 MiB). */
  maxMessageBytes?: number;
  /** SoftLabelsStream calls open at once; more get RESOURCE_EXHAUSTED (default 64). */
  maxStreams?: number;
  /**
   * Longest the server works on one request, queueing included, before it
   * answers DEADLINE_EXCEEDED (default 30 s). The client's deadline, when
   * shorter, ends it sooner. Requests that time out or whose call is
   * cancelled while they wait leave the queue without being run.
   */
  requestTimeoutMs?: number;
  /**
   * Data set splits held in memory, in the model's input shape, whose rows
   * "rows" requests may name instead of sending pixels (Describe lists them).
   */
  heldData?: readonly HeldSplit[];
  /** Serve over TLS; with `tls.clientCa`, clients need a certificate (mTLS). */
  tls?: ServerTlsOptions;
  /**
   * Allow plaintext on a non-loopback address. Without TLS and without this,
   * listening on anything but loopback is refused (InsecureTransportError).
   */
  insecure?: boolean;
  logger?: Logger;
}

/** Rows at which a coalesced batch is full, unless the options say otherwise. */
export const DEFAULT_BATCH_ROWS = 128;

export interface TeacherServerStats extends BatcherStats {
  /** SoftLabelsStream calls open now (at most maxStreams). */
  openStreams: number;
  /** Soft-label requests answered, by input: images, mix and rows. */
  answered: Record<'images' | 'mix' | 'rows', number>;
}

export interface TeacherServer {
  /** The bound port. */
  readonly port: number;
  /** host:port as bound (host from the options). */
  readonly address: string;
  /** How clients reach it: plaintext, TLS, or TLS with client certificates. */
  readonly transport: 'plaintext' | 'tls' | 'mutual-tls';
  /** Queue and throughput counters of the batcher, and the open streams. */
  stats(): TeacherServerStats;
  /**
   * Graceful stop: health turns NOT_SERVING, new calls and new stream
   * requests are refused, queued work finishes; after `graceMs` (default
   * 10 s) whatever is still open is cancelled.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Serves one model over gRPC: TeacherService (SoftLabels, SoftLabelsStream,
 * Describe) and grpc.health.v1, with dynamic batching behind both soft-label
 * methods. Bad requests get a precise status and never stop the server.
 * Plaintext only on loopback unless `insecure`; TLS or mutual TLS with `tls`.
 */
export async function startTeacherServer(
  options: TeacherServerOptions,
): Promise<TeacherServer> {
  const { metadata } = options;
  checkMetadata(metadata);
  if (!options.tls) {
    checkPlaintextAllowed(options.address, options.insecure ?? false, 'listen on');
  }
  const security = serverCredentials(options.tls);
  const transport = !options.tls ? 'plaintext' : security.mutual ? 'mutual-tls' : 'tls';
  const maxBatch = options.maxBatch ?? 256;
  const maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024;
  const maxStreams = options.maxStreams ?? 64;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const queueLimit = options.queueLimit ?? DEFAULT_QUEUE_BATCHES * maxBatch;
  for (const [key, v] of [
    ['maxStreams', maxStreams],
    ['requestTimeoutMs', requestTimeoutMs],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${key}: expected an integer >= 1, got ${v}`);
    }
  }
  const log = options.logger ?? createLogger('teacher-server');
  const [h, w, c] = metadata.inputShape;
  const infer = toInferFunction(options.model);
  const batcher = new DynamicBatcher(
    (input, rows, handOver) => Promise.resolve(infer(input, [rows, h, w, c], handOver)),
    {
      maxBatch,
      targetRows: Math.min(options.batchRows ?? DEFAULT_BATCH_ROWS, maxBatch),
      maxDelayMs: options.maxDelayMs ?? 2,
      queueLimit,
      rowSize: h * w * c,
      maxInFlight: options.maxInFlight ?? 1,
      onBatch: recordBatches(maxBatch),
    },
  );
  const held = checkHeldData(options.heldData ?? [], h * w * c);
  // A request of more rows than the queue may hold could never be taken: it
  // is refused at once (INVALID_ARGUMENT), as one over the max batch is,
  // instead of RESOURCE_EXHAUSTED that a client would retry until its deadline.
  const limits = { metadata, maxBatch: Math.min(maxBatch, queueLimit), held };
  const answered = { images: 0, mix: 0, rows: 0 };
  const stopObservingQueue = observeQueueDepth(() => batcher.stats().queuedRows);
  let openStreams = 0;

  /**
   * An abort signal for one request: fires after requestTimeoutMs or at the
   * call's own deadline, whichever is sooner; `done` clears the timer.
   */
  function requestSignal(callDeadline: grpc.Deadline | undefined) {
    const controller = new AbortController();
    const deadline = callDeadline === undefined ? Infinity : Number(callDeadline);
    const untilCallDeadline = Number.isFinite(deadline)
      ? deadline - Date.now()
      : Infinity;
    const ms = Math.max(0, Math.min(requestTimeoutMs, untilCallDeadline));
    const timer = setTimeout(() => {
      controller.abort(
        new BatcherError(
          'deadline',
          ms < requestTimeoutMs
            ? `deadline: the call's deadline passed before its answer was ready`
            : `deadline: no answer within the server's request timeout of ` +
                `${requestTimeoutMs} ms; the server is overloaded, retry later`,
        ),
      );
    }, ms);
    const cancel = () =>
      controller.abort(new BatcherError('cancelled', 'the call was cancelled'));
    return { signal: controller.signal, cancel, done: () => clearTimeout(timer) };
  }

  /** Answers one request, or throws a TeacherRequestError-able failure. */
  async function answer(
    request: SoftLabelsRequestMessage,
    signal: AbortSignal,
    span: Span,
  ): Promise<SoftLabelsResponseMessage> {
    const prepared = prepareRequest(request, limits);
    const inputRows = prepared.withConstituents ? 2 * prepared.rows : prepared.rows;
    if (inputRows > queueLimit) {
      // Mixed and clean images both wait: twice the rows, which the queue
      // could never take (a plain request was refused above for the same).
      const field = `${request.input}.return_constituents`;
      throw TeacherRequestError.invalid(
        field,
        `at most ${Math.floor(queueLimit / 2)} rows with their constituents (the queue limit ` +
          `${queueLimit} holds the mixed and the clean images)`,
        `${prepared.rows}`,
      );
    }
    const submittedAt = performance.now();
    const result = await batcher.submit(
      prepared.input,
      inputRows,
      signal,
      prepared.ownInput,
    );
    recordBatchJoin(span, result, submittedAt, prepared.rows, maxBatch);
    const k = result.output.length / inputRows;
    if (k !== metadata.numClasses) {
      throw new TeacherRequestError(
        grpc.status.INTERNAL,
        `model output: expected ${metadata.numClasses} logits per row, got ${k}`,
      );
    }
    const rowsK = prepared.rows * k;
    const logits = result.output.subarray(0, rowsK);
    const nonFinite = logits.findIndex((v) => !Number.isFinite(v));
    if (nonFinite >= 0) {
      throw new TeacherRequestError(
        grpc.status.INTERNAL,
        `model output: expected finite logits, got ${logits[nonFinite]} at row ` +
          `${Math.floor(nonFinite / k)}`,
      );
    }
    if (request.input) answered[request.input]++;
    const useProbabilities = prepared.temperature > 0;
    const answerValues = useProbabilities
      ? softmaxRows(logits, k, prepared.temperature)
      : logits;
    return {
      requestId: request.requestId,
      model: metadata.model,
      modelVersion: metadata.version,
      logits: encodeTensor(answerValues, [prepared.rows, k]),
      probabilities: useProbabilities,
      constituentLogits: prepared.withConstituents
        ? encodeTensor(result.output.subarray(rowsK, 2 * rowsK), [prepared.rows, k])
        : null,
      timings: {
        queueMs: result.queueMs,
        inferenceMs: result.inferenceMs,
        batchSize: result.batchSize,
      },
      error: null,
    };
  }

  const statusOf = (err: unknown) => toRequestError(err).code;

  function report(err: unknown, method: string): TeacherRequestError {
    const failure = toRequestError(err);
    if (failure.code === grpc.status.INTERNAL) {
      log.error({ method, err: failure.message }, 'request failed');
    } else {
      log.debug({ method, code: failure.code, err: failure.message }, 'request refused');
    }
    return failure;
  }

  const softLabels: grpc.handleUnaryCall<
    SoftLabelsRequestMessage,
    SoftLabelsResponseMessage
  > = (call, callback) => {
    const request = requestSignal(call.getDeadline());
    call.on('cancelled', request.cancel);
    traceCall(
      'SoftLabels',
      inputOf(call.request),
      call.metadata,
      call.request.traceContext,
      statusOf,
      (span) => answer(call.request, request.signal, span),
    )
      .finally(request.done)
      .then(
        (response) => callback(null, response),
        (err) => {
          const failure = report(err, 'SoftLabels');
          callback({
            code: failure.code,
            details: failure.message,
            metadata: fieldMetadata(failure.field),
          });
        },
      );
  };

  const softLabelsStream: grpc.handleBidiStreamingCall<
    SoftLabelsRequestMessage,
    SoftLabelsResponseMessage
  > = (call) => {
    if (openStreams >= maxStreams) {
      const failure = report(
        new TeacherRequestError(
          grpc.status.RESOURCE_EXHAUSTED,
          `streams: ${openStreams} SoftLabelsStream calls open, limit ${maxStreams}; ` +
            'retry later or use unary SoftLabels',
        ),
        'SoftLabelsStream',
      );
      call.emit('error', { code: failure.code, details: failure.message });
      return;
    }
    openStreams++;
    let inFlight = 0;
    let clientDone = false;
    let gone = false;
    let counted = true;
    const release = () => {
      if (counted) openStreams--;
      counted = false;
    };
    const pending = new Set<() => void>();
    const finishIfDone = () => {
      if (clientDone && inFlight === 0 && !gone) {
        gone = true;
        release();
        call.end();
      }
    };
    call.on('data', (message: SoftLabelsRequestMessage) => {
      inFlight++;
      const request = requestSignal(call.getDeadline());
      pending.add(request.cancel);
      traceCall(
        'SoftLabelsStream',
        inputOf(message),
        call.metadata,
        message.traceContext,
        statusOf,
        (span) => answer(message, request.signal, span),
      )
        .finally(() => {
          request.done();
          pending.delete(request.cancel);
        })
        .catch((err): SoftLabelsResponseMessage => {
          const failure = report(err, 'SoftLabelsStream');
          return {
            requestId: message.requestId,
            model: '',
            modelVersion: '',
            logits: null,
            probabilities: false,
            constituentLogits: null,
            timings: null,
            error: {
              code: failure.code,
              message: failure.message,
              field: failure.field ?? '',
            },
          };
        })
        .then((response) => {
          if (!gone && !call.cancelled) call.write(response);
        })
        .finally(() => {
          inFlight--;
          finishIfDone();
        });
    });
    call.on('end', () => {
      clientDone = true;
      finishIfDone();
    });
    // Cancelled by the client: nothing left to send; queued requests leave.
    const abandon = () => {
      gone = true;
      release();
      for (const cancel of pending) cancel();
    };
    call.on('error', abandon);
    call.on('cancelled', abandon);
  };

  const describe: grpc.handleUnaryCall<
    DescribeRequestMessage,
    DescribeResponseMessage
  > = (call, callback) => {
    try {
      refuseUndecodable(call.request, 'DescribeRequest');
      checkModel(call.request.model, metadata);
    } catch (err) {
      const failure = report(err, 'Describe');
      callback({
        code: failure.code,
        details: failure.message,
        metadata: fieldMetadata(
          (err instanceof TeacherRequestError && err.field) || 'model',
        ),
      });
      return;
    }
    callback(null, {
      model: metadata.model,
      modelVersion: metadata.version,
      architecture: metadata.architecture,
      parameters: metadata.parameters,
      inputShape: [...metadata.inputShape],
      acceptedDtypes: DTYPES.map(dtypeEnum),
      normalisationMean: [...metadata.mean],
      normalisationStd: [...metadata.std],
      classNames: [...metadata.classNames],
      calibrationTemperature: metadata.calibrationTemperature ?? 0,
      backend: metadata.backend,
      maxBatch,
      dataset: metadata.dataset,
      numClasses: metadata.numClasses,
      maxMessageBytes,
      heldDatasets: [...held.values()].map((split) => ({
        name: split.name,
        fingerprint: split.fingerprint,
        rows: split.rows,
      })),
      queueLimit,
    });
  };

  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
  });
  // Whole requests fit the receive window, so a client whose event loop is
  // busy (a student in a training step) never holds back the rest of one.
  const flow = widenServerWindow(server, DEFAULT_SERVER_WINDOW_BYTES);
  server.addService(measureMessageSizes(lenientRequests(teacherServiceDefinition())), {
    SoftLabels: softLabels,
    SoftLabelsStream: softLabelsStream,
    Describe: describe,
  });
  const health = new HealthImplementation({
    '': 'SERVING',
    [TEACHER_SERVICE]: 'SERVING',
  });
  health.addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, security.credentials, (err, bound) =>
      err ? reject(bindError(options.address, err)) : resolve(bound),
    );
  }).catch((err: Error) => {
    // Nothing listens: leave nothing behind either.
    server.forceShutdown();
    batcher.close();
    stopObservingQueue();
    throw err;
  });
  const widened = flow.streams && flow.watchSessions();
  if (!widened) {
    log.warn(
      'could not widen the HTTP/2 receive window (grpc-js internals changed); ' +
        'requests over 64 KiB may wait on busy clients',
    );
  }
  const host = options.address.slice(0, options.address.lastIndexOf(':'));
  log.info(
    {
      address: `${host}:${port}`,
      model: metadata.model,
      maxBatch,
      queueLimit,
      maxMessageBytes,
      transport,
    },
    'teacher listening',
  );
  if (queueLimit < maxBatch) {
    log.warn(
      { maxBatch, queueLimit },
      `queue limit ${queueLimit} is below the max batch ${maxBatch}: requests of more ` +
        `than ${queueLimit} rows are refused`,
    );
  }

  let stopping: Promise<void> | null = null;
  return {
    port,
    address: `${host}:${port}`,
    transport,
    stats: () => ({ ...batcher.stats(), openStreams, answered: { ...answered } }),
    stop(graceMs = 10_000) {
      stopping ??= new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(TEACHER_SERVICE, 'NOT_SERVING');
        batcher.close();
        stopObservingQueue();
        const force = setTimeout(() => {
          log.warn(
            { graceMs },
            'calls still open after the grace period; cancelling them',
          );
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopping;
    },
  };
}

/** A request's form for spans and metrics: images, mix, rows, or none. */
function inputOf(request: SoftLabelsRequestMessage): string {
  return (request as Partial<SoftLabelsRequestMessage>).input ?? 'none';
}

/**
 * The held splits by fingerprint, each checked against the model's input:
 * a split that cannot be served stops the start with the reason.
 */
function checkHeldData(
  splits: readonly HeldSplit[],
  pixels: number,
): Map<string, HeldSplit> {
  const held = new Map<string, HeldSplit>();
  for (const split of splits) {
    const where = `heldData "${split.name}"`;
    if (!split.fingerprint) {
      throw new RangeError(`${where}: expected a fingerprint, got none`);
    }
    if (!Number.isInteger(split.rows) || split.rows < 1) {
      throw new RangeError(`${where}: expected rows >= 1, got ${split.rows}`);
    }
    if (split.images.length !== split.rows * pixels) {
      throw new RangeError(
        `${where}: expected ${split.rows} images of ${pixels} pixels (the model's ` +
          `input shape), got ${split.images.length} bytes`,
      );
    }
    held.set(split.fingerprint, split);
  }
  return held;
}

/**
 * Why a listen address could not be bound, in one line: grpc-js wraps the
 * socket errors ("No address added out of total 1 resolved errors: [...]").
 */
function bindError(address: string, err: Error): Error {
  const cause = /errors: \[(.*)\]\s*$/s.exec(err.message)?.[1] ?? err.message;
  if (/EADDRINUSE/.test(cause)) {
    return new Error(
      `cannot listen on ${address}: expected a free port, got one already in use ` +
        '(EADDRINUSE); port 0 picks a free one',
    );
  }
  return new Error(`cannot listen on ${address}: ${cause}`);
}
