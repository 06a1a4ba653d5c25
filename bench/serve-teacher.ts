/**
 * Bench child: serves a freshly built teacher over loopback gRPC with
 * startTeacherServer (no NATS, no registry). The model goes through the
 * artifact encoding a deployed teacher is fetched in. Prints
 * {"port": N, "backend": ...} once listening; stops on SIGTERM or when the
 * parent closes stdin.
 */
import { initBackend } from '@vicinal/backend';
import { countParameters, decodeArtifact, encodeArtifact } from '@vicinal/models';
import { startTeacherServer } from '@vicinal/teacher-server';
import { childSettings, exitWithParent, sendMessage } from './child-io.js';
import { buildBenchModel, type ModelSettings } from './models.js';

export interface ServeTeacherSettings {
  model: ModelSettings;
  /** Served model name clients ask for. */
  name: string;
  maxBatch: number;
  maxDelayMs: number;
  /** Rows the batching queue holds (default: the server's, 8 x maxBatch). */
  queueLimit?: number;
}

export interface ServeTeacherReady {
  port: number;
  backend: string;
  maxBatch: number;
  maxDelayMs: number;
  pid: number;
}

const settings = childSettings<ServeTeacherSettings>('serve-teacher');
exitWithParent();
const backend = await initBackend();
const built = buildBenchModel(settings.model);
const model = await decodeArtifact(await encodeArtifact(built));
built.dispose();
const server = await startTeacherServer({
  address: '127.0.0.1:0',
  model,
  metadata: {
    model: settings.name,
    version: 'bench',
    architecture: settings.model.architecture,
    parameters: countParameters(model),
    inputShape: settings.model.shape,
    numClasses: settings.model.numClasses,
    classNames: [],
    mean: settings.model.mean,
    std: settings.model.std,
    dataset: 'bench',
    backend: backend.name,
  },
  maxBatch: settings.maxBatch,
  maxDelayMs: settings.maxDelayMs,
  queueLimit: settings.queueLimit,
});

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.stop(2000);
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());

const ready: ServeTeacherReady = {
  port: server.port,
  backend: backend.name,
  maxBatch: settings.maxBatch,
  maxDelayMs: settings.maxDelayMs,
  pid: process.pid,
};
await sendMessage(ready);
