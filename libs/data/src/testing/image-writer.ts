import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/**
 * PNG bytes of an image given as channels-last pixels with 1 (grey), 3 (RGB)
 * or 4 (RGBA) channels, stored as PNG colour type grey, RGB or RGBA.
 */
export function pngBytes(
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  pixels: Uint8Array,
): Uint8Array {
  const png = new PNG({ width, height });
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) {
      png.data[p * 4 + c] = pixels[p * channels + (channels === 1 ? 0 : c)];
    }
    png.data[p * 4 + 3] = channels === 4 ? pixels[p * 4 + 3] : 255;
  }
  const colorType = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  // A plain copy, so a test's slice() copies too (Buffer.slice is a view).
  return new Uint8Array(
    PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true }),
  );
}

/** JPEG bytes (quality 100, three components) of an RGB channels-last image. */
export function jpegBytes(width: number, height: number, rgb: Uint8Array): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    data.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
    data[p * 4 + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ width, height, data }, 100).data);
}

/** An RGB image of one colour. */
export function solid(width: number, height: number, rgb: [number, number, number]) {
  const out = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) out.set(rgb, p * 3);
  return out;
}
