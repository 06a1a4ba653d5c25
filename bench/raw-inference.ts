/**
 * Bench child: the teacher model's own inference throughput in one process,
 * through the teacher server's own inference function (float32 normalised
 * rows in, the whole batch in one predict, logits read back), without gRPC,
 * batching, threads or mixing; its heap is tuned as the bench's teacher
 * server's (benchHeapPercent). It serves
 * requests so the bench can alternate it with the server under load:
 *   ready:   {"backend"}
 *   request: {"batch": B, "calls": n}
 *   reply:   {"samplesPerSecond", "latencyMs": [ms per call]}
 */
import { initBackend } from '@vicinal/backend';
import { seededRandom } from '@vicinal/data';
import { decodeArtifact, encodeArtifact } from '@vicinal/models';
import { toInferFunction, tuneServingHeap } from '@vicinal/teacher-server';
import { childSettings, sendMessage, serveRequests } from './child-io.js';
import { benchHeapPercent } from './heap.js';
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
tuneServingHeap(benchHeapPercent());
const backend = await initBackend();
const built = buildBenchModel(s.model);
const model = await decodeArtifact(await encodeArtifact(built));
built.dispose();
const [h, w, c] = s.model.shape;
const random = seededRandom(s.model.seed);

// The same inference function the server's runtime runs (one pass over the
// batch, logits read back), so server / raw measures only what serving adds.
const modelInfer = toInferFunction(model);
async function infer(input: Float32Array, rows: number): Promise<void> {
  await modelInfer(input, [rows, h, w, c]);
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
