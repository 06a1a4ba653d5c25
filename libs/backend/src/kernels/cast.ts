import type * as tf from '@tensorflow/tfjs-core';
import { input, type KernelArgs, type WasmBackend } from './wasm-kernel-utils.js';

const NAME = 'Cast';

/**
 * Cast on wasm that shares the buffer when the dtype does not change
 * (tfjs-layers casts every layer input to float32); real conversions run the
 * shipped kernel.
 */
export function makeCastWasm(
  original: tf.KernelFunc,
): (args: KernelArgs) => tf.TensorInfo {
  return (args) => {
    const x = input(NAME, args, 'x');
    const dtype = (args.attrs as unknown as tf.CastAttrs | undefined)?.dtype;
    if (dtype !== x.dtype || x.dtype === 'string') return original(args) as tf.TensorInfo;
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

/** Builds the override for the shipped wasm Cast, keeping its setupFunc. */
export function castConfig(existing: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: makeCastWasm(existing.kernelFunc) as unknown as tf.KernelFunc,
  };
}
