import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DatasetError } from './errors.js';
import { isGzip, parseIdx, readIdxFile } from './idx.js';
import { idxBytes, pattern } from './testing/idx-writer.js';

const dir = await mkdtemp(join(tmpdir(), 'vicinal-idx-'));
after(() => rm(dir, { recursive: true, force: true }));

function throwsDataset(fn: () => unknown, file: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.equal(err.file, file);
    assert.equal(err.message, `${file}: ${message}`);
    return true;
  });
}

test('raw and gzipped image files parse to the same dims and pixels', async () => {
  const pixels = pattern(3 * 4 * 5);
  for (const gzip of [false, true]) {
    const path = join(dir, gzip ? 'imgs.gz' : 'imgs');
    await writeFile(path, idxBytes([3, 4, 5], pixels, { gzip }));
    const idx = await readIdxFile(path, { kind: 'images', count: 3, rows: 4, cols: 5 });
    assert.equal(idx.kind, 'images');
    assert.deepEqual(idx.dims, [3, 4, 5]);
    assert.deepEqual(idx.data, pixels);
  }
});

test('label files parse, and gzip is detected by its magic bytes', () => {
  const labels = Uint8Array.from([0, 9, 3, 3]);
  const gz = idxBytes([4], labels, { gzip: true });
  assert.equal(isGzip(gz), true);
  assert.equal(isGzip(idxBytes([4], labels)), false);
  const idx = parseIdx(gz, 'l.gz', { kind: 'labels', count: 4 });
  assert.deepEqual(idx.dims, [4]);
  assert.deepEqual(idx.data, labels);
});

test('a labels file where images are expected names both magic numbers', () => {
  throwsDataset(
    () => parseIdx(idxBytes([4], pattern(4)), 'x', { kind: 'images' }),
    'x',
    'expected IDX images magic 0x00000803, got 0x00000801',
  );
  throwsDataset(
    () =>
      parseIdx(idxBytes([1], pattern(1), { magic: 0xcafebabe }), 'y', { kind: 'labels' }),
    'y',
    'expected IDX labels magic 0x00000801, got 0xcafebabe',
  );
});

test('a .gz file that is not gzip data says so beside the IDX magic it lacks', () => {
  const junk = Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]);
  throwsDataset(
    () => parseIdx(junk, 'train-labels-idx1-ubyte.gz', { kind: 'labels' }),
    'train-labels-idx1-ubyte.gz',
    'expected IDX labels magic 0x00000801, got 0xdeadbeef (named .gz, but not gzip ' +
      'data: it starts 0xde 0xad, not the gzip magic 0x1f 0x8b)',
  );
  // Without the .gz name, raw bytes are raw IDX: only the magic is named.
  throwsDataset(
    () => parseIdx(junk, 'labels', { kind: 'labels' }),
    'labels',
    'expected IDX labels magic 0x00000801, got 0xdeadbeef',
  );
});

test('a non-uint8 element type is named as such', () => {
  throwsDataset(
    () =>
      parseIdx(idxBytes([2, 2, 2], pattern(8), { magic: 0x0d03 }), 'f', {
        kind: 'images',
      }),
    'f',
    'expected element type 0x08 (uint8), got 0x0d',
  );
});

test('truncated files report expected and received byte counts (raw and gzip)', () => {
  const full = idxBytes([60000, 28, 28], new Uint8Array(0));
  const truncated = new Uint8Array(1000);
  truncated.set(full);
  throwsDataset(
    () => parseIdx(truncated, 'train-images-idx3-ubyte.gz', { kind: 'images' }),
    'train-images-idx3-ubyte.gz',
    'expected 47040016 bytes for 60000x28x28 images, got 1000',
  );
  // A gzip stream cut in the middle: whatever decompresses is counted, and
  // the message says the stream itself ends early.
  const gz = idxBytes([50, 28, 28], pattern(50 * 784), { gzip: true });
  assert.throws(
    () => parseIdx(gz.subarray(0, gz.length - 200), 'cut.gz', { kind: 'images' }),
    (err: unknown) =>
      err instanceof DatasetError &&
      /^cut\.gz: expected 39216 bytes for 50x28x28 images, got \d+ \(the gzip stream ends early: the file is cut short\)$/.test(
        err.message,
      ),
  );
  // A whole gzip stream of too few bytes is not called cut short.
  const short = idxBytes([50, 28, 28], pattern(50 * 784), { gzip: true });
  const whole = gzipSync(gunzipSync(short).subarray(0, 1000));
  throwsDataset(
    () => parseIdx(whole, 'short.gz', { kind: 'images' }),
    'short.gz',
    'expected 39216 bytes for 50x28x28 images, got 1000',
  );
  throwsDataset(
    () => parseIdx(new Uint8Array([0, 0, 8, 3, 0]), 'h', { kind: 'images' }),
    'h',
    'expected an IDX images header of 16 bytes, got 5 bytes',
  );
});

test('extra trailing bytes are an error too', () => {
  const bytes = idxBytes([3], pattern(4));
  throwsDataset(
    () => parseIdx(bytes, 'l', { kind: 'labels' }),
    'l',
    'expected 11 bytes for 3 labels, got 12',
  );
});

test('wrong dimensions name the dimension, expected and received', () => {
  const bytes = idxBytes([2, 27, 28], pattern(2 * 27 * 28));
  throwsDataset(
    () => parseIdx(bytes, 'i', { kind: 'images', rows: 28, cols: 28 }),
    'i',
    'expected images rows 28, got 27 (header dims 2x27x28)',
  );
  throwsDataset(
    () => parseIdx(idxBytes([5], pattern(5)), 'l', { kind: 'labels', count: 6 }),
    'l',
    'expected labels count 6, got 5 (header dims 5)',
  );
  throwsDataset(
    () => parseIdx(idxBytes([0, 28, 28], pattern(0)), 'z', { kind: 'images' }),
    'z',
    'expected non-zero dimensions, got 0x28x28',
  );
});

test('corrupt gzip and missing files are DatasetErrors naming the file', async () => {
  const bad = Uint8Array.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.throws(
    () => parseIdx(bad, 'bad.gz', { kind: 'labels' }),
    (err: unknown) =>
      err instanceof DatasetError &&
      err.message.startsWith('bad.gz: not a readable gzip'),
  );
  await assert.rejects(
    readIdxFile(join(dir, 'absent.gz'), { kind: 'labels' }),
    (err: unknown) =>
      err instanceof DatasetError &&
      err.file === 'absent.gz' &&
      err.message.includes('(ENOENT)'),
  );
});
