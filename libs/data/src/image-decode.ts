import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetError } from './errors.js';

/** A decoded image: 8-bit RGB, row-major [height, width, 3]. */
export interface DecodedImage {
  width: number;
  height: number;
  rgb: Uint8Array;
  /** True when the file stores one grey channel (R = G = B in `rgb`). */
  grey: boolean;
}

export type ImageFormat = 'png' | 'jpeg';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * The format of image bytes by their signature; when the bytes carry neither
 * signature, by the file name's extension (.png, .jpg, .jpeg); else undefined.
 */
export function imageFormat(bytes: Uint8Array, file: string): ImageFormat | undefined {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  const ext = file.toLowerCase().split('.').pop();
  if (ext === 'png') return 'png';
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg';
  return undefined;
}

/**
 * Decodes a PNG (pngjs; 16-bit samples scaled to 8 bits) or a baseline or
 * progressive JPEG (jpeg-js, strict mode) to 8-bit RGB. Alpha is dropped,
 * not composited. Any decoder complaint becomes a DatasetError naming `file`.
 */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  const format = imageFormat(bytes, file);
  if (format === undefined) {
    throw new DatasetError(file, 'expected a PNG or JPEG image, got neither signature');
  }
  let image: DecodedImage;
  try {
    image = format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatasetError(
      file,
      `cannot decode as ${format.toUpperCase()}: ${reason}${truncationHint(bytes, format)}`,
    );
  }
  const { width, height, rgb } = image;
  if (!(width >= 1 && height >= 1 && rgb.length === width * height * 3)) {
    throw new DatasetError(
      file,
      `cannot decode as ${format.toUpperCase()}: decoder returned ${rgb.length} ` +
        `bytes for ${width}x${height} pixels`,
    );
  }
  return image;
}

/** A note when the bytes lack the format's closing marker, else ''. */
function truncationHint(bytes: Uint8Array, format: ImageFormat): string {
  const n = bytes.length;
  if (format === 'png') {
    // The last chunk is IEND: length 0, type "IEND", then its CRC.
    const iend = [0x49, 0x45, 0x4e, 0x44];
    const ends = n >= 12 && iend.every((b, i) => bytes[n - 8 + i] === b);
    return ends ? '' : ' (no IEND chunk at the end: truncated?)';
  }
  const ends = n >= 2 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9;
  return ends ? '' : ' (no end-of-image marker FF D9 at the end: truncated?)';
}

function decodePng(bytes: Uint8Array): DecodedImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  const { width, height, data } = png;
  if (data.length !== width * height * 4) {
    throw new Error(`got ${data.length} RGBA bytes for ${width}x${height} pixels`);
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < data.length; p += 4, q += 3) {
    rgb[q] = data[p];
    rgb[q + 1] = data[p + 1];
    rgb[q + 2] = data[p + 2];
  }
  // Palette images count as colour even when their palette is grey.
  return { width, height, rgb, grey: !png.color };
}

function decodeJpeg(bytes: Uint8Array): DecodedImage {
  const out = jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxResolutionInMP: 100,
    maxMemoryUsageInMB: 512,
  });
  return {
    width: out.width,
    height: out.height,
    rgb: out.data,
    grey: jpegComponents(bytes) === 1,
  };
}

/**
 * The number of colour components in a JPEG's frame header (SOF0..SOF15,
 * except DHT, JPG and DAC, which share the range), or undefined if no frame
 * header comes before the first scan.
 */
export function jpegComponents(bytes: Uint8Array): number | undefined {
  let pos = 2;
  while (pos + 3 < bytes.length) {
    if (bytes[pos] !== 0xff) return undefined;
    const marker = bytes[pos + 1];
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2; // markers without a length
      continue;
    }
    if (marker === 0xda) return undefined; // start of scan before any frame
    const length = (bytes[pos + 2] << 8) | bytes[pos + 3];
    const isFrame =
      marker >= 0xc0 &&
      marker <= 0xcf &&
      marker !== 0xc4 &&
      marker !== 0xc8 &&
      marker !== 0xcc;
    if (isFrame) return pos + 9 < bytes.length ? bytes[pos + 9] : undefined;
    pos += 2 + length;
  }
  return undefined;
}
