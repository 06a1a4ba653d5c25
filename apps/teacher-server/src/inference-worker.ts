/**
 * The teacher's inference thread (see inference-thread.ts): loads the model
 * from its artifact bytes on its own TensorFlow.js backend and answers
 * inference messages one at a time, so the server's event loop keeps reading
 * and answering requests while a batch runs.
 *
 *   from the parent: {id, input: Float32Array, shape: [B, H, W, C]}
 *   to the parent:   {type: "ready", backend (BackendInfo), parameters}
 *                    {type: "result", id, output: Float32Array (transferred)}
 *                    {type: "error", id, message}
 *                    {type: "failed", message}  (could not load; then it exits)
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type BackendInfo, type BackendName, initBackend } from '@vicinal/backend';
import { countParameters, decodeArtifact } from '@vicinal/models';
import { ownsWholeBuffer, toInferFunction } from './runtime.js';

export interface InferenceWorkerSetup {
  artifact: Uint8Array;
  /** Unset: VICINAL_BACKEND or auto, as initBackend chooses. */
  backend?: BackendName | 'auto';
}

export interface InferenceMessage {
  id: number;
  input: Float32Array;
  shape: [number, number, number, number];
}

export type InferenceWorkerReply =
  | { type: 'ready'; backend: BackendInfo; parameters: number }
  | { type: 'result'; id: number; output: Float32Array }
  | { type: 'error'; id: number; message: string }
  | { type: 'failed'; message: string };

const port = parentPort;
if (!port) throw new Error('inference-worker: expected to run in a worker thread');
const send = (reply: InferenceWorkerReply, transfer: ArrayBuffer[] = []) =>
  port.postMessage(reply, transfer);

const setup = workerData as InferenceWorkerSetup;
try {
  const backend = await initBackend(setup.backend);
  const model = await decodeArtifact(setup.artifact);
  const infer = toInferFunction(model);
  // One inference at a time, in arrival order.
  let chain: Promise<void> = Promise.resolve();
  port.on('message', (message: InferenceMessage) => {
    chain = chain.then(async () => {
      try {
        const output = ownedCopy(await infer(message.input, message.shape));
        send({ type: 'result', id: message.id, output }, [output.buffer as ArrayBuffer]);
      } catch (err) {
        send({ type: 'error', id: message.id, message: (err as Error).message });
      }
    });
  });
  send({
    type: 'ready',
    backend,
    parameters: countParameters(model),
  });
} catch (err) {
  send({ type: 'failed', message: (err as Error).message });
  process.exit(1);
}

/** The values in an array of their own, so its buffer can be transferred. */
function ownedCopy(values: Float32Array): Float32Array {
  return ownsWholeBuffer(values) ? values : values.slice();
}
