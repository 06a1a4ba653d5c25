import type * as tfl from '@tensorflow/tfjs-layers';
import { type ImageSplit, subset } from '@vicinal/data';
import { calibrationReport } from '@vicinal/metrics';
import { instruments, metricsActive } from '@vicinal/telemetry';
import { type ImageSpec, predictLogits } from '@vicinal/training';

/** Test images checked after each epoch but the last (which sees all of them). */
const EPOCH_CHECK_IMAGES = 1000;

/** Sets the student's accuracy and ECE gauges for `epoch`. */
export function recordQuality(
  quality: { accuracy: number; ece: number },
  labels: { arm: string; epoch: number; images: number },
): void {
  const attributes = {
    'vicinal.arm': labels.arm,
    'vicinal.epoch': labels.epoch,
    'vicinal.eval.images': labels.images,
  };
  instruments().studentAccuracy.record(quality.accuracy, attributes);
  instruments().studentEce.record(quality.ece, attributes);
}

/**
 * Per-epoch accuracy and ECE on a fixed seeded subset of the test split, for
 * the gauges only: skipped when no metric reader is configured, so it costs
 * nothing unless someone watches.
 */
export function epochQualityCheck(
  model: tfl.LayersModel,
  test: ImageSplit,
  spec: ImageSpec,
  arm: string,
  seed: number,
): (epoch: number) => void {
  let images: ImageSplit | null = null;
  return (epoch) => {
    if (!metricsActive()) return;
    images ??= subset(test, Math.min(EPOCH_CHECK_IMAGES, test.count), seed);
    const report = calibrationReport(
      predictLogits(model, images, spec),
      images.labels,
      spec.numClasses,
    );
    recordQuality(report, { arm, epoch, images: images.count });
  };
}
