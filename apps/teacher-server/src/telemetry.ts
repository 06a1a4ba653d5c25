import type * as grpc from '@grpc/grpc-js';
import {
  extractTraceContext,
  type HeaderCarrier,
  instruments,
  recordCarrier,
  type Span,
  SpanKind,
  startSpan,
  withSpan,
} from '@vicinal/telemetry';
import { TEACHER_SERVICE } from '@vicinal/wire';
import type { BatchResult } from './batcher.js';

/**
 * The teacher server's spans and metrics: a SERVER span per soft-label
 * request in the caller's trace (context from the call metadata), with child
 * spans for its wait in the batching queue and its batch's inference; RPC
 * durations and message sizes under the semantic-convention names; batch
 * size, fill and inference time per coalesced batch; the queue depth.
 */

const rpc = (method: string) => ({
  'rpc.system': 'grpc',
  'rpc.service': TEACHER_SERVICE,
  'rpc.method': method,
});

function metadataCarrier(metadata: grpc.Metadata): HeaderCarrier {
  return {
    get: (key) => {
      const value = metadata.get(key)[0];
      return typeof value === 'string' ? value : undefined;
    },
    set: (key, value) => metadata.set(key, value),
    keys: () => Object.keys(metadata.getMap()),
  };
}

/**
 * Runs one request's answer inside its server span, a child of the trace
 * context the request carries (its own, on a stream) or else its call's
 * metadata; `statusOf` maps a failure to the gRPC status it is answered with.
 * `input` is the request's form (images, mix, rows; none when it has no
 * input or did not decode), an attribute of the span and the metrics.
 */
export function traceCall<T>(
  method: 'SoftLabels' | 'SoftLabelsStream',
  input: string,
  metadata: grpc.Metadata,
  requestContext: Record<string, string> | undefined,
  statusOf: (err: unknown) => number,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const attributes = { ...rpc(method), 'vicinal.teacher.input': input };
  const finish = (code: number) => {
    const labelled = { ...attributes, 'rpc.grpc.status_code': code };
    instruments().rpcServerDuration.record(performance.now() - started, labelled);
    instruments().teacherRequests.add(1, labelled);
  };
  return withSpan(
    `${TEACHER_SERVICE}/${method}`,
    {
      kind: SpanKind.SERVER,
      attributes,
      parent: extractTraceContext(
        requestContext && Object.keys(requestContext).length > 0
          ? recordCarrier(requestContext)
          : metadataCarrier(metadata),
      ),
    },
    async (span) => {
      try {
        const answer = await fn(span);
        span.setAttribute('rpc.grpc.status_code', 0);
        finish(0);
        return answer;
      } catch (err) {
        const code = statusOf(err);
        span.setAttribute('rpc.grpc.status_code', code);
        finish(code);
        throw err;
      }
    },
  );
}

/**
 * Notes on the request's span how it was batched: a child span for its wait
 * in the queue (submit to batch start) and one for its batch's inference,
 * the batch's size and fill; counts the rows answered.
 */
export function recordBatchJoin(
  span: Span,
  result: BatchResult,
  submittedAt: number,
  rows: number,
  maxBatch: number,
): void {
  const batchStart = submittedAt + result.queueMs;
  const batch = {
    'vicinal.batch.size': result.batchSize,
    'vicinal.batch.fill': result.batchSize / maxBatch,
    'vicinal.batch.max': maxBatch,
  };
  span.setAttributes({
    ...batch,
    'vicinal.request.rows': rows,
    'vicinal.teacher.queue_ms': result.queueMs,
    'vicinal.teacher.inference_ms': result.inferenceMs,
  });
  const child = (name: string, start: number, end: number) =>
    startSpan(name, { startTime: start, attributes: batch }).end(end);
  child('vicinal.teacher.queue', submittedAt, batchStart);
  child('vicinal.teacher.inference', batchStart, batchStart + result.inferenceMs);
  instruments().teacherQueueDuration.record(result.queueMs);
  instruments().teacherSamples.add(rows);
}

/** Records each batch's size, fill and inference time (see BatcherOptions.onBatch). */
export function recordBatches(
  maxBatch: number,
): (rows: number, inferenceMs: number) => void {
  return (rows, inferenceMs) => {
    const m = instruments();
    m.teacherInferenceDuration.record(inferenceMs);
    m.teacherBatchSize.record(rows);
    m.teacherBatchFill.record(rows / maxBatch);
  };
}

/** Reports the rows waiting in the queue at each collection; returns the undo. */
export function observeQueueDepth(queuedRows: () => number): () => void {
  const gauge = instruments().teacherQueueDepth;
  const callback = (result: { observe(value: number): void }) =>
    result.observe(queuedRows());
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}

/** The service definition with request and response bytes recorded per method. */
export function measureMessageSizes(
  definition: grpc.ServiceDefinition,
): grpc.ServiceDefinition {
  const measured: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const attributes = rpc(name);
    measured[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        instruments().rpcServerRequestSize.record(bytes.length, attributes);
        return method.requestDeserialize(bytes);
      },
      responseSerialize: (value: unknown) => {
        const bytes = method.responseSerialize(value);
        instruments().rpcServerResponseSize.record(bytes.length, attributes);
        return bytes;
      },
    };
  }
  return measured;
}
