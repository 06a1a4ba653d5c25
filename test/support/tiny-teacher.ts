import {
  startTeacherServer,
  type TeacherMetadata,
  type TeacherServer,
  type TeacherServerOptions,
} from '@vicinal/teacher-server';
import { createLogger } from '@vicinal/telemetry';

/**
 * A teacher that needs no TensorFlow: a fixed linear map from the 4x4x1
 * normalised image to 3 logits, computed in plain JS. Being linear, its
 * answer on a mixed batch is the same mix of its answers on the clean
 * images, which the tests recompute independently.
 */
export const TINY = { h: 4, w: 4, c: 1, k: 3, mean: 0.5, std: 0.25 } as const;
const PIXELS = TINY.h * TINY.w * TINY.c;

const weight = (k: number, p: number) => Math.sin(1 + 7 * k + 0.37 * p) / 4;

export function tinyMetadata(version = '1'): TeacherMetadata {
  return {
    model: 'tiny-teacher',
    version,
    architecture: 'linear-4x4',
    parameters: TINY.k * PIXELS,
    inputShape: [TINY.h, TINY.w, TINY.c],
    numClasses: TINY.k,
    classNames: ['a', 'b', 'c'],
    mean: [TINY.mean],
    std: [TINY.std],
    dataset: 'synthetic',
    backend: 'js',
  };
}

/** The served model: normalised float32 [B,4,4,1] to logits [B,3]. */
export function tinyInfer(input: Float32Array, shape: readonly number[]): Float32Array {
  const rows = shape[0];
  const out = new Float32Array(rows * TINY.k);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < TINY.k; k++) {
      let sum = 0;
      for (let p = 0; p < PIXELS; p++) sum += input[r * PIXELS + p] * weight(k, p);
      out[r * TINY.k + k] = sum;
    }
  }
  return out;
}

/**
 * The logits the teacher must return for a "mix on the teacher" query,
 * computed here in float64 from the uint8 images.
 */
export function expectedMixedLogits(
  images: Uint8Array,
  partner: ArrayLike<number>,
  lambda: ArrayLike<number>,
): Float64Array {
  const rows = lambda.length;
  const clean = (r: number, k: number) => {
    let sum = 0;
    for (let p = 0; p < PIXELS; p++) {
      const x = (images[r * PIXELS + p] / 255 - TINY.mean) / TINY.std;
      sum += x * weight(k, p);
    }
    return sum;
  };
  const out = new Float64Array(rows * TINY.k);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < TINY.k; k++) {
      out[r * TINY.k + k] =
        lambda[r] * clean(r, k) + (1 - lambda[r]) * clean(partner[r], k);
    }
  }
  return out;
}

/** Starts a tiny teacher on a free loopback port. */
export function startTinyTeacher(
  options: Partial<Omit<TeacherServerOptions, 'model' | 'metadata'>> & {
    version?: string;
  } = {},
): Promise<TeacherServer> {
  const { version, ...rest } = options;
  return startTeacherServer({
    address: '127.0.0.1:0',
    maxBatch: 64,
    logger: createLogger('tiny-teacher', process.env.VICINAL_LOG_LEVEL ?? 'silent'),
    ...rest,
    model: tinyInfer,
    metadata: tinyMetadata(version),
  });
}
