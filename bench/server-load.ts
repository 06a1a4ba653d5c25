/**
 * Bench child: load on a teacher server from a separate process. For a
 * batch size and a number of concurrent clients, every client sends a
 * bounded number of "mix on the teacher" requests one after the other
 * (closed loop) on its own SoftLabelsStream call, as a trainer does;
 * throughput is all rows over the wall time of the run. It serves requests
 * so the bench can alternate it with raw inference:
 *   ready:   {"clients": n}  (connected and warmed up)
 *   request: {"batch": B, "clients": c, "requestsPerClient": r}
 *   reply:   {"samplesPerSecond", "latencyMs": [...], "servedBatchRows": [...]}
 */
import { seededRandom } from '@vicinal/data';
import { TeacherClient } from '@vicinal/wire';
import { childSettings, sendMessage, serveRequests } from './child-io.js';

export interface ServerLoadSettings {
  address: string;
  name: string;
  shape: [number, number, number];
  batches: number[];
  maxClients: number;
  warmupRequests: number;
  seed: number;
}

export interface LoadRequest {
  batch: number;
  clients: number;
  requestsPerClient: number;
}

export interface LoadReply {
  samplesPerSecond: number;
  latencyMs: number[];
  /** Server timings of each request: rows of the coalesced batch it joined, */
  servedBatchRows: number[];
  /** its wait in the batching queue and its batch's inference, ms. */
  serverQueueMs: number[];
  serverInferenceMs: number[];
}

/** Every repetition of one batch size and client count. */
export interface LoadRun {
  batch: number;
  clients: number;
  samplesPerSecond: number[];
  latencyMs: number[];
  servedBatchRows: number[];
  serverQueueMs: number[];
  serverInferenceMs: number[];
  requestsPerClient: number;
}

export interface ServerLoadResult {
  runs: LoadRun[];
}

interface Payload {
  images: Uint8Array;
  shape: [number, number, number, number];
  partner: Int32Array;
  lambda: Float32Array;
}

function payload(batch: number, shape: [number, number, number], seed: number): Payload {
  const random = seededRandom(seed);
  const [h, w, c] = shape;
  const images = new Uint8Array(batch * h * w * c);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(random() * 256);
  const partner = Int32Array.from({ length: batch }, (_, i) => i);
  for (let i = batch - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [partner[i], partner[j]] = [partner[j], partner[i]];
  }
  const lambda = Float32Array.from({ length: batch }, () => random());
  return { images, shape: [batch, h, w, c], partner, lambda };
}

const s = childSettings<ServerLoadSettings>('server-load');
const connections: TeacherClient[] = [];
for (let i = 0; i < s.maxClients; i++) {
  connections.push(await TeacherClient.connect(s.address, { deadlineMs: 300_000 }));
}
const payloads = new Map<number, Payload[]>();
for (const batch of s.batches) {
  payloads.set(
    batch,
    connections.map((_, i) => payload(batch, s.shape, s.seed + 1000 * batch + i)),
  );
}
// Each client sends its requests on one SoftLabelsStream call, as a student
// trainer's RemoteTeacher does.
const streams = connections.map((c) => c.stream());
process.once('exit', () => {
  for (const stream of streams) stream.cancel();
  for (const c of connections) c.close();
});
const ask = (batch: number, client: number) =>
  streams[client].softLabels({ model: s.name, mix: payloads.get(batch)![client] });

for (const batch of s.batches) {
  await Promise.all(
    connections.map(async (_, i) => {
      for (let r = 0; r < s.warmupRequests; r++) await ask(batch, i);
    }),
  );
}
await sendMessage({ clients: connections.length });
serveRequests<LoadRequest, LoadReply>('server-load', async (request) => {
  const { batch, clients, requestsPerClient } = request;
  if (!payloads.has(batch) || clients < 1 || clients > connections.length) {
    throw new RangeError(
      `request: expected a batch in ${s.batches} and 1..${connections.length} clients, ` +
        `got batch ${batch} and ${clients} clients`,
    );
  }
  const latencyMs: number[] = [];
  const servedBatchRows: number[] = [];
  const serverQueueMs: number[] = [];
  const serverInferenceMs: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, i) => {
      for (let r = 0; r < requestsPerClient; r++) {
        const sent = performance.now();
        const result = await ask(batch, i);
        latencyMs.push(performance.now() - sent);
        servedBatchRows.push(result.timings.batchSize);
        serverQueueMs.push(result.timings.queueMs);
        serverInferenceMs.push(result.timings.inferenceMs);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return {
    samplesPerSecond: (batch * clients * requestsPerClient) / seconds,
    latencyMs,
    servedBatchRows,
    serverQueueMs,
    serverInferenceMs,
  };
});
