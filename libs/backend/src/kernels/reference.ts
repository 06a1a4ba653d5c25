/**
 * Helpers for checking wasm kernels against the pure-JS cpu backend in tests:
 * the same computation runs on each backend from the same plain arrays.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.js';
import { setNativeKernelsActive } from '../native/common.js';

/**
 * Readies both backends; the wasm one with vicinal's wasm kernels. Ends on
 * wasm. The native (oneDNN) kernels, registered over the wasm ones when the
 * addon is built, are switched off, so the wasm kernels' tests test the
 * wasm kernels.
 */
export async function readyBackends(): Promise<void> {
  await readyBackendsWithNative();
  setNativeKernelsActive(false);
}

/** As readyBackends, with the native kernels (when built) switched on. */
export async function readyBackendsWithNative(): Promise<void> {
  await initBackend('wasm');
  setNativeKernelsActive(true);
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
}

/** Values and shape of a tensor computed on one backend. */
export interface Computed {
  shape: number[];
  values: Float32Array;
}

/**
 * Runs `f` (which must build its inputs from plain arrays) on `backend` and
 * returns the result as plain data. On wasm it also checks that `f` left no
 * buffers behind. Ends on the wasm backend.
 */
export async function runOn(
  backend: 'wasm' | 'cpu',
  f: () => tf.Tensor,
): Promise<Computed> {
  await tf.setBackend(backend);
  const buffersBefore = tf.engine().backend.numDataIds();
  const t = tf.tidy(f);
  const result = { shape: t.shape.slice(), values: Float32Array.from(t.dataSync()) };
  t.dispose();
  const leaked = tf.engine().backend.numDataIds() - buffersBefore;
  await tf.setBackend('wasm');
  if (leaked !== 0) throw new Error(`${backend}: ${leaked} buffers leaked`);
  return result;
}

/** max |a - b| / (max |b| + 1e-12): the relative error bound the tests state. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale + 1e-12);
}

/** Seeded uniform values in [-1, 1) (a 32-bit LCG; deterministic per seed). */
export function randomValues(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Number of elements of a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Compares wasm with cpu for `f` and returns the relative error, after
 * checking that both produced the same shape.
 */
export async function compareWithCpu(f: () => tf.Tensor): Promise<{
  error: number;
  wasm: Computed;
  cpu: Computed;
}> {
  const wasm = await runOn('wasm', f);
  const cpu = await runOn('cpu', f);
  if (wasm.shape.join() !== cpu.shape.join()) {
    throw new Error(`shape: wasm [${wasm.shape}] vs cpu [${cpu.shape}]`);
  }
  return { error: relativeError(wasm.values, cpu.values), wasm, cpu };
}

/** Batchnorm in training mode as tfjs-layers does it: batch moments, then batchNorm. */
export function trainingBatchNorm(
  x: tf.Tensor4D,
  gamma: tf.Tensor,
  beta: tf.Tensor,
): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, beta, gamma, 1e-3) as tf.Tensor4D;
}

/**
 * Seeded variables for a small test network: names starting with "gamma"
 * near 1 (1 + 0.1 u), all others 0.5 u, u uniform in [-1, 1).
 */
export function seededVariables(
  shapes: Record<string, number[]>,
  seed: number,
): Record<string, tf.Variable> {
  const vars: Record<string, tf.Variable> = {};
  let next = seed;
  for (const [name, shape] of Object.entries(shapes)) {
    const values = tf.tensor(randomValues(sizeOf(shape), next++), shape);
    const init = name.startsWith('gamma')
      ? tf.add(1, tf.mul(values, 0.1))
      : tf.mul(values, 0.5);
    vars[name] = tf.variable(init);
  }
  return vars;
}

/**
 * Splits two flat gradient vectors (variables in the order of `shapes`) and
 * returns each variable's relative error and the largest reference value.
 */
export function errorsByVariable(
  a: Float32Array,
  b: Float32Array,
  shapes: Record<string, number[]>,
): { name: string; error: number; scale: number }[] {
  const out: { name: string; error: number; scale: number }[] = [];
  let offset = 0;
  for (const [name, shape] of Object.entries(shapes)) {
    const n = sizeOf(shape);
    const pa = a.subarray(offset, offset + n);
    const pb = b.subarray(offset, offset + n);
    offset += n;
    out.push({
      name,
      error: relativeError(pa, pb),
      scale: Math.max(...pb.map(Math.abs)),
    });
  }
  if (offset !== a.length || offset !== b.length) {
    throw new Error(
      `expected ${offset} gradient values, got ${a.length} and ${b.length}`,
    );
  }
  return out;
}
