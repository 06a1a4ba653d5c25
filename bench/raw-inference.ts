/**
 * Bench child: the teacher model's own inference throughput in one process,
 * as the teacher server runs it (float32 normalised rows in, a tensor,
 * predict, logits read back), without gRPC, batching or mixing. It serves
 * requests so the bench can alternate it with the server under load:
 *   ready:   {"backend"}
 *   request: {"batch": B, "calls": n}
 *   reply:   {"samplesPerSecond", "latencyMs": [ms per call]}
 */
import { initBackend, tf } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { decodeArtifact, encodeArtifact } from '@vicinal/models';
import { childSettings, sendMessage, serveRequests } from './child-io.js';
import { buildBenchModel, type ModelSettings } from './models.js';

export interface RawInferenceSettings {
  model: ModelSettings;
  batches: number[];
  warmupCalls: number;
}

export interface RawRequest {
  batch: number;
  calls: number;
}

export interface RawReply {
  samplesPerSecond: number;
  latencyMs: number[];
}

/** Every repetition at one batch size. */
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

const s = childSettings<RawInferenceSettings>('raw-inference');
const backend = await initBackend();
const built = buildBenchModel(s.model);
const model = await decodeArtifact(await encodeArtifact(built));
built.dispose();
const [h, w, c] = s.model.shape;
const random = seededRandom(s.model.seed);

async function infer(input: Float32Array, rows: number): Promise<void> {
  const y = tf.tidy(
    () => model.predict(tf.tensor4d(input, [rows, h, w, c])) as tf.Tensor,
  );
  try {
    await y.data();
  } finally {
    y.dispose();
  }
}

const inputs = new Map<number, Float32Array>();
for (const batch of s.batches) {
  const input = new Float32Array(batch * h * w * c);
  for (let i = 0; i < input.length; i++) input[i] = 2 * random() - 1;
  inputs.set(batch, input);
  for (let i = 0; i < s.warmupCalls; i++) await infer(input, batch);
}
await sendMessage({ backend: backend.name });
serveRequests<RawRequest, RawReply>('raw-inference', async ({ batch, calls }) => {
  const input = inputs.get(batch);
  if (!input) throw new RangeError(`batch: expected one of ${s.batches}, got ${batch}`);
  const latencyMs: number[] = [];
  const start = performance.now();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await infer(input, batch);
    latencyMs.push(performance.now() - t);
  }
  return {
    samplesPerSecond: (calls * batch) / ((performance.now() - start) / 1000),
    latencyMs,
  };
});
