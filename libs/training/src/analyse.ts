import type * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '@vicinal/backend';
import { type ImageSplit, sourceRows, toNormalisedTensor } from '@vicinal/data';
import {
  createRandom,
  mixImages,
  type Random,
  sampleMixing,
} from '@vicinal/distillation';
import {
  analyseVicinalPairs,
  DEFAULT_LAMBDA_BINS,
  DEFAULT_PEAK_RANGE,
  softmax,
  type VicinalAnalysis,
} from '@vicinal/metrics';
import type { MixedBatchQuery } from './teacher-source.js';
import type { ImageSpec } from './train.js';

/** The teacher's raw logits [B,K] on the mixed batch and on its clean images. */
export interface VicinalTeacherLogits {
  mixed: Float32Array;
  clean: Float32Array;
}

/**
 * Asks the teacher about one mixed batch: its logits on the mixed images and
 * on the clean ones (for a teacher server, a "mix on the teacher" request
 * with returnConstituents).
 */
export type VicinalTeacher = (query: MixedBatchQuery) => Promise<VicinalTeacherLogits>;

export interface AnalyseVicinalOptions {
  student: tfl.LayersModel;
  teacher: VicinalTeacher;
  /** The images the pairs are drawn from (the training split). */
  images: ImageSplit;
  spec: ImageSpec;
  /** Number of pairs (default 2048). */
  pairs?: number;
  /** Pairs per teacher query and student forward pass (default 256, at least 2). */
  batchSize?: number;
  /** Seed of the image order, the partners and the lambdas (default 0). */
  seed?: number;
  /** Equal-width lambda bins of the result (default 20). */
  bins?: number;
  /** Open lambda interval of the peak summary (default (0.45, 0.55)). */
  peak?: readonly [number, number];
}

/**
 * The vicinal analysis of a student against its teacher on training images.
 * Images are taken in a seeded shuffled order (reshuffled when `pairs`
 * exceeds the split); within each batch, image i is paired with image
 * partner(i) of a random permutation and mixed with lambda ~ U(0, 1), as
 * mixup with alpha = 1 does. The teacher gives its logits on x~ and on the
 * clean images; the student's come from model.predict on the normalised
 * clean and mixed batches. Probabilities are softmax(logits) and the numbers
 * are those of analyseVicinalPairs. One seed always gives one result.
 */
