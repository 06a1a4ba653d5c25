import type * as tf from '@tensorflow/tfjs-core';
import { input, type KernelArgs, type WasmBackend } from './wasm-kernel-utils.js';

const NAME = 'Identity';

/**
 * Identity on wasm that shares the input's buffer (reference counted), as
 * the cpu backend does. The engine clones every tensor it saves for the
 * backward pass; the shipped kernel copies each one, although tensor data
 * is never written in place. Strings keep the shipped path.
 */
export function makeIdentityWasm(
  original: tf.KernelFunc,
): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const x = input(NAME, args, 'x');
    if (x.dtype === 'string') return original(args) as tf.TensorInfo;
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

/** Builds the override for the shipped wasm Identity, keeping its setupFunc. */
export function identityConfig(existing: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: makeIdentityWasm(existing.kernelFunc) as unknown as tf.KernelFunc,
  };
}
