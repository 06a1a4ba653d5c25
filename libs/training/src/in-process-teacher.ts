import type * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '@vicinal/backend';
import { pixelTable } from '@vicinal/data';
import { mixPixelsNormalised } from '@vicinal/distillation';
import type { MixedBatchQuery, TeacherSource } from './teacher-source.js';

/** What an in-process teacher needs besides the model. */
export interface InProcessTeacherOptions {
  /** Per-channel normalisation of the model input: (pixel / 255 - mean) / std. */
  mean: readonly number[];
  std: readonly number[];
  /** Name reported as the teacher's model (default: the model's own name). */
  model?: string;
  /** Dispose the model on close() (default false: the caller owns it). */
  disposeOnClose?: boolean;
}

/**
 * A teacher model running in the student's own process. It builds the mixed
 * batch exactly as a teacher server does for "mix on the teacher" requests
 * (normalise and mix the clean uint8 images with the same array code)
 * and returns the model's raw float32 logits [B,K] in inference mode. The
 * forward pass runs when softLabels() is called, on the student's thread, so
 * its cost adds to every training step: the baseline a remote teacher on its
 * own core is measured against.
 */
export class InProcessTeacher implements TeacherSource {
  readonly kind = 'in-process';
  readonly address = 'in-process';
  readonly model: string;
  /** Normalised value of each pixel value per channel. */
  private readonly table: Float32Array;
  private readonly disposeOnClose: boolean;
  private closed = false;

  constructor(
    private readonly network: tfl.LayersModel,
    options: InProcessTeacherOptions,
  ) {
    const channels = network.inputs[0]?.shape[3];
    if (channels !== undefined && channels !== null && options.mean.length !== channels) {
      throw new RangeError(
        `mean: expected ${channels} values (one per input channel of the model), ` +
          `got ${options.mean.length}`,
      );
    }
    if (options.std.length !== options.mean.length) {
      throw new RangeError(
        `std: expected ${options.mean.length} values (as many as mean), ` +
          `got ${options.std.length}`,
      );
    }
    this.table = pixelTable(options.mean, options.std);
    this.model = options.model ?? network.name;
    this.disposeOnClose = options.disposeOnClose ?? false;
  }

  /** Logits [B,K] of the model on the batch mixed as `query` says. */
  async softLabels(query: MixedBatchQuery): Promise<Float32Array> {
    if (this.closed) throw new Error(`teacher ${this.model}: softLabels after close()`);
    const [b, h, w, c] = query.shape;
    if (query.images.length !== b * h * w * c) {
      throw new RangeError(
        `images: expected ${b * h * w * c} bytes (${b}x${h}x${w}x${c}), ` +
          `got ${query.images.length}`,
      );
    }
    const mixed = mixPixelsNormalised(
      query.images,
      this.table,
      c,
      query.partner,
      query.lambda,
    );
    const logits = tf.tidy(() => {
      const x = tf.tensor4d(mixed, [b, h, w, c], 'float32');
      // One pass over the batch, as the teacher server runs it.
      const y = this.network.predict(x, { batchSize: b }) as tf.Tensor;
      return y.dtype === 'float32' ? y : tf.cast(y, 'float32');
    });
    try {
      return (await logits.data()) as Float32Array;
    } finally {
      logits.dispose();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.disposeOnClose) this.network.dispose();
  }
}
