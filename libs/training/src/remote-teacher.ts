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
    const result = await this.client.softLabels({
      model: this.model,
      mix: {
        images: query.images,
        shape: query.shape,
        partner: query.partner,
        lambda: query.lambda,
      },
    });
    return result.logits;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
