import * as tf from '@tensorflow/tfjs-core';
import {
  input,
  type KernelArgs,
  requireShape,
  type WasmBackend,
} from './wasm-kernel-utils.js';

const NAME = 'MaxPoolGrad';

/**
 * Gradient of 2-D max pooling (NHWC) on the wasm backend. Each output
 * position routes its gradient to the first maximum of its window in
 * row-major scan order (the rule the reference cpu backend uses), so ties
 * (common after ReLU) match exactly. One pass over the windows, computed
 * on typed-array views of the wasm heap; the shipped kernel revisits every
 * input pixel for every window that covers it.
 */
export function maxPoolGradWasm(args: KernelArgs): tf.TensorInfo {
  const backend = args.backend as WasmBackend;
  const dy = input(NAME, args, 'dy');
  const x = input(NAME, args, 'input');
  const attrs = (args.attrs ?? {}) as unknown as tf.MaxPoolGradAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new TypeError(
      `${NAME}: expected float32 input and dy, got ${x.dtype}, ${dy.dtype}`,
    );
  }
  if (x.shape.length !== 4) {
    throw new RangeError(`${NAME}: input expected rank 4 (NHWC), got shape [${x.shape}]`);
  }
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: nb, inHeight: ih, inWidth: iw, inChannels: nc } = info;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  requireShape(NAME, 'dy', dy.shape, [nb, oh, ow, nc]);
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  const out = backend.makeOutput(x.shape, 'float32');
  // Views after makeOutput: the allocation may have grown the heap.
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const geometry: PoolGeometry = {
    nb,
    ih,
    iw,
    nc,
    oh,
    ow,
    sh,
    sw,
    fh,
    fw,
    dh,
    dw,
    top,
    left,
  };
  const fullWindows = 2 * oh <= ih && 2 * ow <= iw;
  if (
    fh === 2 &&
    fw === 2 &&
    sh === 2 &&
    sw === 2 &&
    top === 0 &&
    left === 0 &&
    fullWindows
  ) {
    routeTwoByTwo(xs, g, dx, geometry);
  } else {
    routeGeneral(xs, g, dx, geometry);
  }
  return out;
}

interface PoolGeometry {
  nb: number;
  ih: number;
  iw: number;
  nc: number;
  oh: number;
  ow: number;
  sh: number;
  sw: number;
  fh: number;
  fw: number;
  dh: number;
  dw: number;
  top: number;
  left: number;
}

/** Any window/stride/padding: scan each window, add dy at its first maximum. */
function routeGeneral(
  xs: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  p: PoolGeometry,
) {
  const { nb, ih, iw, nc, oh, ow, sh, sw, fh, fw, dh, dw, top, left } = p;
  dx.fill(0);
  const rowStride = iw * nc;
  const imageStride = ih * rowStride;
  let gi = 0;
  for (let b = 0; b < nb; b++) {
    const imageBase = b * imageStride;
    for (let r = 0; r < oh; r++) {
      const r0 = r * sh - top;
      for (let col = 0; col < ow; col++) {
        const c0 = col * sw - left;
        for (let ch = 0; ch < nc; ch++, gi++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let fr = 0; fr < fh; fr += dh) {
            const y = r0 + fr;
            if (y < 0 || y >= ih) continue;
            const rowBase = imageBase + y * rowStride + ch;
            for (let fc = 0; fc < fw; fc += dw) {
              const xc = c0 + fc;
              if (xc < 0 || xc >= iw) continue;
              const idx = rowBase + xc * nc;
              const v = xs[idx];
              if (v > best) {
                best = v;
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += g[gi];
        }
      }
    }
  }
}

/**
 * 2x2 windows, stride 2, every window inside the input (the usual
 * downsampling): windows do not overlap, so every input element is written
 * exactly once, the routed gradient or zero. Rows/columns beyond the last
 * window (odd sizes, 'valid') get zeros.
 */
function routeTwoByTwo(
  xs: Float32Array,
  g: Float32Array,
  dx: Float32Array,
  p: PoolGeometry,
) {
  const { nb, ih, iw, nc, oh, ow } = p;
  if (ih !== 2 * oh || iw !== 2 * ow) dx.fill(0);
  const rowStride = iw * nc;
  const imageStride = ih * rowStride;
  let gi = 0;
  for (let b = 0; b < nb; b++) {
    for (let r = 0; r < oh; r++) {
      const rowBase = b * imageStride + 2 * r * rowStride;
      for (let col = 0; col < ow; col++, gi += nc) {
        const i00 = rowBase + 2 * col * nc;
        const i01 = i00 + nc;
        const i10 = i00 + rowStride;
        const i11 = i10 + nc;
        for (let ch = 0; ch < nc; ch++) {
          const v00 = xs[i00 + ch];
          const v01 = xs[i01 + ch];
          const v10 = xs[i10 + ch];
          const v11 = xs[i11 + ch];
          // First maximum in scan order (00, 01, 10, 11), as in routeGeneral.
          let k = -1;
          let best = Number.NEGATIVE_INFINITY;
          if (v00 > best) {
            best = v00;
            k = 0;
          }
          if (v01 > best) {
            best = v01;
            k = 1;
          }
          if (v10 > best) {
            best = v10;
            k = 2;
          }
          if (v11 > best) k = 3;
          const grad = g[gi + ch];
          dx[i00 + ch] = k === 0 ? grad : 0;
          dx[i01 + ch] = k === 1 ? grad : 0;
          dx[i10 + ch] = k === 2 ? grad : 0;
          dx[i11 + ch] = k === 3 ? grad : 0;
        }
      }
    }
  }
}

/** Builds the override for the shipped wasm MaxPoolGrad, keeping its setupFunc. */
export function maxPoolGradConfig(existing?: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: NAME,
    backendName: 'wasm',
    ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    kernelFunc: maxPoolGradWasm as unknown as tf.KernelFunc,
  };
}
