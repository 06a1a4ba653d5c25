import { status } from '@grpc/grpc-js';
import {
  injectTraceContext,
  instruments,
  recordCarrier,
  SpanKind,
  withSpan,
} from '@vicinal/telemetry';
import {
  type SoftLabelsStream,
  TEACHER_SERVICE,
  TeacherCallError,
  TeacherClient,
  type TeacherClientOptions,
} from '@vicinal/wire';
import type { MixedBatchQuery, TeacherSource } from './teacher-source.js';

/**
 * A teacher served over gRPC. Batches go in "mix on the teacher" form (clean
 * uint8 images + partner + lambda), a quarter of the bytes of float32 mixed
 * images; the server builds exactly the mixed batch the student trains on.
 * Queries travel as requests on one SoftLabelsStream call, opened when first
 * needed and again after it ends: a unary call per batch cost the student
 * about twice the CPU per query, mostly in building calls and in the
 * garbage they leave. Each request carries its own trace context and
 * deadline, so a query still reads as one span with the server's inside.
 */
export class RemoteTeacher implements TeacherSource {
  readonly kind = 'remote';
  private stream: SoftLabelsStream | null = null;
  private closed = false;

  private constructor(
    private readonly client: TeacherClient,
    readonly address: string,
    readonly model: string,
  ) {}

  /**
   * Connects to the teacher at `address`. `options` carry TLS (`tls: {ca,
   * cert?, key?}`), the plaintext opt-in for non-loopback addresses
   * (`insecure`), the connect deadline and each query's deadline.
   */
  static async connect(
    address: string,
    model: string,
    options: TeacherClientOptions = {},
  ): Promise<RemoteTeacher> {
    return new RemoteTeacher(
      await TeacherClient.connect(address, options),
      address,
      model,
    );
  }

  async softLabels(query: MixedBatchQuery): Promise<Float32Array> {
    return (await this.query(query, false)).mixed;
  }

  /** Logits on the mixed batch and on its clean images (for the analysis). */
  softLabelsWithConstituents(query: MixedBatchQuery) {
    return this.query(query, true) as Promise<{
      mixed: Float32Array;
      clean: Float32Array;
    }>;
  }

  /** The open stream, or a new one when there is none or it ended. */
  private openStream(): SoftLabelsStream {
    if (this.closed) {
      // A query that raced close() (e.g. a failover dropping this teacher).
      throw new TeacherCallError(
        status.CANCELLED,
        `teacher at ${this.address} was closed before the query was sent`,
      );
    }
    if (!this.stream || this.stream.ended) this.stream = this.client.stream();
    return this.stream;
  }

  private query(query: MixedBatchQuery, constituents: boolean) {
    const attributes = {
      'rpc.system': 'grpc',
      'rpc.service': TEACHER_SERVICE,
      'rpc.method': 'SoftLabelsStream',
    };
    const port = this.address.slice(this.address.lastIndexOf(':') + 1);
    const span = {
      kind: SpanKind.CLIENT,
      attributes: {
        ...attributes,
        'server.address': this.address.slice(0, this.address.lastIndexOf(':')),
        'server.port': Number(port),
        'vicinal.batch.rows': query.lambda.length,
        'vicinal.teacher.constituents': constituents,
      },
    };
    return withSpan(`${TEACHER_SERVICE}/SoftLabelsStream`, span, async (span) => {
      const traceContext: Record<string, string> = {};
      injectTraceContext(recordCarrier(traceContext));
      const started = performance.now();
      let code = 0;
      try {
        const result = await this.openStream().softLabels(
          {
            model: this.model,
            mix: {
              images: query.images,
              shape: query.shape,
              partner: query.partner,
              lambda: query.lambda,
              returnConstituents: constituents,
            },
            traceContext,
          },
          { timeoutMs: this.client.deadlineMs },
        );
        span.setAttributes({
          'vicinal.teacher.queue_ms': result.timings.queueMs,
          'vicinal.teacher.inference_ms': result.timings.inferenceMs,
          'vicinal.batch.size': result.timings.batchSize,
        });
        if (constituents && !result.constituentLogits) {
          throw new Error(`teacher at ${this.address} returned no constituent logits`);
        }
        return { mixed: result.logits, clean: result.constituentLogits };
      } catch (err) {
        code = err instanceof TeacherCallError ? err.code : 2; // UNKNOWN
        throw err;
      } finally {
        span.setAttribute('rpc.grpc.status_code', code);
        instruments().rpcClientDuration.record(performance.now() - started, {
          ...attributes,
          'rpc.grpc.status_code': code,
        });
      }
    });
  }

  /** Ends the stream (queries still waiting fail with CANCELLED) and the channel. */
  async close(): Promise<void> {
    this.closed = true;
    this.stream?.cancel();
    this.stream = null;
    this.client.close();
  }
}
