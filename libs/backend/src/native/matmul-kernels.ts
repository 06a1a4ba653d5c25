/**
 * BatchMatMul and _FusedMatMul (dense layers and their gradients) on the
 * wasm backend, computed by the native addon (oneDNN's matmul) straight on
 * the wasm heap: transposed operands are read in place through strides, the
 * output is written into a tensor allocated on the heap. Cases the addon
 * does not take (non-float32, PReLU, a bias that is not one value per
 * output column, batch shapes other than equal or one side of batch 1,
 * empty operands) run the kernel that was registered before.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  callAddon,
  fusedActivation,
  isFloat32,
  keepSetup,
  onePerChannel,
  withFallback,
} from './common.js';
import type { NativeAddon } from './loader.js';

/** A product as the addon takes it: its packed geometry, output shape and columns. */
export interface ProductGeometry {
  geometry: Int32Array;
  outShape: number[];
  columns: number;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The geometry of op(a) op(b) over the batch dimensions (all but the last
 * two), or null when the addon cannot take it: it needs matching inner
 * sizes, no empty dimension, and batch shapes that broadcast to a batch
 * whose size is the larger of the two (equal batches, or one of size 1).
 */
export function productGeometry(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): ProductGeometry | null {
  if (a.shape.length < 2 || b.shape.length < 2) return null;
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const n = transposeB ? bRows : bCols;
  if ((transposeB ? bCols : bRows) !== k) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = size(outerA);
  const batchB = size(outerB);
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  } catch {
    return null;
  }
  const batch = Math.max(batchA, batchB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  if (size(outer) !== batch || Math.min(batch, m, k, n) < 1) return null;
  return {
    geometry: Int32Array.from([
      batchA,
      batchB,
      m,
      k,
      n,
      transposeA ? 1 : 0,
      transposeB ? 1 : 0,
    ]),
    outShape: [...outer, m, n],
    columns: n,
  };
}

/** BatchMatMul: out = op(a) op(b), batched. */
export function batchMatMulNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('BatchMatMul', previous, (args, backend) => {
    const { a, b } = args.inputs;
    const attrs = (args.attrs ?? {}) as unknown as tf.BatchMatMulAttrs;
    if (!a || !b || !isFloat32(a, b)) return null;
    const p = productGeometry(a, b, attrs.transposeA === true, attrs.transposeB === true);
    if (!p) return null;
    return callAddon(backend, p.outShape, (view, out) =>
      addon.matMul(p.geometry, view(a), view(b), null, 0, 0, out),
    );
  });
  return keepSetup('BatchMatMul', previous, kernelFunc);
}

/** _FusedMatMul: out = activation(op(a) op(b) + bias), PReLU excepted. */
export function fusedMatMulNativeConfig(
  addon: NativeAddon,
  previous: tf.KernelConfig | undefined,
): tf.KernelConfig {
  const kernelFunc = withFallback('_FusedMatMul', previous, (args, backend) => {
    const { a, b, bias } = args.inputs;
    const attrs = args.attrs as unknown as tf._FusedMatMulAttrs;
    const fused = fusedActivation(args.inputs, attrs);
    if (!a || !b || !fused || !isFloat32(a, b, bias)) return null;
    const p = productGeometry(a, b, attrs.transposeA === true, attrs.transposeB === true);
    if (!p || !onePerChannel(bias, p.columns)) return null;
    return callAddon(backend, p.outShape, (view, out) =>
      addon.matMul(
        p.geometry,
        view(a),
        view(b),
        bias ? view(bias) : null,
        fused.code,
        fused.alpha,
        out,
      ),
    );
  });
  return keepSetup('_FusedMatMul', previous, kernelFunc);
}
