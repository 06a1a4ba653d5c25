/** One CIFAR record for tests: its label byte(s) and channels-last pixels. */
export interface CifarRecord {
  /** [label] for CIFAR-10, [coarse, fine] for CIFAR-100. */
  labels: number[];
  /** 32x32x3 channels-last pixels; default: {@link recordPixels}(index). */
  pixels?: Uint8Array;
}

/** Deterministic channels-last 32x32x3 pixels, distinct per `salt`. */
export function recordPixels(salt: number): Uint8Array {
  const out = new Uint8Array(32 * 32 * 3);
  for (let i = 0; i < out.length; i++) out[i] = (i * 13 + salt * 29 + (i >> 7)) & 0xff;
  return out;
}

/**
 * CIFAR binary bytes for tests: per record the label byte(s), then the R, G
 * and B planes (each 32x32 row-major), written from channels-last pixels by
 * an independent loop over (y, x, c).
 */
export function cifarBytes(records: CifarRecord[]): Uint8Array {
  const labelBytes = records[0]?.labels.length ?? 1;
  const size = labelBytes + 3072;
  const out = new Uint8Array(records.length * size);
  for (const [r, record] of records.entries()) {
    const base = r * size;
    out.set(record.labels, base);
    const pixels = record.pixels ?? recordPixels(r);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        for (let c = 0; c < 3; c++) {
          out[base + labelBytes + c * 1024 + y * 32 + x] = pixels[(y * 32 + x) * 3 + c];
        }
      }
    }
  }
  return out;
}
