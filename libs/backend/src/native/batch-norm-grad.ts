/**
 * The gradient of FusedBatchNorm (batch normalisation with given statistics)
 * in fewer passes over the activations. TensorFlow.js's rule builds each of
 * the five gradients from full-size elementwise products, a tile and a sum;
 * here one native pass computes, per channel, S1 = sum(dy) and
 * S2 = sum(dy * (x - mean)), after which, with r = 1 / sqrt(variance + eps)
 * and s = scale (or 1),
 *
 *   d offset = S1,  d scale = r S2,  d mean = -r s S1,
 *   d variance = -r^3 s S2 / 2,  d x = dy s r
 *
 * and d x is one more native pass (FusedBatchNorm of dy with zero mean).
 * Anything else (other backends, native kernels off, statistics that are not
 * one value per channel) runs TensorFlow.js's own rule.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs, WasmBackend } from '../kernels/wasm-kernel-utils.js';
import { callAddon, isFloat32, nativeKernelsActive, recordCall } from './common.js';
import type { NativeAddon } from './loader.js';

/** The native kernel behind the rule: [2, C] = [S1; S2]. */
export const GRAD_SUMS_KERNEL = 'VicinalBatchNormGradSums';

export function batchNormGradSumsConfig(addon: NativeAddon): tf.KernelConfig {
  const kernelFunc = (args: KernelArgs): tf.TensorInfo => {
    const { dy, x, mean } = args.inputs;
    if (!dy || !x || !mean)
      throw new TypeError(`${GRAD_SUMS_KERNEL}: dy, x and mean expected`);
    const backend = args.backend as WasmBackend;
    const out = callAddon(backend, [2, mean.shape[0] ?? 0], (view, result) => {
      addon.batchNormGradSums(view(dy), view(x), view(mean), result);
      return true;
    });
    if (!out) throw new Error(`${GRAD_SUMS_KERNEL}: no result`);
    recordCall(GRAD_SUMS_KERNEL, true);
    return out;
  };
  return {
    kernelName: GRAD_SUMS_KERNEL,
    backendName: 'wasm',
    kernelFunc: kernelFunc as unknown as tf.KernelFunc,
  };
}

function takesNativeRule(
  dy: tf.Tensor,
  x: tf.Tensor,
  mean: tf.Tensor,
  variance: tf.Tensor,
  scale: tf.Tensor | undefined,
): boolean {
  if (!nativeKernelsActive() || tf.getBackend() !== 'wasm') return false;
  if (!tf.getKernel(GRAD_SUMS_KERNEL, 'wasm')) return false;
  if (!isFloat32(dy, x, mean, variance, scale)) return false;
  const channels = x.shape[x.shape.length - 1];
  const perChannel = (t: tf.Tensor | undefined) =>
    t === undefined || (t.rank === 1 && t.shape[0] === channels);
  return (
    x.rank >= 2 &&
    channels > 0 &&
    x.size > 0 &&
    perChannel(mean) &&
    perChannel(variance) &&
    perChannel(scale) &&
    dy.shape.every((d, i) => d === x.shape[i])
  );
}

/** The rule, delegating to `original` (TensorFlow.js's) when it does not apply. */
export function batchNormGradConfig(original: tf.GradConfig): tf.GradConfig {
  return {
    kernelName: 'FusedBatchNorm',
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const grad = dy as tf.Tensor;
      const [x, mean, variance, scale] = saved as (tf.Tensor | undefined)[];
      if (!x || !mean || !variance || !takesNativeRule(grad, x, mean, variance, scale)) {
        return original.gradFunc(dy, saved, attrs);
      }
      const epsilon =
        (attrs as unknown as tf.FusedBatchNormAttrs).varianceEpsilon ?? 0.001;
      const sums = tf
        .engine()
        .runKernel(GRAD_SUMS_KERNEL, { dy: grad, x, mean }) as tf.Tensor;
      const [s1, s2] = tf.unstack(sums);
      const r = tf.rsqrt(tf.add(variance, epsilon));
      const rs = scale ? tf.mul(r, scale) : r;
      return {
        x: () =>
          tf.batchNorm(grad, tf.zerosLike(mean), variance, undefined, scale, epsilon),
        mean: () => tf.neg(tf.mul(rs, s1)),
        variance: () => tf.mul(tf.mul(tf.mul(tf.mul(r, r), rs), s2), -0.5),
        scale: () => tf.mul(r, s2),
        offset: () => tf.clone(s1),
      };
    },
  };
}
