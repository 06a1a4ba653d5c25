/**
 * Bench child: serves a freshly built teacher over loopback gRPC with
 * startTeacherServer (no NATS, no registry). The model goes through the
 * artifact encoding a deployed teacher is fetched in, and runs where a
 * deployed teacher's does: on an inference thread unless
 * `inferenceThread` (or VICINAL_INFERENCE_THREAD) says "main", with the
 * heap tuned as a deployed teacher's (VICINAL_HEAP_GROWING_PERCENT), and
 * holding a data set's training split when `holdDataset` names one. Prints
 * {"port": N, "backend": ...} once listening; stops on SIGTERM or when the
 * parent closes stdin.
 */
import { initBackend } from '@vicinal/backend';
import { loadDataset } from '@vicinal/data';
import { encodeArtifact } from '@vicinal/models';
import {
  loadTeacherRuntime,
  startTeacherServer,
  tuneServingHeap,
} from '@vicinal/teacher-server';
import { childSettings, exitWithParent, sendMessage } from './child-io.js';
import { benchHeapPercent } from './heap.js';
import { buildBenchModel, type ModelSettings } from './models.js';

export interface ServeTeacherSettings {
  model: ModelSettings;
  /** Served model name clients ask for. */
  name: string;
  maxBatch: number;
  maxDelayMs: number;
  /** Rows the batching queue holds (default: the server's, 8 x maxBatch). */
  queueLimit?: number;
  inferenceThread?: 'worker' | 'main';
  /** A data set whose training split the server holds for row-number queries. */
  holdDataset?: string;
}

export interface ServeTeacherReady {
  port: number;
  backend: string;
  maxBatch: number;
  maxDelayMs: number;
  inferenceThread: 'worker' | 'main';
  heapGrowingPercent: number;
  pid: number;
  /** The split held for row-number queries, if any. */
  held: { name: string; fingerprint: string; rows: number } | null;
}

const settings = childSettings<ServeTeacherSettings>('serve-teacher');
exitWithParent();
const where =
  settings.inferenceThread ??
  (process.env.VICINAL_INFERENCE_THREAD === 'main' ? 'main' : 'worker');
const heapGrowingPercent = benchHeapPercent();
tuneServingHeap(heapGrowingPercent);
// This thread's backend builds the model (and runs it in "main" mode).
await initBackend();
const built = buildBenchModel(settings.model);
const artifact = await encodeArtifact(built);
built.dispose();
const runtime = await loadTeacherRuntime(artifact, where);
const data = settings.holdDataset
  ? await loadDataset({ name: settings.holdDataset })
  : null;
const held = data
  ? {
      name: `${settings.holdDataset}/train`,
      fingerprint: data.train.fingerprint,
      images: data.train.images,
      rows: data.train.count,
    }
  : null;
const server = await startTeacherServer({
  address: '127.0.0.1:0',
  model: runtime.infer,
  metadata: {
    model: settings.name,
    version: 'bench',
    architecture: settings.model.architecture,
    parameters: runtime.parameters,
    inputShape: settings.model.shape,
    numClasses: settings.model.numClasses,
    classNames: [],
    mean: settings.model.mean,
    std: settings.model.std,
    dataset: 'bench',
    backend: runtime.backend.name,
  },
  maxBatch: settings.maxBatch,
  maxDelayMs: settings.maxDelayMs,
  maxInFlight: runtime.maxInFlight,
  queueLimit: settings.queueLimit,
  heldData: held ? [held] : [],
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.stop(2000);
  await runtime.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());

const ready: ServeTeacherReady = {
  port: server.port,
  backend: runtime.backend.name,
  maxBatch: settings.maxBatch,
  maxDelayMs: settings.maxDelayMs,
  inferenceThread: where,
  heapGrowingPercent,
  pid: process.pid,
  held: held && { name: held.name, fingerprint: held.fingerprint, rows: held.rows },
};
await sendMessage(ready);
