import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradient functions; the layers bundle
// registers all of them (tf.grad and optimizers need them even without layers).
import '@tensorflow/tfjs-layers';
import { createLogger } from '@vicinal/telemetry';
import {
  type RegisteredKernel,
  registerWasmTrainingKernels,
} from './kernels/register.js';
import { type NativeKernelsInfo, registerNativeKernels } from './native/register.js';

export { tf };

/** Backends in order of preference for "auto". */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export interface BackendInfo {
  name: BackendName;
  /** Why this backend was chosen (and why better ones were not). */
  reason: string;
  /** Kernels vicinal added or replaced on this backend (wasm only). */
  kernels: RegisteredKernel[];
  /** Whether vicinal's native (oneDNN) kernels serve the heavy ops, and why (not). */
  native: NativeKernelsInfo;
}

const log = createLogger('backend');
let current: BackendInfo | undefined;

/**
 * Chooses and initialises the TensorFlow.js backend once per process.
 * `requested` (or VICINAL_BACKEND) may be "auto" or a backend name.
 * Every other module takes `tf` from here and never imports a backend.
 */
export async function initBackend(
  requested: BackendName | 'auto' = (process.env.VICINAL_BACKEND as BackendName) ??
    'auto',
): Promise<BackendInfo> {
  if (current) return current;
  const skipped: string[] = [];
  const order: BackendName[] =
    requested === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [requested];
  for (const name of order) {
    try {
      await load(name);
      const kernels = name === 'wasm' ? registerWasmTrainingKernels() : [];
      if (kernels.length) {
        log.info(
          { kernels: kernels.map((k) => `${k.name} (${k.action})`) },
          'wasm training kernels registered',
        );
      }
      const native = name === 'wasm' ? nativeKernels() : NOT_WASM;
      current = {
        name,
        reason: skipped.length
          ? `chosen after: ${skipped.join('; ')}`
          : `requested ${requested}`,
        kernels,
        native,
      };
      // Under `backend`, not spread: the logger's own `name` field is the
      // logger's name ("backend"), and a second `name` key would shadow it.
      log.info(
        { backend: name, reason: current.reason, native: native.enabled },
        'tensorflow backend ready',
      );
      return current;
    } catch (err) {
      skipped.push(`${name} unavailable (${(err as Error).message.split('\n')[0]})`);
      if (requested !== 'auto')
        throw new Error(`backend "${name}" could not start: ${skipped[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.join('; ')}`);
}

const NOT_WASM: NativeKernelsInfo = {
  enabled: false,
  reason: 'native kernels serve the wasm backend only',
  kernels: [],
};

/** Registers the native kernels over the wasm ones and logs whether they are in use. */
function nativeKernels(): NativeKernelsInfo {
  const native = registerNativeKernels();
  if (native.enabled) {
    log.info(
      { kernels: native.kernels, library: native.reason },
      'native kernels in use',
    );
  } else if (native.reason.startsWith('turned off')) {
    log.info({ reason: native.reason }, 'native kernels not in use; wasm kernels only');
  } else {
    log.warn({ reason: native.reason }, 'native kernels not in use; wasm kernels only');
  }
  return native;
}

async function load(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow-gpu':
      await import('@tensorflow/tfjs-node-gpu' as string);
      await setOrThrow('tensorflow');
      return;
    case 'tensorflow':
      await import('@tensorflow/tfjs-node' as string);
      await setOrThrow('tensorflow');
      return;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      await setOrThrow('wasm');
      return;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      await setOrThrow('cpu');
      return;
  }
}

async function setOrThrow(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend("${name}") returned false`);
  await tf.ready();
}
