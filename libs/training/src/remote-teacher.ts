import { TeacherClient, type TeacherClientOptions } from '@vicinal/wire';
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

  private async query(query: MixedBatchQuery, constituents: boolean) {
    const result = await this.client.softLabels({
      model: this.model,
      mix: {
        images: query.images,
        shape: query.shape,
        partner: query.partner,
        lambda: query.lambda,
        returnConstituents: constituents,
      },
    });
    if (constituents && !result.constituentLogits) {
      throw new Error(`teacher at ${this.address} returned no constituent logits`);
    }
    return { mixed: result.logits, clean: result.constituentLogits };
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
