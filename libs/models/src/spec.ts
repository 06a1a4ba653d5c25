import type * as tfl from '@tensorflow/tfjs-layers';
import { ModelSpecError } from './errors.js';

/** What a builder needs to know to make a model. */
export interface ModelSpec {
  /** [height, width, channels] of one (normalised, float32) input image. */
  inputShape: readonly number[];
  /** Number of classes: the model outputs raw logits [B, numClasses]. */
  numClasses: number;
  /** Seed for every weight initialiser: same seed, same initial weights. */
  seed: number;
}

/** Builds a fresh, uncompiled layers model from a validated spec. */
export type ModelBuilder = (spec: ValidSpec) => tfl.LayersModel;

/** A spec after validation. */
export interface ValidSpec {
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
}

/** Checks a spec and returns it in the exact form builders take. */
export function validateSpec(spec: ModelSpec): ValidSpec {
  const shape = spec.inputShape;
  if (
    !Array.isArray(shape) ||
    shape.length !== 3 ||
    !shape.every((d) => Number.isInteger(d) && d > 0)
  ) {
    throw new ModelSpecError(
      `inputShape: expected [height, width, channels] of positive integers, got ` +
        `${JSON.stringify(shape)}`,
    );
  }
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) {
    throw new ModelSpecError(
      `numClasses: expected an integer >= 2, got ${String(spec.numClasses)}`,
    );
  }
  if (!Number.isSafeInteger(spec.seed)) {
    throw new ModelSpecError(`seed: expected an integer, got ${String(spec.seed)}`);
  }
  return {
    inputShape: [shape[0], shape[1], shape[2]],
    numClasses: spec.numClasses,
    seed: spec.seed,
  };
}
