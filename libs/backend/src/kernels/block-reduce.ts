import * as tf from '@tensorflow/tfjs-core';
import { type KernelArgs, runWasmKernel, type WasmBackend } from './wasm-kernel-utils.js';

/** x viewed as [outer, reduce, inner] with the reduced axes in the middle. */
export interface BlockLayout {
  outer: number;
  reduce: number;
  inner: number;
}

/**
 * Views `shape` as [outer, reduce, inner] when the reduced axes form one
 * contiguous block (axes of size 1 may sit anywhere); null otherwise.
 */
export function blockLayout(
  shape: readonly number[],
  axes: readonly number[],
): BlockLayout | null {
  const reduced = new Set(axes);
  let outer = 1;
  let reduce = 1;
  let inner = 1;
  let phase = 0; // 0: before the block, 1: inside, 2: after
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === 1) continue;
    if (reduced.has(i)) {
      if (phase === 2) return null;
      phase = 1;
      reduce *= d;
    } else if (phase === 0) {
      outer *= d;
    } else {
      phase = 2;
      inner *= d;
    }
  }
  return { outer, reduce, inner };
}

/**
 * Sum (or mean) of a float32 tensor over a middle block of axes, as an
 * average pooling of x viewed as [outer, reduce, 1, inner] with a
 * [reduce, 1] window (the native pooling streams x once; the shipped
 * reduction first transposes the reduced axes to the end, and a matrix
 * product with ones would repack x as weights on every call). A sum is the
 * mean times n. Returns null when the shipped kernel should run instead:
 * other dtypes, non-contiguous axes, or an innermost reduction (which needs
 * no transpose).
 */
export function reduceMiddle(args: KernelArgs, mean: boolean): tf.TensorInfo | null {
  const backend = args.backend as WasmBackend;
  const x = args.inputs.x;
  if (x?.dtype !== 'float32') return null;
  const attrs = (args.attrs ?? {}) as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(attrs.axis, x.shape);
  const layout = blockLayout(x.shape, axes);
  if (!layout || layout.inner === 1 || layout.reduce === 1) return null;
  const { outer, reduce, inner } = layout;
  const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
  const shape = attrs.keepDims
    ? tf.backend_util.expandShapeToKeepDim(outShape, axes)
    : outShape;

  const x4 = runWasmKernel(
    'Reshape',
    backend,
    { x },
    { shape: [outer, reduce, 1, inner] },
  );
  let pooled: tf.TensorInfo;
  try {
    pooled = runWasmKernel(
      'AvgPool',
      backend,
      { x: x4 },
      { filterSize: [reduce, 1], strides: [1, 1], pad: 'valid' },
    );
  } finally {
    backend.disposeData(x4.dataId);
  }
  if (!mean) {
    const values = backend.typedArrayFromHeap(pooled);
    for (let i = 0; i < values.length; i++) values[i] *= reduce;
  }
  const out = runWasmKernel('Reshape', backend, { x: pooled }, { shape });
  backend.disposeData(pooled.dataId);
  return out;
}
