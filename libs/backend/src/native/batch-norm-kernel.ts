/**
 * FusedBatchNorm (batch normalisation with given statistics) on the wasm
 * backend through the native addon, when mean, variance, offset and scale
 * each hold one value per channel (the innermost axis of x); other cases run
 * the previously registered kernel.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  callAddon,
  isFloat32,
  keepSetup,
  onePerChannel,
  withFallback,
} from './common.js';
import type { NativeAddon } from './loader.js';

export function batchNormNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('FusedBatchNorm', previous, (args, backend) => {
    const { x, mean, variance, offset, scale } = args.inputs;
    if (!x || !mean || !variance || !isFloat32(x, mean, variance, offset, scale)) {
      return null;
    }
    const channels = x.shape[x.shape.length - 1] ?? 0;
    const size = x.shape.reduce((a, b) => a * b, 1);
    if (channels < 1 || size < 1) return null;
    if (![mean, variance, offset, scale].every((t) => onePerChannel(t, channels)))
      return null;
    const { varianceEpsilon } = args.attrs as unknown as tf.FusedBatchNormAttrs;
    return callAddon(backend, [...x.shape], (view, out) => {
      addon.batchNorm(
        view(x),
        view(mean),
        view(variance),
        offset ? view(offset) : null,
        scale ? view(scale) : null,
        varianceEpsilon ?? 0.001,
        out,
      );
      return true;
    });
  });
  return keepSetup('FusedBatchNorm', previous, kernelFunc);
}
