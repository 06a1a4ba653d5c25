import { Worker } from 'node:worker_threads';
import { type BackendInfo, type BackendName, initBackend } from '@vicinal/backend';
import { countParameters, decodeArtifact } from '@vicinal/models';
import { createLogger, type Logger } from '@vicinal/telemetry';
import type {
  InferenceMessage,
  InferenceWorkerReply,
  InferenceWorkerSetup,
} from './inference-worker.js';
import { type InferFunction, ownsWholeBuffer, toInferFunction } from './runtime.js';

export interface InferenceThreadOptions {
  /** The teacher artifact (packed model bytes, as the object store holds them). */
  artifact: Uint8Array;
  /** TensorFlow.js backend of the thread (default: VICINAL_BACKEND or auto). */
  backend?: BackendName | 'auto';
  /** Longest the thread may take to load the model (default 120 s). */
  startTimeoutMs?: number;
  /**
   * The thread's script (default: inference-worker.mjs); tests substitute one
   * that speaks the same messages.
   */
  entry?: URL;
  logger?: Logger;
}

/** A teacher model running in a worker thread of this process. */
export interface InferenceThread {
  /**
   * Runs one batch on the thread. The input is copied and the caller keeps
   * it, unless handed over: then its buffer moves to the thread when it is
   * the whole of an ArrayBuffer (and is detached here).
   */
  readonly infer: (...args: Parameters<InferFunction>) => Promise<Float32Array>;
  /** The thread's backend, as initBackend reported it there. */
  readonly backend: BackendInfo;
  readonly parameters: number;
  /** Threads started after the first one died. */
  restarts(): number;
  /**
   * Ends the running thread at once, as a crash would: calls waiting on it
   * fail, and the next call starts a new thread.
   */
  terminate(): Promise<void>;
  /** Ends the thread; later calls fail. */
  close(): Promise<void>;
}

const workerEntry = new URL('./inference-worker.mjs', import.meta.url);

interface Pending {
  resolve: (output: Float32Array) => void;
  reject: (err: Error) => void;
}

interface Running {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set once the thread has ended, with why. */
  ended: Error | null;
}

/**
 * Starts the teacher's inference on a worker thread with its own backend, so
 * the server's event loop keeps reading, preparing and answering requests
 * while a batch runs (on a teacher's one core, the next request is ready
 * when the batch ends, instead of being read only then). A thread that dies
 * fails the calls waiting on it with the reason; the next call starts a
 * fresh one from the same artifact, so the server keeps serving.
 */
export async function startInferenceThread(
  options: InferenceThreadOptions,
): Promise<InferenceThread> {
  const log = options.logger ?? createLogger('teacher-server');
  const setup: InferenceWorkerSetup = {
    artifact: options.artifact,
    // Unset: the thread's initBackend reads VICINAL_BACKEND (threads share the env).
    backend: options.backend,
  };
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  let nextId = 1;
  let restarts = 0;
  let closed = false;

  function launch(): Promise<{
    running: Running;
    ready: Extract<InferenceWorkerReply, { type: 'ready' }>;
  }> {
    // Threads do not inherit the parent's tsx loader when it came from
    // tsx's API; the entry registers it itself, so no execArgv is passed on.
    const worker = new Worker(options.entry ?? workerEntry, {
      workerData: setup,
      execArgv: [],
    });
    const running: Running = { worker, pending: new Map(), ended: null };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `inference thread: expected the model loaded within ${startTimeoutMs} ms`,
          ),
        );
        void worker.terminate();
      }, startTimeoutMs);
      const end = (reason: Error) => {
        if (running.ended) return;
        running.ended = reason;
        clearTimeout(timer);
        reject(reason);
        for (const call of running.pending.values()) call.reject(reason);
        running.pending.clear();
      };
      worker.on('message', (reply: InferenceWorkerReply) => {
        if (reply.type === 'ready') {
          clearTimeout(timer);
          resolve({ running, ready: reply });
        } else if (reply.type === 'failed') {
          end(new Error(`inference thread could not load the model: ${reply.message}`));
        } else {
          const call = running.pending.get(reply.id);
          running.pending.delete(reply.id);
          if (!call) return;
          if (reply.type === 'result') call.resolve(reply.output);
          else call.reject(new Error(reply.message));
        }
      });
      worker.on('error', (err) =>
        end(new Error(`inference thread failed: ${err.message}`)),
      );
      worker.on('exit', (code) =>
        end(new Error(`inference thread exited (code ${code}) before answering`)),
      );
    });
  }

  const first = await launch();
  let current: Promise<Running> = Promise.resolve(first.running);
  const { backend, parameters } = first.ready;

  /** The live thread, starting a new one when the last one died. */
  function live(): Promise<Running> {
    current = current.then(
      (running) => {
        if (!running.ended) return running;
        restarts++;
        log.warn(
          { reason: running.ended.message, restarts },
          'inference thread ended; starting a new one',
        );
        return launch().then((started) => started.running);
      },
      () => launch().then((started) => started.running),
    );
    return current;
  }

  const infer: InferenceThread['infer'] = async (input, shape, handOver) => {
    if (closed) throw new Error('inference thread: closed');
    const running = await live();
    const id = nextId++;
    const moved = handOver && ownsWholeBuffer(input) ? input : input.slice();
    const message: InferenceMessage = { id, input: moved, shape: [...shape] };
    return new Promise<Float32Array>((resolve, reject) => {
      running.pending.set(id, { resolve, reject });
      running.worker.postMessage(message, [moved.buffer as ArrayBuffer]);
    });
  };

  async function stopCurrent(): Promise<void> {
    const running = await current.catch(() => null);
    if (running && !running.ended) await running.worker.terminate();
  }

  return {
    infer,
    backend,
    parameters,
    restarts: () => restarts,
    terminate: stopCurrent,
    close: async () => {
      closed = true;
      await stopCurrent();
    },
  };
}

/** Where a teacher server runs its model. */
export type InferencePlace = 'worker' | 'main';

/** A loaded teacher model, wherever it runs. */
export interface TeacherRuntime {
  infer: InferenceThread['infer'];
  backend: BackendInfo;
  parameters: number;
  /** Batches the server may hand it at once (2 on a thread of its own). */
  maxInFlight: number;
  close(): Promise<void>;
}

/**
 * Loads a teacher artifact on an inference thread ("worker") or on this
 * thread's event loop ("main"), behind one interface.
 */
export async function loadTeacherRuntime(
  artifact: Uint8Array,
  place: InferencePlace,
  options: Omit<InferenceThreadOptions, 'artifact'> = {},
): Promise<TeacherRuntime> {
  if (place === 'worker') {
    const thread = await startInferenceThread({ ...options, artifact });
    return { ...thread, maxInFlight: 2 };
  }
  const backend = await initBackend(options.backend);
  const model = await decodeArtifact(artifact);
  const infer = toInferFunction(model);
  return {
    infer: async (input, shape) => infer(input, shape),
    backend,
    parameters: countParameters(model),
    maxInFlight: 1,
    close: async () => {
      model.dispose();
    },
  };
}
