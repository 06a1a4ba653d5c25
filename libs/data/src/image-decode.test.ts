import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatasetError } from './errors.js';
import { decodeImage, imageFormat, jpegComponents } from './image-decode.js';
import { jpegBytes, pngBytes, solid } from './testing/image-writer.js';

function rejects(fn: () => unknown, file: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${err}`);
    assert.equal(err.file, file);
    assert.match(err.message, pattern);
    return true;
  });
}

test('RGB, RGBA and grey PNGs decode to RGB; alpha is dropped', () => {
  const rgb = Uint8Array.from([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120]);
  const fromRgb = decodeImage(pngBytes(2, 2, 3, rgb), 'a.png');
  assert.deepEqual(fromRgb, { width: 2, height: 2, rgb, grey: false });
  const rgba = Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 128, 7, 8, 9, 255]);
  const fromRgba = decodeImage(pngBytes(3, 1, 4, rgba), 'b.png');
  assert.deepEqual(fromRgba.rgb, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]));
  assert.equal(fromRgba.grey, false);
  const fromGrey = decodeImage(
    pngBytes(3, 1, 1, Uint8Array.from([0, 128, 255])),
    'c.png',
  );
  assert.deepEqual(
    fromGrey.rgb,
    Uint8Array.from([0, 0, 0, 128, 128, 128, 255, 255, 255]),
  );
  assert.equal(fromGrey.grey, true);
});

test('a JPEG decodes close to its source colours', () => {
  const bytes = jpegBytes(8, 8, solid(8, 8, [200, 40, 90]));
  assert.equal(imageFormat(bytes, 'x.png'), 'jpeg');
  assert.equal(jpegComponents(bytes), 3);
  const image = decodeImage(bytes, 'x.jpg');
  assert.equal(image.width, 8);
  assert.equal(image.height, 8);
  assert.equal(image.grey, false);
  for (let p = 0; p < 64; p++) {
    for (const [c, want] of [200, 40, 90].entries()) {
      assert.ok(Math.abs(image.rgb[p * 3 + c] - want) <= 3, `pixel ${p} channel ${c}`);
    }
  }
});

test('the frame header gives the JPEG component count', () => {
  // SOI, an APP0 segment of 4 bytes, then SOF0 with 1 component.
  const grey = Uint8Array.from([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00,
    0x10, 0x00, 0x10, 0x01, 0x01, 0x11, 0x00,
  ]);
  assert.equal(jpegComponents(grey), 1);
  // A scan before any frame header, or junk, gives no answer.
  assert.equal(
    jpegComponents(Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0, 2, 0])),
    undefined,
  );
  assert.equal(
    jpegComponents(Uint8Array.from([0xff, 0xd8, 0x12, 0x34, 0, 0])),
    undefined,
  );
});

test('corrupt and truncated files name the file and the decoder complaint', () => {
  const png = pngBytes(4, 4, 3, solid(4, 4, [1, 2, 3]));
  rejects(
    () => decodeImage(png.subarray(0, png.length - 20), 'cut.png'),
    'cut.png',
    /^cut\.png: cannot decode as PNG: \S.* \(no IEND chunk at the end: truncated\?\)$/,
  );
  const flipped = png.slice();
  flipped[40] ^= 0xff;
  rejects(
    () => decodeImage(flipped, 'flip.png'),
    'flip.png',
    /cannot decode as PNG: \S.*[^)]$/,
  );
  const jpeg = jpegBytes(16, 16, solid(16, 16, [9, 9, 9]));
  rejects(
    () => decodeImage(jpeg.subarray(0, jpeg.length - 40), 'cut.jpg'),
    'cut.jpg',
    /^cut\.jpg: cannot decode as JPEG: \S.* \(no end-of-image marker FF D9 at the end: truncated\?\)$/,
  );
  rejects(
    () => decodeImage(new TextEncoder().encode('hello'), 'note.jpeg'),
    'note.jpeg',
    /cannot decode as JPEG/,
  );
  rejects(
    () => decodeImage(new Uint8Array(10), 'blob.gif'),
    'blob.gif',
    /^blob\.gif: expected a PNG or JPEG image, got neither signature$/,
  );
});
