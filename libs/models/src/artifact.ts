import type * as tfl from '@tensorflow/tfjs-layers';
import { crc32 } from './crc32.js';
import { ArtifactError } from './errors.js';
import {
  loadModelFromBytes,
  type ModelBytes,
  saveModelToBytes,
} from './serialization.js';

/**
 * The single-buffer model artifact:
 *
 *   bytes 0..3   "VCNL"
 *   bytes 4..7   header length H, uint32 little-endian
 *   next H       header, UTF-8 JSON: {format, version, weightsBytes,
 *                weightsCrc32, model} where model is the tfjs model.json
 *   rest         the weights (exactly weightsBytes of them)
 */
export const ARTIFACT_MAGIC = 'VCNL';
export const ARTIFACT_VERSION = 1;
const FORMAT = 'vicinal-model';
const PREFIX = 8;

interface Header {
  format: string;
  version: number;
  weightsBytes: number;
  weightsCrc32: number;
  model: unknown;
}

/** Packs model bytes into one artifact buffer. */
export function packArtifact(bytes: ModelBytes): Uint8Array {
  let model: unknown;
  try {
    model = JSON.parse(bytes.modelJson);
  } catch (err) {
    throw new ArtifactError(`modelJson: not valid JSON (${(err as Error).message})`);
  }
  const header: Header = {
    format: FORMAT,
    version: ARTIFACT_VERSION,
    weightsBytes: bytes.weights.byteLength,
    weightsCrc32: crc32(bytes.weights),
    model,
  };
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(PREFIX + head.length + bytes.weights.byteLength);
  out.set(new TextEncoder().encode(ARTIFACT_MAGIC), 0);
  new DataView(out.buffer).setUint32(4, head.length, true);
  out.set(head, PREFIX);
  out.set(bytes.weights, PREFIX + head.length);
  return out;
}

/**
 * Splits an artifact back into model bytes, checking magic, version, lengths
 * and the weights checksum. Throws ArtifactError saying what was expected
 * and what arrived (e.g. for a truncated buffer, both byte counts).
 */
export function unpackArtifact(buffer: Uint8Array): ModelBytes {
  if (!(buffer instanceof Uint8Array)) {
    throw new ArtifactError(`artifact: expected a Uint8Array, got ${describe(buffer)}`);
  }
  if (buffer.byteLength < PREFIX) {
    throw new ArtifactError(
      `artifact: truncated, expected at least ${PREFIX} bytes (magic and header length), ` +
        `got ${buffer.byteLength}`,
    );
  }
  const magic = buffer.subarray(0, 4);
  if (String.fromCharCode(...magic) !== ARTIFACT_MAGIC) {
    throw new ArtifactError(
      `artifact: expected magic "${ARTIFACT_MAGIC}", got ${describeBytes(magic)}`,
    );
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const headerBytes = view.getUint32(4, true);
  if (buffer.byteLength < PREFIX + headerBytes) {
    throw new ArtifactError(
      `artifact: truncated, header needs ${PREFIX + headerBytes} bytes, ` +
        `got ${buffer.byteLength}`,
    );
  }
  const header = parseHeader(buffer.subarray(PREFIX, PREFIX + headerBytes));
  const total = PREFIX + headerBytes + header.weightsBytes;
  if (buffer.byteLength !== total) {
    throw new ArtifactError(
      `artifact: ${buffer.byteLength < total ? 'truncated' : 'trailing bytes'}, ` +
        `expected ${total} bytes (${header.weightsBytes} of weights), ` +
        `got ${buffer.byteLength}`,
    );
  }
  const weights = buffer.slice(PREFIX + headerBytes);
  const crc = crc32(weights);
  if (crc !== header.weightsCrc32) {
    throw new ArtifactError(
      `artifact: weights checksum mismatch, expected crc32 ${header.weightsCrc32}, ` +
        `got ${crc} (corrupted)`,
    );
  }
  return { modelJson: JSON.stringify(header.model), weights };
}

/** Serializes a model (or ready model bytes) into one artifact buffer. */
export async function encodeArtifact(
  model: tfl.LayersModel | ModelBytes,
): Promise<Uint8Array> {
  const bytes = isModelBytes(model) ? model : await saveModelToBytes(model);
  return packArtifact(bytes);
}

/** Validates an artifact buffer and loads the model it holds. */
export async function decodeArtifact(buffer: Uint8Array): Promise<tfl.LayersModel> {
  return loadModelFromBytes(unpackArtifact(buffer));
}

function parseHeader(bytes: Uint8Array): Header {
  let header: Partial<Header>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ArtifactError(
      `artifact header: not valid UTF-8 JSON (${(err as Error).message})`,
    );
  }
  if (!header || typeof header !== 'object' || header.format !== FORMAT) {
    throw new ArtifactError(
      `artifact header: expected format "${FORMAT}", got ${describe(header?.format)}`,
    );
  }
  if (header.version !== ARTIFACT_VERSION) {
    throw new ArtifactError(
      `artifact header: expected version ${ARTIFACT_VERSION}, ` +
        `got ${describe(header.version)}`,
    );
  }
  if (!Number.isSafeInteger(header.weightsBytes) || (header.weightsBytes as number) < 0) {
    throw new ArtifactError(
      'artifact header: weightsBytes expected a byte count, ' +
        `got ${describe(header.weightsBytes)}`,
    );
  }
  if (!Number.isInteger(header.weightsCrc32)) {
    throw new ArtifactError(
      'artifact header: weightsCrc32 expected an integer, ' +
        `got ${describe(header.weightsCrc32)}`,
    );
  }
  if (!header.model || typeof header.model !== 'object') {
    throw new ArtifactError('artifact header: model expected a tfjs model.json object');
  }
  return header as Header;
}

function isModelBytes(x: tfl.LayersModel | ModelBytes): x is ModelBytes {
  return (
    typeof (x as ModelBytes).modelJson === 'string' &&
    (x as ModelBytes).weights instanceof Uint8Array
  );
}

/**
 * Bytes for a message: as a quoted string when all are printable ASCII, else
 * in hex (a corrupt or foreign file would otherwise print raw binary).
 */
export function describeBytes(bytes: Uint8Array): string {
  if (bytes.every((b) => b >= 0x20 && b < 0x7f)) {
    return JSON.stringify(String.fromCharCode(...bytes));
  }
  return `bytes ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')} (hex)`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return JSON.stringify(value);
}
