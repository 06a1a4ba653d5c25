import { WireError } from './errors.js';
import { decodeFloat16, encodeFloat16 } from './float16.js';
import type { DTypeName, TensorMessage } from './messages.js';

/** Element types a tensor may carry on the wire. */
export type DType = 'float32' | 'float16' | 'uint8';

export const DTYPES: readonly DType[] = ['float32', 'float16', 'uint8'];

const ENUM_OF: Record<DType, DTypeName> = {
  float32: 'DTYPE_FLOAT32',
  float16: 'DTYPE_FLOAT16',
  uint8: 'DTYPE_UINT8',
};
const DTYPE_OF: Partial<Record<string | number, DType>> = {
  DTYPE_FLOAT32: 'float32',
  DTYPE_FLOAT16: 'float16',
  DTYPE_UINT8: 'uint8',
  1: 'float32',
  2: 'float16',
  3: 'uint8',
};
const ITEM_SIZE: Record<DType, number> = { float32: 4, float16: 2, uint8: 1 };
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The proto enum name of a dtype. */
export function dtypeEnum(dtype: DType): DTypeName {
  return ENUM_OF[dtype];
}

/** The dtype an enum value (name or number) stands for, or null if none. */
export function dtypeFromEnum(value: DTypeName | number | string): DType | null {
  return DTYPE_OF[value] ?? null;
}

/** A decoded tensor. float16 payloads arrive widened to float32. */
export type DecodedTensor =
  | { dtype: 'uint8'; shape: number[]; data: Uint8Array }
  | { dtype: 'float32' | 'float16'; shape: number[]; data: Float32Array };

/** What a decoder should insist on; unset fields are not checked. */
export interface TensorExpectation {
  /** Accepted element types. */
  dtypes?: readonly DType[];
  /**
   * Exact rank and sizes; null leaves a dimension free (>= 1). Dimension 0
   * is shown as "B" in messages when it is free.
   */
  shape?: readonly (number | null)[];
  /** Upper bound on dimension 0 (the batch). */
  maxBatch?: number;
  /** Accept NaN and infinities in float tensors (default false). */
  allowNonFinite?: boolean;
}

/**
 * Builds a Tensor message. float32 and uint8 data go out as views of the
 * caller's memory (no copy) on little-endian hosts; float16 is converted
 * with round-to-nearest-even. The dtype defaults to the array's own type.
 */
export function encodeTensor(
  data: Float32Array | Uint8Array,
  shape: readonly number[],
  dtype: DType = data instanceof Uint8Array ? 'uint8' : 'float32',
): TensorMessage {
  const elements = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || elements !== data.length) {
    throw new WireError(
      'tensor.shape',
      `a shape whose product is the ${data.length} elements given`,
      `[${shape.join(',')}]`,
    );
  }
  const isBytes = data instanceof Uint8Array;
  if ((dtype === 'uint8') !== isBytes) {
    throw new WireError(
      'tensor.dtype',
      dtype === 'uint8' ? 'Uint8Array data for uint8' : `Float32Array data for ${dtype}`,
      isBytes ? 'Uint8Array' : 'Float32Array',
    );
  }
  let bytes: Uint8Array;
  if (dtype === 'float16') {
    bytes = encodeFloat16(data);
  } else if (isBytes) {
    bytes = data;
  } else if (littleEndianHost) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    bytes = new Uint8Array(data.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dtype: ENUM_OF[dtype], shape: [...shape], data: buffer };
}

/**
 * Checks a received Tensor message against the contract and `expect`, then
 * returns its elements: a view of the message's bytes where alignment and
 * byte order allow, a copy otherwise. Every failure is a WireError whose
 * field is `field` plus ".dtype", ".shape" or ".data".
 */
export function decodeTensor(
  message: TensorMessage | null | undefined,
  field: string,
  expect: TensorExpectation = {},
): DecodedTensor {
  if (!message) throw new WireError(field, 'a tensor', 'none');
  const dtype = dtypeFromEnum(message.dtype);
  const allowed = expect.dtypes ?? DTYPES;
  if (dtype === null || !allowed.includes(dtype)) {
    throw new WireError(
      `${field}.dtype`,
      `one of ${allowed.map((d) => ENUM_OF[d]).join(', ')}`,
      String(message.dtype),
    );
  }
  const shape = [...message.shape];
  checkShape(shape, `${field}.shape`, expect);
  const elements = shape.reduce((a, b) => a * b, 1);
  const size = ITEM_SIZE[dtype];
  const bytes = message.data ?? new Uint8Array(0);
  if (bytes.length !== elements * size) {
    throw new WireError(
      `${field}.data`,
      `${elements * size} bytes (${shape.join('x')} ${dtype}, ${size} bytes each)`,
      `${bytes.length} bytes`,
    );
  }
  if (dtype === 'uint8') {
    return {
      dtype,
      shape,
      data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
    };
  }
  const data = dtype === 'float16' ? decodeFloat16(bytes) : float32View(bytes);
  if (!expect.allowNonFinite) {
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new WireError(
          `${field}.data`,
          'finite values',
          `${data[i]} at element ${i}`,
        );
      }
    }
  }
  return { dtype, shape, data };
}

function checkShape(shape: number[], field: string, expect: TensorExpectation): void {
  const want = expect.shape;
  const maxBatch = expect.maxBatch;
  const describe = () => {
    const dims = want
      ? want.map((d, i) => (d === null ? (i === 0 ? 'B' : '*') : String(d)))
      : ['B', '...'];
    const batch = maxBatch !== undefined ? ` with 1 <= B <= ${maxBatch}` : '';
    return `[${dims.join(',')}]${batch}`;
  };
  const bad =
    (want !== undefined && shape.length !== want.length) ||
    shape.length === 0 ||
    shape.some((d, i) => !Number.isInteger(d) || d < 1 || (want?.[i] ?? d) !== d) ||
    (maxBatch !== undefined && shape[0] > maxBatch);
  if (bad) throw new WireError(field, describe(), `[${shape.join(',')}]`);
}

function float32View(bytes: Uint8Array): Float32Array {
  const n = bytes.length / 4;
  if (littleEndianHost && bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  }
  const out = new Float32Array(n);
  if (littleEndianHost) {
    new Uint8Array(out.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  }
  return out;
}
