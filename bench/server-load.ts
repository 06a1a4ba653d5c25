/**
 * Bench child: load on a teacher server from a separate process. For each
 * batch size and number of concurrent clients, every client sends a bounded
 * number of "mix on the teacher" requests one after the other (closed loop);
 * throughput is all rows over the wall time of the run.
 */
import { seededRandom } from '@vicinal/data';
import { TeacherClient } from '@vicinal/wire';
import { childSettings, progress, runChild } from './child-io.js';

export interface ServerLoadSettings {
  address: string;
  name: string;
  shape: [number, number, number];
  batches: number[];
  clients: number[];
  reps: number;
  /** Rows each run sends in total (at least minRequests per client). */
  rowsPerRun: number;
  minRequests: number;
  warmupRequests: number;
  seed: number;
}

export interface LoadRun {
  batch: number;
  clients: number;
  /** samples/s of every repetition. */
  samplesPerSecond: number[];
  /** Latency of every request of every repetition, ms. */
  latencyMs: number[];
  /** Rows in the coalesced batches the server reported. */
  servedBatchRows: number[];
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

async function main(): Promise<ServerLoadResult> {
  const s = childSettings<ServerLoadSettings>('server-load');
  const maxClients = Math.max(...s.clients);
  const connections: TeacherClient[] = [];
  try {
    for (let i = 0; i < maxClients; i++) {
      connections.push(await TeacherClient.connect(s.address, { deadlineMs: 120_000 }));
    }
    const runs = new Map<string, LoadRun>();
    for (let rep = 1; rep <= s.reps; rep++) {
      for (const batch of s.batches) {
        const payloads = connections.map((_, i) =>
          payload(batch, s.shape, s.seed + 1000 * batch + i),
        );
        const ask = (client: number) =>
          connections[client].softLabels({ model: s.name, mix: payloads[client] });
        if (rep === 1) {
          await Promise.all(
            connections.map(async (_, i) => {
              for (let r = 0; r < s.warmupRequests; r++) await ask(i);
            }),
          );
        }
        for (const clients of s.clients) {
          const perClient = Math.max(
            s.minRequests,
            Math.ceil(s.rowsPerRun / (batch * clients)),
          );
          const key = `${batch}x${clients}`;
          const run = runs.get(key) ?? {
            batch,
            clients,
            samplesPerSecond: [],
            latencyMs: [],
            servedBatchRows: [],
            requestsPerClient: perClient,
          };
          runs.set(key, run);
          const start = performance.now();
          await Promise.all(
            Array.from({ length: clients }, async (_, i) => {
              for (let r = 0; r < perClient; r++) {
                const sent = performance.now();
                const result = await ask(i);
                run.latencyMs.push(performance.now() - sent);
                run.servedBatchRows.push(result.timings.batchSize);
              }
            }),
          );
          const seconds = (performance.now() - start) / 1000;
          const rate = (batch * clients * perClient) / seconds;
          run.samplesPerSecond.push(rate);
          progress(
            `rep ${rep}/${s.reps} batch ${batch} x ${clients} clients: ` +
              `${rate.toFixed(0)} samples/s`,
          );
        }
      }
    }
    return { runs: [...runs.values()] };
  } finally {
    for (const c of connections) c.close();
  }
}

runChild('server-load', main);
