/**
 * IEEE 754 half precision (binary16) conversion, written out so encoding
 * rounds to nearest, ties to even, like hardware conversions do.
 */

const scratch = new DataView(new ArrayBuffer(4));
const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Largest finite half: 65504. */
export const FLOAT16_MAX = 65504;

/**
 * Half-precision bits (0..0xffff) of `value`, rounded to float32 first and
 * then to the nearest half (ties to even). Overflow gives +-Infinity; NaN
 * stays NaN (quiet, keeping the top payload bits).
 */
export function toFloat16Bits(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const e = exponent - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal half: keep 10 of 23 mantissa bits. A carry out of the mantissa
    // moves into the exponent, which is exactly the right rounding (and
    // turns 65520 and above into infinity).
    return sign | (((e + 15) << 10) + roundShift(mantissa, 13));
  }
  if (e < -25) return sign;
  // Subnormal half: the value in units of 2^-24, from the full significand.
  return sign | roundShift(mantissa | 0x800000, -(e + 1));
}

/** `n >>> shift`, rounded to nearest with ties to even. */
function roundShift(n: number, shift: number): number {
  const kept = n >>> shift;
  const rest = n & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** The number a half-precision bit pattern stands for. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f)
    return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

let decodeTable: Float32Array | undefined;

/** Encodes values as little-endian halves (2 bytes each). */
export function encodeFloat16(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  if (littleEndianHost) {
    const halves = new Uint16Array(out.buffer);
    for (let i = 0; i < values.length; i++) halves[i] = toFloat16Bits(values[i]);
  } else {
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++)
      view.setUint16(2 * i, toFloat16Bits(values[i]), true);
  }
  return out;
}

/** Decodes little-endian halves to float32 (every half is exact in float32). */
export function decodeFloat16(bytes: Uint8Array): Float32Array {
  if (bytes.length % 2 !== 0) {
    throw new RangeError(
      `float16 data: expected an even byte count, got ${bytes.length}`,
    );
  }
  if (!decodeTable) {
    decodeTable = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) decodeTable[h] = fromFloat16Bits(h);
  }
  const table = decodeTable;
  const n = bytes.length / 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  return out;
}
