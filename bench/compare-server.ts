import type { ChildProcesses } from './children.js';
import type { ModelSettings } from './models.js';
import type {
  RawInferenceResult,
  RawInferenceSettings,
  RawReply,
  RawRequest,
  RawRun,
} from './raw-inference.js';
import type {
  LoadReply,
  LoadRequest,
  LoadRun,
  ServerLoadResult,
  ServerLoadSettings,
} from './server-load.js';

export interface CompareServerOptions {
  /** host:port of the running teacher server, and the model name it serves. */
  address: string;
  name: string;
  model: ModelSettings;
  batches: number[];
  clients: number[];
  reps: number;
  /** Rows each run sends in total (at least minCalls calls / requests per client). */
  rowsPerRun: number;
  minCalls: number;
  /** Cores of the raw-inference child (the server's) and of the load clients. */
  serverCore: number;
  clientCore: number;
  progress: (line: string) => void;
}

/** Calls per run: enough to send `rowsPerRun` rows, at least `min`. */
export function callsFor(
  rowsPerRun: number,
  batch: number,
  clients: number,
  min: number,
) {
  return Math.max(min, Math.ceil(rowsPerRun / (batch * clients)));
}

/**
 * Teacher server throughput against the raw model. A raw-inference process
 * on the server's core and a load process with up to max(clients) client
 * channels on the other core stay up; each repetition measures, per batch
 * size, the raw model and then the server at every client count, so both
 * see the same moment of a shared machine.
 */
export async function compareServer(
  children: ChildProcesses,
  o: CompareServerOptions,
): Promise<{ raw: RawInferenceResult; load: ServerLoadResult }> {
  const rawSettings: RawInferenceSettings = {
    model: o.model,
    batches: o.batches,
    warmupCalls: 2,
  };
  const raw = await children.start<{ backend: string }>(
    { script: 'raw-inference.ts', settings: rawSettings },
    o.serverCore,
    300_000,
  );
  const loadSettings: ServerLoadSettings = {
    address: o.address,
    name: o.name,
    shape: o.model.shape,
    batches: o.batches,
    maxClients: Math.max(...o.clients),
    warmupRequests: 2,
    seed: 3,
  };
  const load = await children.start<{ clients: number }>(
    { script: 'server-load.ts', settings: loadSettings },
    o.clientCore,
    300_000,
  );
  const rawRuns = new Map<number, RawRun>();
  const loadRuns = new Map<string, LoadRun>();
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const batch of o.batches) {
      const calls = callsFor(o.rowsPerRun, batch, 1, o.minCalls);
      const r = await raw.request<RawReply>({ batch, calls } satisfies RawRequest);
      const rawRun = rawRuns.get(batch) ?? {
        batch,
        calls,
        samplesPerSecond: [],
        latencyMs: [],
      };
      rawRuns.set(batch, rawRun);
      rawRun.samplesPerSecond.push(r.samplesPerSecond);
      rawRun.latencyMs.push(...r.latencyMs);
      const line = [`raw ${r.samplesPerSecond.toFixed(0)}`];
      for (const clients of o.clients) {
        const requestsPerClient = callsFor(o.rowsPerRun, batch, clients, o.minCalls);
        const l = await load.request<LoadReply>({
          batch,
          clients,
          requestsPerClient,
        } satisfies LoadRequest);
        const key = `${batch}x${clients}`;
        const run = loadRuns.get(key) ?? {
          batch,
          clients,
          requestsPerClient,
          samplesPerSecond: [],
          latencyMs: [],
          servedBatchRows: [],
          serverQueueMs: [],
          serverInferenceMs: [],
        };
        loadRuns.set(key, run);
        run.samplesPerSecond.push(l.samplesPerSecond);
        run.latencyMs.push(...l.latencyMs);
        run.servedBatchRows.push(...l.servedBatchRows);
        run.serverQueueMs.push(...l.serverQueueMs);
        run.serverInferenceMs.push(...l.serverInferenceMs);
        line.push(`${clients}c ${l.samplesPerSecond.toFixed(0)}`);
      }
      o.progress(`  rep ${rep}/${o.reps} batch ${batch} (samples/s): ${line.join(', ')}`);
    }
  }
  return {
    raw: { backend: raw.ready.backend, runs: [...rawRuns.values()] },
    load: { runs: [...loadRuns.values()] },
  };
}
