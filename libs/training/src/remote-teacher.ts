import {
  injectTraceContext,
  instruments,
  recordCarrier,
  SpanKind,
  withSpan,
} from '@vicinal/telemetry';
import {
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
 */
export class RemoteTeacher implements TeacherSource {
  readonly kind = 'remote';

  private constructor(
    private readonly client: TeacherClient,
    readonly address: string,
    readonly model: string,
  ) {}

  /**
   * Connects to the teacher at `address`. `options` carry TLS (`tls: {ca,
   * cert?, key?}`), the plaintext opt-in for non-loopback addresses
   * (`insecure`), and connect and call deadlines.
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

  softLabelsWithConstituents(query: MixedBatchQuery) {
    return this.query(query, true) as Promise<{
      mixed: Float32Array;
      clean: Float32Array;
    }>;
  }

  /**
   * One SoftLabels call inside a client span whose context travels in the
   * call's metadata, so the server's span joins the caller's trace.
   */
  private query(query: MixedBatchQuery, constituents: boolean) {
    const attributes = {
      'rpc.system': 'grpc',
      'rpc.service': TEACHER_SERVICE,
      'rpc.method': 'SoftLabels',
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
    return withSpan(`${TEACHER_SERVICE}/SoftLabels`, span, async (span) => {
      const metadata: Record<string, string> = {};
      injectTraceContext(recordCarrier(metadata));
      const started = performance.now();
      let code = 0;
      try {
        const result = await this.client.softLabels(
          {
            model: this.model,
            mix: {
              images: query.images,
              shape: query.shape,
              partner: query.partner,
              lambda: query.lambda,
              returnConstituents: constituents,
            },
          },
          { metadata },
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

  async close(): Promise<void> {
    this.client.close();
  }
}
