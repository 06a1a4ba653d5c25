import type * as tf from '@tensorflow/tfjs-core';
import { reduceMiddle } from './block-reduce.js';
import type { KernelArgs } from './wasm-kernel-utils.js';

const NAME = 'Sum';

/**
 * Sum on wasm without the transpose the shipped kernel makes when the reduced
 * axes are not innermost (e.g. the per-channel sums of batchnorm gradients
 * over [B,H,W]); other cases run the shipped kernel.
 */
export function makeSumWasm(
  original: tf.KernelFunc,
): (args: KernelArgs) => tf.TensorInfo {
  return (args) => reduceMiddle(args, false) ?? (original(args) as tf.TensorInfo);
}

/** Builds the override for the shipped wasm Sum, keeping its setupFunc. */
export function sumConfig(existing: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: makeSumWasm(existing.kernelFunc) as unknown as tf.KernelFunc,
  };
}
