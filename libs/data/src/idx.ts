import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { DatasetError } from './errors.js';

/** IDX magic numbers for the two kinds of file a labelled image set has. */
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;
/** The only element type we read: unsigned bytes. */
const UINT8_DTYPE = 0x08;

export type IdxKind = 'images' | 'labels';

/** What a caller expects an IDX file to hold; unset fields are not checked. */
export interface IdxExpectation {
  kind: IdxKind;
  /** Number of items (images or labels). */
  count?: number;
  /** Image rows and columns (images only). */
  rows?: number;
  cols?: number;
}

/** A parsed IDX file: its dimensions and its uint8 payload (no copy). */
export interface IdxData {
  kind: IdxKind;
  /** [count] for labels, [count, rows, cols] for images. */
  dims: number[];
  data: Uint8Array;
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses IDX bytes (gzipped or raw, detected by the gzip magic). Checks the
 * magic number, element type, dimensions and that the payload is exactly as
 * long as the dimensions say. `file` is used in error messages only.
 */
export function parseIdx(
  bytes: Uint8Array,
  file: string,
  expect: IdxExpectation,
): IdxData {
  let raw = bytes;
  const gzipped = isGzip(bytes);
  if (gzipped) {
    try {
      // A sync flush keeps what a truncated stream held, so the size check
      // below can say how many bytes arrived instead of a bare zlib error.
      raw = gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
    } catch (err) {
      throw new DatasetError(
        file,
        `not a readable gzip stream (${(err as Error).message})`,
      );
    }
  }
  const wantMagic = expect.kind === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  const rank = expect.kind === 'images' ? 3 : 1;
  const headerBytes = 4 + 4 * rank;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = raw.length >= 4 ? view.getUint32(0, false) : wantMagic;
  if (magic !== wantMagic) {
    const dtype = (magic >>> 8) & 0xff;
    if (magic >>> 16 === 0 && (magic & 0xff) === rank && dtype !== UINT8_DTYPE) {
      throw new DatasetError(
        file,
        `expected element type 0x08 (uint8), got 0x${hex(dtype, 2)}`,
      );
    }
    // Raw IDX is read too, so a .gz name that is not gzip data reaches here.
    const notGzip =
      !gzipped && /\.gz$/i.test(file)
        ? ` (named .gz, but not gzip data: it starts 0x${hex(raw[0] ?? 0, 2)} ` +
          `0x${hex(raw[1] ?? 0, 2)}, not the gzip magic 0x1f 0x8b)`
        : '';
    throw new DatasetError(
      file,
      `expected IDX ${expect.kind} magic 0x${hex(wantMagic, 8)}, got 0x${hex(magic, 8)}` +
        notGzip,
    );
  }
  if (raw.length < headerBytes) {
    throw new DatasetError(
      file,
      `expected an IDX ${expect.kind} header of ${headerBytes} bytes, got ${raw.length} bytes`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  checkDims(file, expect, dims);
  const items = dims.reduce((a, b) => a * b, 1);
  const expectedBytes = headerBytes + items;
  if (raw.length !== expectedBytes) {
    throw new DatasetError(
      file,
      `expected ${expectedBytes} bytes for ${dims.join('x')} ${expect.kind}, got ${raw.length}` +
        (gzipped && gzipCutShort(bytes)
          ? ' (the gzip stream ends early: the file is cut short)'
          : ''),
    );
  }
  // A plain Uint8Array view (not a Buffer), so callers see one array type.
  const data = new Uint8Array(raw.buffer, raw.byteOffset + headerBytes, items);
  return { kind: expect.kind, dims, data };
}

/** Whether a gzip stream ends before its end marker (a truncated file). */
function gzipCutShort(bytes: Uint8Array): boolean {
  try {
    gunzipSync(bytes);
    return false;
  } catch (err) {
    return (err as { code?: string }).code === 'Z_BUF_ERROR';
  }
}

/** Reads and parses one IDX file; errors name the file's base name. */
export async function readIdxFile(
  path: string,
  expect: IdxExpectation,
): Promise<IdxData> {
  const name = basename(path);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new DatasetError(name, `cannot read ${path} (${code})`);
  }
  return parseIdx(bytes, name, expect);
}

function checkDims(file: string, expect: IdxExpectation, dims: number[]): void {
  const named: [string, number | undefined, number][] = [
    ['count', expect.count, dims[0]],
  ];
  if (expect.kind === 'images') {
    named.push(['rows', expect.rows, dims[1]], ['cols', expect.cols, dims[2]]);
  }
  for (const [what, want, got] of named) {
    if (want !== undefined && want !== got) {
      throw new DatasetError(
        file,
        `expected ${expect.kind} ${what} ${want}, got ${got} (header dims ${dims.join('x')})`,
      );
    }
  }
  if (dims.some((d) => d === 0)) {
    throw new DatasetError(file, `expected non-zero dimensions, got ${dims.join('x')}`);
  }
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
