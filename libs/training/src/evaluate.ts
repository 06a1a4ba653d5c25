import type * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '@vicinal/backend';
import { type ImageSplit, toNormalisedTensor } from '@vicinal/data';
import {
  adaptiveCalibrationError,
  type CalibrationReport,
  calibrationReport,
  softmax,
} from '@vicinal/metrics';
import { type HeldOutTemperature, heldOutTemperature } from './temperature.js';
import type { ImageSpec } from './train.js';

/** Logits [N,K] of `model` on every image of the split, in inference mode. */
export function predictLogits(
  model: tfl.LayersModel,
  split: ImageSplit,
  spec: ImageSpec,
  batchSize = 500,
): Float32Array {
  const pixels = spec.shape[0] * spec.shape[1] * spec.shape[2];
  const out = new Float32Array(split.count * spec.numClasses);
  for (let start = 0; start < split.count; start += batchSize) {
    const n = Math.min(batchSize, split.count - start);
    const images = split.images.subarray(start * pixels, (start + n) * pixels);
    const logits = tf.tidy(() => {
      const x = toNormalisedTensor(tf, images, spec.mean, spec.std, spec.shape);
      return model.predict(x) as tf.Tensor;
    });
    out.set(logits.dataSync(), start * spec.numClasses);
    logits.dispose();
  }
  return out;
}

export type ModelEvaluation = CalibrationReport & {
  adaptiveEce: number;
  temperatureScaling: HeldOutTemperature;
};

/** The figures of an evaluation that results and teacher records store. */
export function storedMetrics(report: ModelEvaluation) {
  return {
    accuracy: report.accuracy,
    ece: report.ece,
    mce: report.mce,
    overconfidence: report.overconfidence,
    nll: report.nll,
    brier: report.brier,
    adaptiveEce: report.adaptiveEce,
    reliability: report.bins,
  };
}

/**
 * Accuracy and calibration of `model` on the split (probabilities = softmax),
 * and post-hoc temperature scaling fitted on a seeded half of the split and
 * judged on the other half.
 */
export function evaluateModel(
  model: tfl.LayersModel,
  split: ImageSplit,
  spec: ImageSpec,
  seed = 0,
): ModelEvaluation {
  const logits = predictLogits(model, split, spec);
  const report = calibrationReport(logits, split.labels, spec.numClasses);
  const probabilities = softmax(logits, 1, spec.numClasses);
  return {
    ...report,
    adaptiveEce: adaptiveCalibrationError(probabilities, split.labels, {
      numClasses: spec.numClasses,
    }),
    temperatureScaling: heldOutTemperature(logits, split.labels, spec.numClasses, seed),
  };
}
