/**
 * Registers the native (oneDNN) kernels on the wasm backend over the kernels
 * registered there before, which stay reachable as the fallback for cases
 * the addon does not take.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  batchNormGradConfig,
  batchNormGradSumsConfig,
  GRAD_SUMS_KERNEL,
} from './batch-norm-grad.js';
import { batchNormNativeConfig } from './batch-norm-kernel.js';
import {
  conv2DBackpropFilterNativeConfig,
  conv2DBackpropInputNativeConfig,
  conv2DNativeConfig,
  fusedConv2DNativeConfig,
} from './conv-kernels.js';
import { loadNativeAddon, type NativeAddon, type NativeLibraryInfo } from './loader.js';
import { batchMatMulNativeConfig, fusedMatMulNativeConfig } from './matmul-kernels.js';
import { maxPoolGradNativeConfig, maxPoolNativeConfig } from './pool-kernels.js';

/** Whether native kernels run, and why (part of BackendInfo). */
export interface NativeKernelsInfo {
  /** True when the addon loaded and its kernels are registered. */
  enabled: boolean;
  /** The library in use, or why the native kernels are not in use. */
  reason: string;
  /** Kernels the addon serves (empty when not enabled). */
  kernels: string[];
  library?: NativeLibraryInfo;
}

type Builder = (addon: NativeAddon, previous?: tf.KernelConfig) => tf.KernelConfig;

const BUILDERS: [string, Builder][] = [
  ['Conv2D', conv2DNativeConfig],
  ['FusedConv2D', fusedConv2DNativeConfig],
  ['Conv2DBackpropInput', conv2DBackpropInputNativeConfig],
  ['Conv2DBackpropFilter', conv2DBackpropFilterNativeConfig],
  ['MaxPool', maxPoolNativeConfig],
  ['MaxPoolGrad', maxPoolGradNativeConfig],
  ['FusedBatchNorm', batchNormNativeConfig],
  ['BatchMatMul', batchMatMulNativeConfig],
  ['_FusedMatMul', fusedMatMulNativeConfig],
];

const registered = new WeakSet<tf.KernelFunc>();
const replacedRules = new WeakSet<tf.GradConfig>();
let outcome: NativeKernelsInfo | undefined;

/**
 * Loads the addon (unless VICINAL_NATIVE_KERNELS=0) and registers its
 * kernels on the wasm backend; once per process. Must run after the wasm
 * backend and vicinal's wasm kernels are registered. Never throws for a
 * missing or broken addon: the returned info says why it is not used.
 */
export function registerNativeKernels(
  load: () => ReturnType<typeof loadNativeAddon> = () => loadNativeAddon(),
): NativeKernelsInfo {
  if (outcome) return outcome;
  const loaded = load();
  if (!loaded.addon) {
    outcome = { enabled: false, reason: loaded.reason, kernels: [] };
    return outcome;
  }
  const kernels: string[] = [];
  for (const [name, build] of BUILDERS) {
    const previous = tf.getKernel(name, 'wasm');
    if (previous && registered.has(previous.kernelFunc)) continue;
    const config = build(loaded.addon, previous);
    registered.add(config.kernelFunc);
    if (previous) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
    kernels.push(name);
  }
  // The batchnorm gradient rule (used on every backend; it takes the native
  // path on wasm only and otherwise runs the rule it replaces).
  if (!tf.getKernel(GRAD_SUMS_KERNEL, 'wasm'))
    tf.registerKernel(batchNormGradSumsConfig(loaded.addon));
  const rule = tf.getGradient('FusedBatchNorm');
  if (rule && !replacedRules.has(rule)) {
    const ours = batchNormGradConfig(rule);
    replacedRules.add(ours);
    tf.registerGradient(ours);
    kernels.push('FusedBatchNorm (gradient)');
  }
  outcome = { enabled: true, reason: loaded.reason, kernels, library: loaded.info };
  return outcome;
}
