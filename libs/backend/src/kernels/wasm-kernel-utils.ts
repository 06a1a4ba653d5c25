import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

/** The wasm backend object a kernel function receives. */
export type WasmBackend = BackendWasm;

/** Arguments every kernel function receives from the tfjs engine. */
export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: object;
  attrs?: tf.NamedAttrMap;
}

/** Explicit padding as tfjs spells it: [[0,0],[top,bottom],[left,right],[0,0]]. */
export type ExplicitPadding = [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

/** Raised when a kernel is asked for a case it does not implement. */
export class UnsupportedKernelCaseError extends Error {
  constructor(kernel: string, detail: string) {
    super(`${kernel} (vicinal wasm kernel): unsupported case: ${detail}`);
    this.name = 'UnsupportedKernelCaseError';
  }
}

/** The named input of a kernel call; throws when the engine did not pass it. */
export function input(kernel: string, args: KernelArgs, name: string): tf.TensorInfo {
  const t = args.inputs[name];
  if (!t) throw new TypeError(`${kernel}: input "${name}" is missing`);
  return t;
}

/** Runs the kernel currently registered for `name` on the wasm backend. */
export function runWasmKernel(
  name: string,
  backend: WasmBackend,
  inputs: tf.NamedTensorInfoMap,
  attrs: object = {},
): tf.TensorInfo {
  const config = tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`kernel "${name}" is not registered for backend "wasm"`);
  const out = config.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) {
    throw new Error(`kernel "${name}": expected one output, got ${out.length}`);
  }
  return out;
}

/**
 * A scope that collects intermediate tensors created by kernel calls and
 * releases them (the result is kept).
 */
export class Intermediates {
  private readonly held: tf.TensorInfo[] = [];

  constructor(readonly backend: WasmBackend) {}

  /** Remembers `t` for disposal and returns it. */
  keep(t: tf.TensorInfo): tf.TensorInfo {
    this.held.push(t);
    return t;
  }

  /** Runs a kernel and remembers its output for disposal. */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: object = {}): tf.TensorInfo {
    return this.keep(runWasmKernel(name, this.backend, inputs, attrs));
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  /** Slices rows [top, top+height) and columns [left, left+width) of an NHWC tensor. */
  cropNHWC(x: tf.TensorInfo, top: number, height: number, left: number, width: number) {
    const [b, h, w, c] = x.shape;
    if (top === 0 && left === 0 && height === h && width === w) return x;
    return this.run(
      'Slice',
      { x },
      { begin: [0, top, left, 0], size: [b, height, width, c] },
    );
  }

  /** Releases every remembered tensor except `result`. */
  release(result?: tf.TensorInfo): void {
    for (const t of this.held) {
      if (t !== result) this.backend.disposeData(t.dataId);
    }
    this.held.length = 0;
  }
}

/** Reads a stride/dilation attribute that may be a number or a pair. */
export function pair(
  value: number | [number, number] | number[],
  name: string,
): [number, number] {
  const v = typeof value === 'number' ? [value, value] : value;
  if (v.length !== 2 || !v.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new RangeError(
      `${name}: expected a positive integer or a pair, got ${String(value)}`,
    );
  }
  return [v[0], v[1]];
}

/** Throws for data formats the wasm convolution cannot run. */
export function requireNHWC(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new UnsupportedKernelCaseError(
      kernel,
      `dataFormat "${String(dataFormat)}" (only NHWC: the wasm Conv2D is ` +
        'channels-last only)',
    );
  }
}

/** Throws unless the tensor has the expected shape. */
export function requireShape(
  kernel: string,
  field: string,
  actual: readonly number[],
  expected: readonly number[],
): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new RangeError(
      `${kernel}: ${field} expected shape [${expected.join(',')}], ` +
        `got [${actual.join(',')}]`,
    );
  }
}

/**
 * Splits a possibly negative padding amount into (padding, crop): a negative
 * padding is expressed as cropping that many rows instead.
 */
export function padOrCrop(amount: number): { pad: number; crop: number } {
  return amount >= 0 ? { pad: amount, crop: 0 } : { pad: 0, crop: -amount };
}
