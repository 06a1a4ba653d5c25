import type * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs, WasmBackend } from './wasm-kernel-utils.js';
import { input, UnsupportedKernelCaseError } from './wasm-kernel-utils.js';

const NAME = 'Tile';

/**
 * Tile on the wasm backend as block copies on the wasm heap: the input is
 * copied once into the output and each axis is then replicated by doubling
 * (copyWithin), innermost axis first, so the work is a few memcpy calls
 * instead of one index computation per output element.
 */
export function tileWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const x = input(NAME, args, 'x');
  const reps = (args.attrs as unknown as tf.TileAttrs | undefined)?.reps;
  if (!reps || reps.length !== x.shape.length) {
    throw new RangeError(
      `${NAME}: reps expected ${x.shape.length} values (one per axis), got ` +
        `${reps ? `[${reps}]` : 'none'}`,
    );
  }
  if (reps.some((r) => !Number.isInteger(r) || r < 0)) {
    throw new RangeError(`${NAME}: reps expected non-negative integers, got [${reps}]`);
  }
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    throw new UnsupportedKernelCaseError(NAME, `dtype ${x.dtype}`);
  }
  const outShape = x.shape.map((d, i) => d * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  const total = outShape.reduce((a, b) => a * b, 1);
  if (total === 0) return out;
  // Views are taken after makeOutput: allocation may grow (and move) the heap.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const [dims, counts] = mergeAxes(x.shape, reps);
  fill(dst, src, dims, counts);
  return out;
}

/**
 * Drops axes of size 1 repeated once, and merges an axis into its outer
 * neighbour when it is not repeated (the pair then tiles as one axis).
 */
function mergeAxes(
  shape: readonly number[],
  reps: readonly number[],
): [number[], number[]] {
  const dims: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1 && reps[i] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && reps[i] === 1) {
      dims[last] *= shape[i];
    } else {
      dims.push(shape[i]);
      counts.push(reps[i]);
    }
  }
  if (dims.length === 0) return [[1], [1]];
  return [dims, counts];
}

type Heap = ReturnType<WasmBackend['typedArrayFromHeap']>;

function fill(dst: Heap, src: Heap, dims: number[], reps: number[]): void {
  const rank = dims.length;
  // outBlock[k]: elements of one output block below axis k (axes k..rank-1).
  const outBlock = new Array<number>(rank + 1).fill(1);
  for (let k = rank - 1; k >= 0; k--) outBlock[k] = outBlock[k + 1] * dims[k] * reps[k];
  const inner = dims[rank - 1];
  const rows = src.length / inner;
  // 1. Copy each innermost input row to its place in the output.
  const index = new Array<number>(rank).fill(0);
  for (let row = 0; row < rows; row++) {
    let offset = 0;
    for (let k = 0; k < rank - 1; k++) offset += index[k] * outBlock[k + 1];
    dst.set(src.subarray(row * inner, (row + 1) * inner), offset);
    for (let k = rank - 2; k >= 0; k--) {
      if (++index[k] < dims[k]) break;
      index[k] = 0;
    }
  }
  // 2. Replicate axis k inside every block whose outer indices are all < dims.
  for (let k = rank - 1; k >= 0; k--) {
    if (reps[k] === 1) continue;
    const unit = dims[k] * outBlock[k + 1];
    const full = unit * reps[k];
    const prefixCount = dims.slice(0, k).reduce((a, b) => a * b, 1);
    const prefix = new Array<number>(k).fill(0);
    for (let p = 0; p < prefixCount; p++) {
      let start = 0;
      for (let m = 0; m < k; m++) start += prefix[m] * outBlock[m + 1];
      for (let filled = unit; filled < full; ) {
        const n = Math.min(filled, full - filled);
        dst.copyWithin(start + filled, start, start + n);
        filled += n;
      }
      for (let m = k - 1; m >= 0; m--) {
        if (++prefix[m] < dims[m]) break;
        prefix[m] = 0;
      }
    }
  }
}

/** Builds the override for the shipped wasm Tile, keeping its setupFunc. */
export function tileConfig(existing?: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: tileWasm as unknown as tf.KernelFunc,
  };
}
