/**
 * Bench child: vicinal's side of the PyTorch comparison. Times one training
 * step (forward in training mode, blended KD loss on given teacher logits,
 * backward, Adam update, loss read back) and one inference pass (predict,
 * logits read back) at batch B on random data, for each model and input
 * shape. pytorch_reference.py --serve does the same with PyTorch and speaks
 * the same protocol, so the bench can alternate between the two:
 *   ready:   {"backend", "kernels", "configs": [{architecture, shape, parameters}]}
 *   request: {"config": i, "warmup": w, "steps": n}
 *   reply:   {"trainStepMs": ms per step, "inferenceMs": ms per pass}
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, setNativeKernelsActive, tf } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { fusedBlendedLoss, mixedHardLabelsArray } from '@vicinal/distillation';
import { countParameters } from '@vicinal/models';
import { childSettings, sendMessage, serveRequests } from './child-io.js';
import { buildBenchModel } from './models.js';

export interface TimingConfig {
  architecture: string;
  shape: [number, number, number];
}

export interface ModelTimingSettings {
  configs: TimingConfig[];
  numClasses: number;
  batch: number;
  beta: number;
  temperature: number;
  learningRate: number;
  seed: number;
  /** False: vicinal's wasm kernels only, even when the native ones are built. */
  nativeKernels?: boolean;
}

export interface TimingReady {
  backend: string;
  kernels: number;
  /** Native kernels in use (library and kernels), or why not. */
  native: string;
  configs: (TimingConfig & { parameters: number })[];
}

export interface TimingRequest {
  config: number;
  warmup: number;
  steps: number;
}

export interface TimingReply {
  trainStepMs: number;
  inferenceMs: number;
}

/** Every configuration's timings, one value per repetition. */
export interface ModelTiming extends TimingConfig {
  parameters: number;
  trainStepMs: number[];
  inferenceMs: number[];
}

export interface ModelTimingResult {
  backend: string;
  kernels: number;
  native?: string;
  timings: ModelTiming[];
}

interface Prepared {
  trainStep(): void;
  inference(): void;
  parameters: number;
}

function prepare(config: TimingConfig, s: ModelTimingSettings): Prepared {
  const model: tfl.LayersModel = buildBenchModel({
    ...config,
    numClasses: s.numClasses,
    mean: [],
    std: [],
    seed: s.seed,
  });
  const random = seededRandom(s.seed);
  const [h, w, c] = config.shape;
  const b = s.batch;
  const k = s.numClasses;
  const x = tf.tensor4d(
    Float32Array.from({ length: b * h * w * c }, () => 2 * random() - 1),
    [b, h, w, c],
  );
  // The targets stay arrays, as in the trainer's step (the fused loss).
  const teacher = Float32Array.from({ length: b * k }, () => 4 * random() - 2);
  const labels = Uint8Array.from({ length: b }, () => Math.floor(random() * k));
  const partner = Int32Array.from({ length: b }, (_, i) => (i + 1) % b);
  const lambda = Float32Array.from({ length: b }, () => random());
  const yMix = mixedHardLabelsArray(labels, partner, lambda, k);
  const optimizer = tf.train.adam(s.learningRate);
  return {
    parameters: countParameters(model),
    trainStep() {
      const cost = tf.tidy((): tf.Scalar => {
        const value = optimizer.minimize(
          () =>
            fusedBlendedLoss({
              student: model.apply(x, { training: true }) as tf.Tensor2D,
              teacher,
              yMix,
              beta: s.beta,
              temperature: s.temperature,
            }),
          true,
        );
        if (!value) throw new Error('optimizer returned no loss');
        return value;
      });
      const value = cost.dataSync()[0];
      cost.dispose();
      if (!Number.isFinite(value)) throw new Error(`loss: expected finite, got ${value}`);
    },
    inference() {
      const y = model.predict(x) as tf.Tensor;
      y.dataSync();
      y.dispose();
    },
  };
}

function msPerCall(steps: number, call: () => void): number {
  const start = performance.now();
  for (let i = 0; i < steps; i++) call();
  return (performance.now() - start) / steps;
}

const s = childSettings<ModelTimingSettings>('model-timing');
const backend = await initBackend();
const nativeOn = backend.native.enabled && s.nativeKernels !== false;
if (!nativeOn) setNativeKernelsActive(false);
const prepared = s.configs.map((config) => prepare(config, s));
const ready: TimingReady = {
  backend: backend.name,
  kernels: backend.kernels.length,
  native: nativeOn
    ? `${backend.native.reason}: ${backend.native.kernels.join(', ')}`
    : `off (${backend.native.enabled ? 'switched off for this comparison' : backend.native.reason})`,
  configs: s.configs.map((config, i) => ({
    ...config,
    parameters: prepared[i].parameters,
  })),
};
await sendMessage(ready);
serveRequests<TimingRequest, TimingReply>('model-timing', async (request) => {
  const p = prepared[request.config];
  if (!p) throw new RangeError(`config: expected an index < ${prepared.length}`);
  for (let i = 0; i < request.warmup; i++) p.trainStep();
  const trainStepMs = msPerCall(request.steps, p.trainStep);
  for (let i = 0; i < request.warmup; i++) p.inference();
  const inferenceMs = msPerCall(request.steps, p.inference);
  return { trainStepMs, inferenceMs };
});
