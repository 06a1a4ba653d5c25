import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '@vicinal/backend';
import {
  type InferFunction,
  type TeacherMetadata,
  toInferFunction,
} from '@vicinal/teacher-server';

export { answerWithin, until } from './wait.js';

/**
 * A small TensorFlow.js teacher for tests that count tensors: conv 3x3
 * stride 2 -> flatten -> dense(K) on 8x8x1 images, seeded weights.
 */
export const SMALL = { h: 8, w: 8, c: 1, k: 5, mean: 0.4, std: 0.3 } as const;
export const SMALL_PIXELS = SMALL.h * SMALL.w * SMALL.c;

export function smallMetadata(): TeacherMetadata {
  return {
    model: 'small-teacher',
    version: '1',
    architecture: 'small-cnn',
    parameters: 0,
    inputShape: [SMALL.h, SMALL.w, SMALL.c],
    numClasses: SMALL.k,
    classNames: Array.from({ length: SMALL.k }, (_, i) => `c${i}`),
    mean: [SMALL.mean],
    std: [SMALL.std],
    dataset: 'synthetic',
    backend: 'cpu',
  };
}

export function smallModel(): tfl.LayersModel {
  const model = tfl.sequential();
  model.add(
    tfl.layers.conv2d({
      inputShape: [SMALL.h, SMALL.w, SMALL.c],
      filters: 3,
      kernelSize: 3,
      strides: 2,
      activation: 'relu',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 5 }),
      biasInitializer: tfl.initializers.constant({ value: 0.1 }),
    }),
  );
  model.add(tfl.layers.flatten());
  model.add(
    tfl.layers.dense({
      units: SMALL.k,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: 6 }),
    }),
  );
  return model;
}

/**
 * The model's logits for a "mix on the teacher" query, with the mixed batch
 * built here in float64 (normalise, then lambda * x[i] + (1 - lambda) *
 * x[partner[i]]) and run through model.predict.
 */
export function mixedLogits(
  model: tfl.LayersModel,
  images: Uint8Array,
  partner: ArrayLike<number>,
  lambda: ArrayLike<number>,
): Float32Array {
  const rows = lambda.length;
  const clean = (r: number, p: number) =>
    (images[r * SMALL_PIXELS + p] / 255 - SMALL.mean) / SMALL.std;
  const mixed = new Float32Array(rows * SMALL_PIXELS);
  for (let r = 0; r < rows; r++) {
    for (let p = 0; p < SMALL_PIXELS; p++) {
      mixed[r * SMALL_PIXELS + p] =
        lambda[r] * clean(r, p) + (1 - lambda[r]) * clean(partner[r], p);
    }
  }
  return tf.tidy(() =>
    (
      model.predict(tf.tensor4d(mixed, [rows, SMALL.h, SMALL.w, SMALL.c])) as tf.Tensor
    ).dataSync(),
  ) as Float32Array;
}

/**
 * The model's own inference (tensors in, tensors freed), held at a gate:
 * each batch waits until the test opens it. `entered` records the rows of
 * every batch that reached the model.
 */
export function gatedInference(model: tfl.LayersModel) {
  const real: InferFunction = toInferFunction(model);
  const gates: (() => void)[] = [];
  const entered: number[] = [];
  let open = false;
  const infer: InferFunction = async (input, shape) => {
    entered.push(shape[0]);
    if (!open) await new Promise<void>((resolve) => gates.push(resolve));
    return real(input, shape);
  };
  return {
    infer,
    entered,
    /** Batches waiting at the gate. */
    waiting: () => gates.length,
    /** Lets the oldest waiting batch run. */
    release: () => gates.shift()?.(),
    /** Holds later batches at the gate again. */
    hold: () => {
      open = false;
    },
    /** Lets every batch, now and later, run at once. */
    openAll: () => {
      open = true;
      for (const release of gates.splice(0)) release();
    },
  };
}

/** Seeded uint8 pixels for `rows` images. */
export function pixels(random: () => number, rows: number): Uint8Array {
  return Uint8Array.from({ length: rows * SMALL_PIXELS }, () =>
    Math.floor(random() * 256),
  );
}
