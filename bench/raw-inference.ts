/**
 * Bench child: the teacher model's own inference throughput in one process,
 * as the teacher server runs it (float32 normalised rows in, a tensor, predict,
 * logits read back), without gRPC, batching or mixing.
 */
import { initBackend, tf } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { decodeArtifact, encodeArtifact } from '@vicinal/models';
import { childSettings, progress, runChild } from './child-io.js';
import { buildBenchModel, type ModelSettings } from './models.js';

export interface RawInferenceSettings {
  model: ModelSettings;
  batches: number[];
  reps: number;
  rowsPerRun: number;
  minCalls: number;
  warmupCalls: number;
}

export interface RawRun {
  batch: number;
  /** samples/s of every repetition. */
  samplesPerSecond: number[];
  /** Duration of every call, ms. */
  latencyMs: number[];
  calls: number;
}

export interface RawInferenceResult {
  backend: string;
  runs: RawRun[];
}

async function main(): Promise<RawInferenceResult> {
  const s = childSettings<RawInferenceSettings>('raw-inference');
  const backend = await initBackend();
  const built = buildBenchModel(s.model);
  const model = await decodeArtifact(await encodeArtifact(built));
  built.dispose();
  const [h, w, c] = s.model.shape;
  const random = seededRandom(s.model.seed);
  const infer = async (input: Float32Array, rows: number) => {
    const y = tf.tidy(
      () => model.predict(tf.tensor4d(input, [rows, h, w, c])) as tf.Tensor,
    );
    try {
      return await y.data();
    } finally {
      y.dispose();
    }
  };
  const inputs = new Map<number, Float32Array>();
  for (const batch of s.batches) {
    const input = new Float32Array(batch * h * w * c);
    for (let i = 0; i < input.length; i++) input[i] = 2 * random() - 1;
    inputs.set(batch, input);
    for (let i = 0; i < s.warmupCalls; i++) await infer(input, batch);
  }
  const runs = new Map<number, RawRun>();
  for (let rep = 1; rep <= s.reps; rep++) {
    for (const batch of s.batches) {
      const calls = Math.max(s.minCalls, Math.ceil(s.rowsPerRun / batch));
      const run = runs.get(batch) ?? {
        batch,
        samplesPerSecond: [],
        latencyMs: [],
        calls,
      };
      runs.set(batch, run);
      const input = inputs.get(batch)!;
      const start = performance.now();
      for (let i = 0; i < calls; i++) {
        const t = performance.now();
        await infer(input, batch);
        run.latencyMs.push(performance.now() - t);
      }
      const rate = (calls * batch) / ((performance.now() - start) / 1000);
      run.samplesPerSecond.push(rate);
      progress(`rep ${rep}/${s.reps} batch ${batch}: ${rate.toFixed(0)} samples/s`);
    }
  }
  return { backend: backend.name, runs: [...runs.values()] };
}

runChild('raw-inference', main);