export async function analyseVicinal(
  options: AnalyseVicinalOptions,
): Promise<VicinalAnalysis> {
  const { student, teacher, images, spec } = options;
  const pairs = options.pairs ?? 2048;
  const batchSize = options.batchSize ?? 256;
  checkInteger('pairs', pairs, 2);
  checkInteger('batchSize', batchSize, 2);
  if (images.count < 2) {
    throw new RangeError(`images: expected at least 2 images, got ${images.count}`);
  }
  const k = spec.numClasses;
  const [h, w, c] = spec.shape;
  const pixels = h * w * c;
  if (images.images.length !== images.count * pixels) {
    throw new RangeError(
      `images: expected ${images.count * pixels} bytes (${images.count} images of ` +
        `${h}x${w}x${c}), got ${images.images.length}`,
    );
  }
  const random = createRandom(options.seed ?? 0);
  const order = new ImageOrder(random, images.count);
  const lambda = new Float64Array(pairs);
  const labelsI = new Int32Array(pairs);
  const labelsJ = new Int32Array(pairs);
  const probs = {
    teacherI: new Float64Array(pairs * k),
    teacherJ: new Float64Array(pairs * k),
    teacherMixed: new Float64Array(pairs * k),
    studentI: new Float64Array(pairs * k),
    studentJ: new Float64Array(pairs * k),
    studentMixed: new Float64Array(pairs * k),
  };
  for (let start = 0; start < pairs; start += batchSize) {
    // A final batch of one would pair an image with itself; fold it in.
    const b = pairs - start <= batchSize + 1 ? pairs - start : batchSize;
    const indices = order.take(b);
    const batch = new Uint8Array(b * pixels);
    indices.forEach((index, i) => {
      batch.set(images.images.subarray(index * pixels, (index + 1) * pixels), i * pixels);
    });
    const { partner, lambda: weights } = sampleMixing(random, b, { alpha: 1, p: 1 });
    const query: MixedBatchQuery = {
      images: batch,
      shape: [b, h, w, c],
      partner,
      lambda: weights,
      // Row numbers for a teacher that holds the split the images come from.
      rows: sourceRows(images, indices) ?? undefined,
    };
    const fromTeacher = await teacher(query);
    checkLogits('teacher mixed logits', fromTeacher.mixed, b, k);
    checkLogits('teacher clean logits', fromTeacher.clean, b, k);
    const fromStudent = studentLogits(student, batch, spec, partner, weights);
    const teacherMixed = softmax(fromTeacher.mixed, 1, k);
    const teacherClean = softmax(fromTeacher.clean, 1, k);
    const studentMixed = softmax(fromStudent.mixed, 1, k);
    const studentClean = softmax(fromStudent.clean, 1, k);
    for (let i = 0; i < b; i++) {
      const row = start + i;
      const j = partner[i];
      lambda[row] = weights[i];
      labelsI[row] = images.labels[indices[i]];
      labelsJ[row] = images.labels[indices[j]];
      const at = row * k;
      probs.teacherI.set(teacherClean.subarray(i * k, (i + 1) * k), at);
      probs.teacherJ.set(teacherClean.subarray(j * k, (j + 1) * k), at);
      probs.teacherMixed.set(teacherMixed.subarray(i * k, (i + 1) * k), at);
      probs.studentI.set(studentClean.subarray(i * k, (i + 1) * k), at);
      probs.studentJ.set(studentClean.subarray(j * k, (j + 1) * k), at);
      probs.studentMixed.set(studentMixed.subarray(i * k, (i + 1) * k), at);
    }
    if (b !== batchSize) break;
  }
  return analyseVicinalPairs(
    { lambda, labelsI, labelsJ, ...probs, numClasses: k },
    {
      numBins: options.bins ?? DEFAULT_LAMBDA_BINS,
      peak: options.peak ?? DEFAULT_PEAK_RANGE,
    },
  );
}

/** The student's logits on the clean and on the mixed batch (inference mode). */
function studentLogits(
  model: tfl.LayersModel,
  batch: Uint8Array,
  spec: ImageSpec,
  partner: Int32Array,
  lambda: Float32Array,
): VicinalTeacherLogits {
  const [clean, mixed] = tf.tidy(() => {
    const x = toNormalisedTensor(tf, batch, spec.mean, spec.std, spec.shape);
    const onClean = model.predict(x) as tf.Tensor;
    const onMixed = model.predict(mixImages(x, partner, lambda)) as tf.Tensor;
    return [tf.cast(onClean, 'float32'), tf.cast(onMixed, 'float32')];
  });
  try {
    return {
      clean: clean.dataSync() as Float32Array,
      mixed: mixed.dataSync() as Float32Array,
    };
  } finally {
    clean.dispose();
    mixed.dispose();
  }
}

/** Image indices in a seeded shuffled order, reshuffled after each full pass. */
class ImageOrder {
  private order: Int32Array;
  private next = 0;

  constructor(
    private readonly random: Random,
    private readonly count: number,
  ) {
    this.order = random.permutation(count);
  }

  take(n: number): Int32Array {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      if (this.next === this.count) {
        this.order = this.random.permutation(this.count);
        this.next = 0;
      }
      out[i] = this.order[this.next++];
    }
    return out;
  }
}

function checkLogits(what: string, logits: Float32Array, rows: number, k: number): void {
  if (!(logits instanceof Float32Array) || logits.length !== rows * k) {
    const got =
      logits instanceof Float32Array ? `${logits.length} values` : typeof logits;
    throw new RangeError(
      `${what}: expected ${rows * k} values ([${rows}, ${k}]), got ${got}`,
    );
  }
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name}: expected an integer >= ${min}, got ${value}`);
  }
}
