import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CifarVariant, parseCifarBatch } from './cifar.js';
import { DatasetError } from './errors.js';
import { parseIdx } from './idx.js';
import { decodeImage } from './image-decode.js';
import { seededRandom } from './random.js';
import { cifarBytes } from './testing/cifar-writer.js';
import { idxBytes, pattern } from './testing/idx-writer.js';
import { jpegBytes, pngBytes, solid } from './testing/image-writer.js';

/**
 * Seeded mutations of a valid buffer: byte flips (biased towards the first
 * `head` bytes, where headers and labels live), overwrites with random bytes,
 * truncation and appended junk, alone or combined.
 */
function mutate(valid: Uint8Array, random: () => number, head: number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  let bytes = valid.slice();
  const kind = int(4);
  if (kind === 0 || kind === 3) {
    const flips = 1 + int(8);
    for (let i = 0; i < flips; i++) {
      const at = random() < 0.5 ? int(Math.min(head, bytes.length)) : int(bytes.length);
      bytes[at] = random() < 0.5 ? bytes[at] ^ (1 << int(8)) : int(256);
    }
  }
  if (kind === 1 || kind === 3) bytes = bytes.subarray(0, int(bytes.length + 1));
  if (kind === 2) {
    const extra = Uint8Array.from({ length: 1 + int(40) }, () => int(256));
    const out = new Uint8Array(bytes.length + extra.length);
    out.set(bytes);
    out.set(extra, bytes.length);
    bytes = out;
  }
  return bytes;
}

/** Runs `parse` on each case: it must return (then `check` it) or throw a DatasetError. */
function survive<T>(
  cases: Uint8Array[],
  parse: (bytes: Uint8Array) => T,
  check: (result: T) => void,
): { parsed: number; rejected: number } {
  let parsed = 0;
  let rejected = 0;
  for (const [i, bytes] of cases.entries()) {
    let result: T;
    try {
      result = parse(bytes);
    } catch (err) {
      assert.ok(
        err instanceof DatasetError,
        `case ${i} (${bytes.length} bytes): expected a DatasetError, got ${err}`,
      );
      rejected++;
      continue;
    }
    check(result);
    parsed++;
  }
  return { parsed, rejected };
}

test('mutated CIFAR batches parse or throw a DatasetError', () => {
  const random = seededRandom(11);
  const sources: [CifarVariant, Uint8Array][] = [
    ['cifar10', cifarBytes([{ labels: [3] }, { labels: [9] }, { labels: [0] }])],
    ['cifar100-fine', cifarBytes([{ labels: [19, 99] }, { labels: [0, 5] }])],
    ['cifar100-coarse', cifarBytes([{ labels: [7, 42] }])],
  ];
  for (const [variant, valid] of sources) {
    const classes = variant === 'cifar10' ? 10 : variant === 'cifar100-fine' ? 100 : 20;
    const record = variant === 'cifar10' ? 3073 : 3074;
    const cases = Array.from({ length: 150 }, () => {
      const bytes = mutate(valid, random, 2);
      // Hit the label bytes of a random record often.
      if (random() < 0.4 && bytes.length >= record) {
        bytes[Math.floor(random() * Math.floor(bytes.length / record)) * record] =
          Math.floor(random() * 256);
      }
      return bytes;
    });
    const { parsed, rejected } = survive(
      cases,
      (bytes) => parseCifarBatch(bytes, 'fuzz.bin', variant),
      (split) => {
        assert.equal(split.images.length, split.count * 3072);
        assert.ok(split.count >= 1);
        assert.ok(split.labels.every((l) => l < classes));
      },
    );
    assert.ok(
      parsed > 0 && rejected > 0,
      `${variant}: ${parsed} parsed, ${rejected} rejected`,
    );
  }
});

test('mutated IDX files (raw and gzipped) parse or throw a DatasetError', () => {
  const random = seededRandom(12);
  const sources = [
    { kind: 'images' as const, bytes: idxBytes([3, 4, 5], pattern(60)) },
    { kind: 'images' as const, bytes: idxBytes([3, 4, 5], pattern(60), { gzip: true }) },
    {
      kind: 'labels' as const,
      bytes: idxBytes([6], Uint8Array.from([1, 2, 3, 4, 5, 6])),
    },
    {
      kind: 'labels' as const,
      bytes: idxBytes([6], Uint8Array.from([1, 2, 3, 4, 5, 6]), { gzip: true }),
    },
  ];
  for (const source of sources) {
    const cases = Array.from({ length: 100 }, () => mutate(source.bytes, random, 16));
    const { rejected } = survive(
      cases,
      (bytes) => parseIdx(bytes, 'fuzz-idx', { kind: source.kind }),
      (idx) => {
        assert.equal(
          idx.data.length,
          idx.dims.reduce((a, b) => a * b, 1),
        );
      },
    );
    assert.ok(rejected > 0);
  }
});

test('mutated PNG and JPEG files decode or throw a DatasetError', () => {
  const random = seededRandom(13);
  const image = solid(8, 8, [120, 30, 200]);
  const sources: [string, Uint8Array][] = [
    ['f.png', pngBytes(8, 8, 3, image)],
    ['f.jpg', jpegBytes(8, 8, image)],
  ];
  for (const [file, valid] of sources) {
    const cases = Array.from({ length: 100 }, () => mutate(valid, random, 64));
    const { rejected } = survive(
      cases,
      (bytes) => decodeImage(bytes, file),
      (decoded) => {
        assert.equal(decoded.rgb.length, decoded.width * decoded.height * 3);
      },
    );
    assert.ok(rejected > 0);
  }
});
