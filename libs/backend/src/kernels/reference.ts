/**
 * Helpers for checking wasm kernels against the pure-JS cpu backend in tests:
 * the same computation runs on each backend from the same plain arrays.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../backend.js';

/** Readies both backends; the wasm one with vicinal's kernels. Ends on wasm. */
export async function readyBackends(): Promise<void> {
  await initBackend('wasm');
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
