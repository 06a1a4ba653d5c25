import * as tf from '@tensorflow/tfjs-core';
import { meanGradConfig } from '../gradients/mean-grad.js';
import { sumGradConfig } from '../gradients/sum-grad.js';
import { batchMatMulConfig } from './batch-mat-mul.js';
import { castConfig } from './cast.js';
import { conv2DBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2DBackpropInputConfig } from './conv2d-backprop-input.js';
import { identityConfig } from './identity.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { meanConfig } from './mean.js';
import { sumConfig } from './sum.js';
import { tileConfig } from './tile.js';

/** For overrides that delegate to the shipped kernel, which must exist. */
function wrapping(build: (existing: tf.KernelConfig) => tf.KernelConfig) {
  return (existing?: tf.KernelConfig): tf.KernelConfig => {
    if (!existing) throw new Error('expected the shipped wasm kernel to exist');
    return build(existing);
  };
}

/** One kernel this module put in place on the wasm backend. */
export interface RegisteredKernel {
  name: string;
  /**
   * 'added' when wasm had no such kernel, 'replaced' when it overrides one,
   * 'gradient' for a replaced gradient rule (used by every backend).
   */
  action: 'added' | 'replaced' | 'gradient';
}

const ours = new WeakSet<tf.KernelFunc>();

/**
 * Registers vicinal's wasm training kernels (idempotent): the missing
 * Conv2DBackpropFilter, and faster Conv2DBackpropInput, Tile, MaxPoolGrad,
 * BatchMatMul (transposed operands), Sum/Mean over non-innermost axes, and
 * buffer-sharing Identity/Cast; plus tiling gradients for Sum and Mean.
 * Overrides keep the shipped setupFunc. Must run after
 * '@tensorflow/tfjs-backend-wasm' has been imported.
 */
export function registerWasmTrainingKernels(): RegisteredKernel[] {
  const done: RegisteredKernel[] = [];
  const put = (name: string, build: (existing?: tf.KernelConfig) => tf.KernelConfig) => {
    const existing = tf.getKernel(name, 'wasm');
    if (existing && ours.has(existing.kernelFunc)) return;
    const config = build(existing);
    ours.add(config.kernelFunc);
    if (existing) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
    done.push({ name, action: existing ? 'replaced' : 'added' });
  };
  put('Conv2DBackpropFilter', () => conv2DBackpropFilterConfig);
  put('Conv2DBackpropInput', conv2DBackpropInputConfig);
  put('Tile', tileConfig);
  put('MaxPoolGrad', maxPoolGradConfig);
  put('BatchMatMul', wrapping(batchMatMulConfig));
  put('Sum', wrapping(sumConfig));
  put('Mean', wrapping(meanConfig));
  put('Identity', wrapping(identityConfig));
  put('Cast', wrapping(castConfig));
  for (const grad of [meanGradConfig, sumGradConfig]) {
    if (tf.getGradient(grad.kernelName) === grad) continue;
    tf.registerGradient(grad);
    done.push({ name: grad.kernelName, action: 'gradient' });
  }
  return done;
}
