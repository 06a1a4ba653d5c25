/**
 * Bench child: vicinal's side of the PyTorch comparison. Times one training
 * step (forward in training mode, blended KD loss on given teacher logits,
 * backward, Adam update, loss read back) and one inference pass (predict,
 * logits read back) at batch B on random data, for each model and input
 * shape. pytorch_reference.py does the same with PyTorch.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { blendedLoss, mixedHardLabels } from '@vicinal/distillation';
import { countParameters } from '@vicinal/models';
import { childSettings, progress, runChild } from './child-io.js';
import { buildBenchModel } from './models.js';

export interface ModelTimingSettings {
  configs: { architecture: string; shape: [number, number, number] }[];
  numClasses: number;
  batch: number;
  reps: number;
  /** Steps (or passes) timed together in one repetition. */
  stepsPerRep: number;
  warmup: number;
  beta: number;
  temperature: number;
  learningRate: number;
  seed: number;
}

export interface ModelTiming {
  architecture: string;
  shape: [number, number, number];
  parameters: number;
  /** ms per training step, one value per repetition. */
  trainStepMs: number[];
  /** ms per inference pass, one value per repetition. */
  inferenceMs: number[];
}

export interface ModelTimingResult {
  backend: string;
  kernels: number;
  timings: ModelTiming[];
}

function timeRepeated(reps: number, steps: number, step: () => void): number[] {
  const out: number[] = [];
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    for (let i = 0; i < steps; i++) step();
    out.push((performance.now() - start) / steps);
  }
  return out;
}

function timeModel(
  model: tfl.LayersModel,
  s: ModelTimingSettings,
  shape: [number, number, number],
): Pick<ModelTiming, 'trainStepMs' | 'inferenceMs'> {
  const random = seededRandom(s.seed);
  const [h, w, c] = shape;
  const b = s.batch;
  const k = s.numClasses;
  const x = tf.tensor4d(
    Float32Array.from({ length: b * h * w * c }, () => 2 * random() - 1),
    [b, h, w, c],
  );
  const teacher = tf.tensor2d(
    Float32Array.from({ length: b * k }, () => 4 * random() - 2),
    [b, k],
  );
  const labels = Uint8Array.from({ length: b }, () => Math.floor(random() * k));
  const partner = Int32Array.from({ length: b }, (_, i) => (i + 1) % b);
  const lambda = Float32Array.from({ length: b }, () => random());
  const yMix = mixedHardLabels(labels, partner, lambda, k);
  const optimizer = tf.train.adam(s.learningRate);
  const trainStep = () => {
    const cost = tf.tidy(() =>
      optimizer.minimize(
        () =>
          blendedLoss({
            student: model.apply(x, { training: true }) as tf.Tensor2D,
            teacher,
            yMix,
            beta: s.beta,
            temperature: s.temperature,
          }),
        true,
      ),
    );
    if (!cost) throw new Error('optimizer returned no loss');
    const value = cost.dataSync()[0];
    cost.dispose();
    if (!Number.isFinite(value)) throw new Error(`loss: expected finite, got ${value}`);
  };
  const inference = () => {
    const y = model.predict(x) as tf.Tensor;
    y.dataSync();
    y.dispose();
  };
  try {
    for (let i = 0; i < s.warmup; i++) trainStep();
    const trainStepMs = timeRepeated(s.reps, s.stepsPerRep, trainStep);
    for (let i = 0; i < s.warmup; i++) inference();
    const inferenceMs = timeRepeated(s.reps, s.stepsPerRep, inference);
    return { trainStepMs, inferenceMs };
  } finally {
    tf.dispose([x, teacher, yMix]);
    optimizer.dispose();
  }
}

async function main(): Promise<ModelTimingResult> {
  const s = childSettings<ModelTimingSettings>('model-timing');
  const backend = await initBackend();
  const timings: ModelTiming[] = [];
  for (const config of s.configs) {
    const model = buildBenchModel({
      architecture: config.architecture,
      shape: config.shape,
      numClasses: s.numClasses,
      mean: [],
      std: [],
      seed: s.seed,
    });
    const measured = timeModel(model, s, config.shape);
    timings.push({
      architecture: config.architecture,
      shape: config.shape,
      parameters: countParameters(model),
      ...measured,
    });
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
    progress(
      `${config.architecture} ${config.shape.join('x')}: train step ` +
        `${median(measured.trainStepMs).toFixed(1)} ms, inference ` +
        `${median(measured.inferenceMs).toFixed(1)} ms`,
    );
    model.dispose();
  }
  return { backend: backend.name, kernels: backend.kernels.length, timings };
}

runChild('model-timing', main);
