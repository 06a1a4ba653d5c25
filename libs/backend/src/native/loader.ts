/**
 * Loads vicinal's optional native CPU kernels (libs/backend/native: a Node
 * addon over oneDNN, built by scripts/ensure-deps.sh). Loading never throws:
 * when the addon is turned off, not built or cannot load (libdnnl missing),
 * the result says why and the wasm kernels stay in place.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the addon reports about the library behind it. */
export interface NativeLibraryInfo {
  library: string;
  version: string;
  /** The instruction set oneDNN's kernels use on this CPU. */
  isa: string;
  /** Threads oneDNN runs on (OpenMP). */
  threads: number;
  /** Primitives prepared so far (one per shape and operation). */
  cachedPrimitives: number;
}

/**
 * The addon's functions. Geometry is an Int32Array of 17 values:
 * batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW,
 * dilationH, dilationW, padTop, padLeft, padBottom, padRight.
 * Activations are NHWC, filters HWIO (TensorFlow.js's layouts). Each kernel
 * returns false, having written nothing, when oneDNN has no implementation
 * for the case; it throws a TypeError when an array has the wrong length.
 */
export interface NativeAddon {
  info(): NativeLibraryInfo;
  setThreads(threads: number): void;
  conv2dForward(
    geometry: Int32Array,
    x: Float32Array,
    filter: Float32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
    out: Float32Array,
  ): boolean;
  conv2dBackwardInput(
    geometry: Int32Array,
    dy: Float32Array,
    filter: Float32Array,
    out: Float32Array,
  ): boolean;
  conv2dBackwardFilter(
    geometry: Int32Array,
    x: Float32Array,
    dy: Float32Array,
    out: Float32Array,
  ): boolean;
  /**
   * Pool geometry, an Int32Array of 12 values: batch, inH, inW, channels,
   * outH, outW, windowH, windowW, strideH, strideW, padTop, padLeft.
   */
  maxPool(geometry: Int32Array, x: Float32Array, out: Float32Array): void;
  maxPoolGrad(
    geometry: Int32Array,
    dy: Float32Array,
    x: Float32Array,
    out: Float32Array,
  ): void;
  /**
   * out[i] = activation(op(a[i]) op(b[i]) + bias) for every batch i, op a
   * transpose or not. Geometry, an Int32Array of 7 values: batchA, batchB,
   * M, K, N, transposeA (0/1), transposeB (0/1); a is stored [batchA, M, K]
   * ([batchA, K, M] transposed), b [batchB, K, N] ([batchB, N, K]), out
   * [max(batchA, batchB), M, N]; batches are equal or one of them is 1
   * (broadcast). Bias: N values or null; activation: FusedConv2D's codes.
   */
  matMul(
    geometry: Int32Array,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
    out: Float32Array,
  ): boolean;
  /** Per-channel statistics and parameters (innermost axis of x). */
  batchNorm(
    x: Float32Array,
    mean: Float32Array,
    variance: Float32Array,
    offset: Float32Array | null,
    scale: Float32Array | null,
    epsilon: number,
    out: Float32Array,
  ): void;
  /**
   * Mixup of uint8 images into normalised rows: out[i] = lambda[i] *
   * t(x[i]) + (1 - lambda[i]) * t(x[partner[i]]), t the 256-value table of
   * each channel (innermost axis). Absent from addons built before it.
   */
  mixPixels?(
    images: Uint8Array,
    table: Float32Array,
    channels: number,
    partner: Int32Array,
    lambda: Float32Array,
    out: Float32Array,
  ): void;
  /** Per channel: out[k] = sum of dy, out[C + k] = sum of dy * (x - mean). */
  batchNormGradSums(
    dy: Float32Array,
    x: Float32Array,
    mean: Float32Array,
    out: Float32Array,
  ): void;
}

/** Outcome of loading the addon. */
export type NativeLoad =
  | { addon: NativeAddon; info: NativeLibraryInfo; reason: string }
  | { addon: null; reason: string; notBuilt: boolean };

/** Where node-gyp puts the addon (libs/backend/native/build, git-ignored). */
export const DEFAULT_ADDON_PATH = fileURLToPath(
  new URL('../../native/build/Release/vicinal_native.node', import.meta.url),
);

/** The switch that turns the native kernels off: VICINAL_NATIVE_KERNELS=0. */
export const NATIVE_SWITCH = 'VICINAL_NATIVE_KERNELS';

const BUILD_HINT =
  'build it with `bash scripts/ensure-deps.sh` (needs libdnnl-dev, g++ and make)';

/**
 * Loads the addon from `path` unless VICINAL_NATIVE_KERNELS is 0/false/off
 * in `env`. Never throws; `reason` is one line for logs and BackendInfo.
 */
export function loadNativeAddon(
  path: string = DEFAULT_ADDON_PATH,
  env: NodeJS.ProcessEnv = process.env,
): NativeLoad {
  const setting = env[NATIVE_SWITCH]?.trim().toLowerCase();
  if (setting === '0' || setting === 'false' || setting === 'off') {
    return {
      addon: null,
      reason: `turned off by ${NATIVE_SWITCH}=${env[NATIVE_SWITCH]}`,
      notBuilt: false,
    };
  }
  if (!existsSync(path)) {
    return {
      addon: null,
      reason: `not built (${path} is missing; ${BUILD_HINT})`,
      notBuilt: true,
    };
  }
  // OpenMP threads that spin while waiting for work take a core from the
  // JavaScript thread and from other processes between native calls; on a
  // shared machine that costs several times what it saves. The library
  // reads this when it loads, so it is set before the addon loads.
  if (env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    const info = addon.info();
    return {
      addon,
      info,
      reason: `${info.library} ${info.version}, ${info.isa}, ${info.threads} threads`,
    };
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    return { addon: null, reason: `could not load ${path}: ${message}`, notBuilt: false };
  }
}
