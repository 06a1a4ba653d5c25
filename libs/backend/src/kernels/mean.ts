import type * as tf from '@tensorflow/tfjs-core';
import { reduceMiddle } from './block-reduce.js';
import type { KernelArgs } from './wasm-kernel-utils.js';

const NAME = 'Mean';

/**
 * Mean on wasm without the transpose the shipped kernel makes when the
 * reduced axes are not innermost (batchnorm statistics over [B,H,W], global
 * average pooling over [H,W]); other cases run the shipped kernel.
 */
export function makeMeanWasm(
  original: tf.KernelFunc,
): (args: KernelArgs) => tf.TensorInfo {
  return (args) => reduceMiddle(args, true) ?? (original(args) as tf.TensorInfo);
}

/** Builds the override for the shipped wasm Mean, keeping its setupFunc. */
export function meanConfig(existing: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: makeMeanWasm(existing.kernelFunc) as unknown as tf.KernelFunc,
  };
}
