import type * as tf from '@tensorflow/tfjs-core';
import {
  Intermediates,
  input,
  type KernelArgs,
  type WasmBackend,
} from './wasm-kernel-utils.js';

const NAME = 'BatchMatMul';

/**
 * Cost of packing one element of the right-hand operand into the native
 * matmul's weight layout, relative to transposing one element. Measured on
 * the wasm backend: packing is 5-10x a transpose per element (it happens on
 * every call, since every tensor is new), so which operand gets packed
 * decides the speed of small-batch products with a large matrix.
 */
const PACK_COST = 6;

/**
 * BatchMatMul on wasm. The shipped kernel walks memory badly when an operand
 * is marked transposed (a^T b: the weight gradient of a dense layer; a b^T:
 * its input gradient), and it repacks the whole right-hand operand on every
 * call. For transposed operands this kernel makes the transposes explicit
 * and, for single products (batch 1), picks between C = A B and
 * C = (B^T A^T)^T whichever packs fewer elements, then runs the shipped
 * kernel untransposed.
 */
export function makeBatchMatMulWasm(
  original: tf.KernelFunc,
): (args: KernelArgs) => tf.TensorInfo {
  return (args: KernelArgs): tf.TensorInfo => {
    const backend = args.backend as WasmBackend;
    const attrs = (args.attrs ?? {}) as unknown as tf.BatchMatMulAttrs;
    const a = input(NAME, args, 'a');
    const b = input(NAME, args, 'b');
    const ta = attrs.transposeA === true;
    const tb = attrs.transposeB === true;
    if (a.shape.length < 2 || b.shape.length < 2) {
      throw new RangeError(
        `${NAME}: operands need rank >= 2, got [${a.shape}] and [${b.shape}]`,
      );
    }
    // Untransposed products keep the shipped path: there the right operand is
    // usually a weight matrix the native kernel caches across calls.
    if (!ta && !tb) return original(args) as tf.TensorInfo;
    const single = isSingle(a.shape) && isSingle(b.shape);
    const plan = single ? choosePlan(a.shape, b.shape, ta, tb) : 'direct';

    const scope = new Intermediates(backend);
    const run = (left: tf.TensorInfo, right: tf.TensorInfo) =>
      scope.keep(
        original({
          inputs: { a: left, b: right },
          backend,
          attrs: { transposeA: false, transposeB: false } as unknown as tf.NamedAttrMap,
        }) as tf.TensorInfo,
      );
    try {
      let out: tf.TensorInfo;
      if (plan === 'direct') {
        const left = ta ? scope.transpose(a, swapLastTwo(a.shape.length)) : a;
        const right = tb ? scope.transpose(b, swapLastTwo(b.shape.length)) : b;
        out = run(left, right);
      } else {
        // C^T = B^T A^T, with 2-D views of both operands.
        const a2 = scope.reshape(a, a.shape.slice(-2));
        const b2 = scope.reshape(b, b.shape.slice(-2));
        const left = tb ? b2 : scope.transpose(b2, [1, 0]);
        const right = ta ? a2 : scope.transpose(a2, [1, 0]);
        const ct = run(left, right);
        const c = scope.transpose(ct, [1, 0]);
        const rank = Math.max(a.shape.length, b.shape.length);
        out = scope.reshape(c, [...new Array(rank - 2).fill(1), ...c.shape]);
      }
      scope.release(out);
      return out;
    } catch (err) {
      scope.release();
      throw err;
    }
  };
}

function isSingle(shape: readonly number[]): boolean {
  return shape.slice(0, -2).every((d) => d === 1);
}

/**
 * 'direct' computes A B (transposing stored operands as needed), 'swapped'
 * computes (B^T A^T)^T; cost = transposed elements + PACK_COST * packed elements.
 */
function choosePlan(
  aShape: readonly number[],
  bShape: readonly number[],
  ta: boolean,
  tb: boolean,
): 'direct' | 'swapped' {
  const [ar, ac] = aShape.slice(-2);
  const [br, bc] = bShape.slice(-2);
  const m = ta ? ac : ar;
  const n = tb ? br : bc;
  const sizeA = ar * ac;
  const sizeB = br * bc;
  const direct = (ta ? sizeA : 0) + (tb ? sizeB : 0) + PACK_COST * sizeB;
  const swapped = (tb ? 0 : sizeB) + (ta ? 0 : sizeA) + PACK_COST * sizeA + m * n;
  return swapped < direct ? 'swapped' : 'direct';
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Builds the override for the shipped wasm BatchMatMul, keeping its setupFunc. */
export function batchMatMulConfig(existing: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: makeBatchMatMulWasm(existing.kernelFunc) as unknown as tf.KernelFunc,
  };
}
