/**
 * What every native kernel shares: the run-time switch, call counts, the
 * fallback to the previously registered kernel, output allocation on the
 * wasm heap and the kernel registration record.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs, WasmBackend } from '../kernels/wasm-kernel-utils.js';

/** Counts of native calls and fallbacks per kernel, for tests and diagnostics. */
export const nativeCallCounts = new Map<string, { native: number; fallback: number }>();

/** Records one call of `kernel`: served natively, or by the fallback. */
export function recordCall(kernel: string, native: boolean): void {
  let c = nativeCallCounts.get(kernel);
  if (!c) {
    c = { native: 0, fallback: 0 };
    nativeCallCounts.set(kernel, c);
  }
  if (native) c.native++;
  else c.fallback++;
}

let active = true;

/**
 * Turns the registered native kernels on or off at run time (they then
 * delegate every call to the previous kernels). For tests and benchmarks
 * that compare both in one process; returns the previous setting.
 */
export function setNativeKernelsActive(on: boolean): boolean {
  const previous = active;
  active = on;
  return previous;
}

/** Whether the registered native kernels currently serve calls. */
export function nativeKernelsActive(): boolean {
  return active;
}

export function isFloat32(...ts: (tf.TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t === undefined || t.dtype === 'float32');
}

/** The addon's codes for the activations its fused kernels apply (PReLU has none). */
const FUSED_ACTIVATIONS: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  leakyrelu: 4,
  sigmoid: 5,
};

function fusedActivationCode(activation: string | undefined): number | undefined {
  return FUSED_ACTIVATIONS[activation ?? 'linear'];
}

/**
 * The addon's activation code and leaky ReLU slope for a fused kernel call
 * (FusedConv2D, _FusedMatMul), or null when the addon cannot apply its
 * activation (PReLU, or one it does not know).
 */
export function fusedActivation(
  inputs: tf.NamedTensorInfoMap,
  attrs: { activation?: string; leakyreluAlpha?: number },
): { code: number; alpha: number } | null {
  if (inputs.preluActivationWeights) return null;
  const code = fusedActivationCode(attrs.activation);
  return code === undefined ? null : { code, alpha: attrs.leakyreluAlpha ?? 0.2 };
}

/**
 * Whether `t` (a bias, a statistic) holds one value per channel of the
 * innermost axis, whatever rank it was given with; an absent `t` passes.
 */
export function onePerChannel(t: tf.TensorInfo | undefined, channels: number): boolean {
  if (!t) return true;
  const size = t.shape.reduce((a, b) => a * b, 1);
  return size === channels && (t.shape[t.shape.length - 1] ?? 1) === channels;
}

export function isNHWC(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC';
}

/**
 * Runs `compute` (which allocates its output and calls the addon) and falls
 * back to `previous` when it returns null (case not taken) or the addon
 * declines; the output of a declined call is released.
 */
export function withFallback(
  kernel: string,
  previous: tf.KernelConfig | undefined,
  compute: (args: KernelArgs, backend: WasmBackend) => tf.TensorInfo | null,
): tf.KernelFunc {
  const fallback = (args: KernelArgs) => {
    if (!previous) {
      throw new Error(`${kernel}: the native kernel declined and no wasm kernel exists`);
    }
    recordCall(kernel, false);
    return previous.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
  };
  const run = (args: KernelArgs) => {
    if (!active) return fallback(args);
    const backend = args.backend as WasmBackend;
    const out = compute(args, backend);
    if (!out) return fallback(args);
    recordCall(kernel, true);
    return out;
  };
  return run as unknown as tf.KernelFunc;
}

/**
 * Allocates the output, calls the addon with heap views taken after the
 * allocation (allocating can grow, and so move, the wasm heap) and returns
 * the output, or null (output released) when the addon declined.
 */
export function callAddon(
  backend: WasmBackend,
  shape: number[],
  call: (view: (t: tf.TensorInfo) => Float32Array, out: Float32Array) => boolean,
): tf.TensorInfo | null {
  const out = backend.makeOutput(shape, 'float32');
  const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  let done = false;
  try {
    done = call(view, view(out));
  } finally {
    if (!done) backend.disposeData(out.dataId);
  }
  return done ? out : null;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The override keeps the previous kernel's setupFunc (the wasm fallback needs it). */
export function keepSetup(
  kernelName: string,
  previous: tf.KernelConfig | undefined,
  kernelFunc: tf.KernelFunc,
): tf.KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    ...(previous?.setupFunc ? { setupFunc: previous.setupFunc } : {}),
    kernelFunc,
  };
}
