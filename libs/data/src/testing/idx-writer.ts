import { gzipSync } from 'node:zlib';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC } from '../idx.js';

/**
 * Builds IDX bytes for tests: big-endian magic and dims, then the payload.
 * `magic` overrides the header's magic number (to write broken files).
 */
export function idxBytes(
  dims: number[],
  payload: Uint8Array,
  options: { magic?: number; gzip?: boolean } = {},
): Uint8Array {
  const magic =
    options.magic ?? (dims.length === 3 ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC);
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, magic, false);
  for (const [i, d] of dims.entries()) header.setUint32(4 + 4 * i, d, false);
  const raw = new Uint8Array(header.byteLength + payload.length);
  raw.set(new Uint8Array(header.buffer), 0);
  raw.set(payload, header.byteLength);
  return options.gzip ? gzipSync(raw) : raw;
}

/** Deterministic pixel values for `n` bytes. */
export function pattern(n: number, salt = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + salt * 7) & 0xff;
  return out;
}
