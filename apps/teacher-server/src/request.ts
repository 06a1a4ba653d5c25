import { status } from '@grpc/grpc-js';
import { normalisePixels, pixelTable } from '@vicinal/data';
import { mixImagesArray, mixPixelsNormalised } from '@vicinal/distillation';
import {
  decodeTensor,
  type MixSpecMessage,
  type RowsSpecMessage,
  type SoftLabelsRequestMessage,
  UndecodableMessage,
} from '@vicinal/wire';
import { TeacherRequestError } from './errors.js';
import type { TeacherMetadata } from './metadata.js';

/**
 * A data set split the server holds for "rows" requests: uint8 pixels
 * [rows, H, W, C] in the model's input shape.
 */
export interface HeldSplit {
  /** For people: e.g. "fashion-mnist/train". */
  name: string;
  /** splitFingerprint of the pixels; what requests name. */
  fingerprint: string;
  images: Uint8Array;
  rows: number;
}

/** What the server needs to know to check a request. */
export interface RequestLimits {
  metadata: TeacherMetadata;
  /** Most rows one request may have: the max batch, or the queue limit when smaller. */
  maxBatch: number;
  /** Held splits by fingerprint. */
  held: ReadonlyMap<string, HeldSplit>;
}

/** A checked request, turned into normalised float32 rows for the model. */
export interface PreparedRequest {
  /** B: rows of the answer. */
  rows: number;
  /**
   * Model input, row-major: the B images to label, followed by the B clean
   * images when constituent logits were asked for (2B rows then).
   */
  input: Float32Array;
  withConstituents: boolean;
  /**
   * `input` was made for this request alone (not a view of the request's
   * bytes), so it may be handed over to the model.
   */
  ownInput: boolean;
  /** > 0: answer with softmax(logits / temperature). */
  temperature: number;
}

/**
 * Throws INVALID_ARGUMENT naming the request when its bytes did not decode as
 * `message` (see `lenientRequests`).
 */
export function refuseUndecodable(request: unknown, message: string): void {
  if (request instanceof UndecodableMessage) {
    throw TeacherRequestError.invalid(
      'request',
      `a ${message} protobuf message`,
      `${request.bytes} bytes that do not decode (${request.reason})`,
    );
  }
}

/**
 * Checks a SoftLabels request against the served model and builds its model
 * input. Throws TeacherRequestError (INVALID_ARGUMENT naming the field with
 * expected vs received, or NOT_FOUND for another model).
 */
export function prepareRequest(
  request: SoftLabelsRequestMessage,
  limits: RequestLimits,
): PreparedRequest {
  const { metadata } = limits;
  refuseUndecodable(request, 'SoftLabelsRequest');
  checkModel(request.model, metadata);
  const temperature = request.temperature;
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw TeacherRequestError.invalid(
      'temperature',
      '0 (raw logits) or a finite value > 0',
      String(temperature),
    );
  }
  const [h, w, c] = metadata.inputShape;
  const expect = { shape: [null, h, w, c], maxBatch: limits.maxBatch } as const;
  if (request.input === 'images') {
    const images = decodeTensor(request.images, 'images', expect);
    const rows = images.shape[0];
    const input =
      images.dtype === 'uint8'
        ? normalisePixels(images.data, metadata.mean, metadata.std)
        : images.data;
    return {
      rows,
      input,
      withConstituents: false,
      ownInput: input !== images.data,
      temperature,
    };
  }
  if (request.input === 'mix' && request.mix) {
    return { ...prepareMix(request.mix, expect, metadata), temperature };
  }
  if (request.input === 'rows' && request.rows) {
    return { ...prepareRows(request.rows, limits), temperature };
  }
  throw TeacherRequestError.invalid('input', 'one of images, mix and rows', 'none');
}

/** Refuses requests naming a model this server does not serve. */
export function checkModel(model: string, metadata: TeacherMetadata): void {
  if (model !== '' && model !== metadata.model) {
    throw new TeacherRequestError(
      status.NOT_FOUND,
      `model: expected "${metadata.model}" (or empty for the default), got "${model}"`,
      'model',
    );
  }
}

/**
 * Mix on the teacher: normalise the clean uint8 images, then
 * mixed[i] = lambda[i] * x[i] + (1 - lambda[i]) * x[partner[i]].
 */
function prepareMix(
  mix: MixSpecMessage,
  expect: { shape: readonly (number | null)[]; maxBatch: number },
  metadata: TeacherMetadata,
): Omit<PreparedRequest, 'temperature'> {
  const images = decodeTensor(mix.images, 'mix.images', { ...expect, dtypes: ['uint8'] });
  if (images.dtype !== 'uint8')
    throw new Error('decodeTensor let a non-uint8 tensor through');
  const rows = images.shape[0];
  checkMixing('mix', 'mix.images', rows, mix.partner, mix.lambda);
  return mixedInput(images.data, rows, mix, metadata);
}

/**
 * Rows the server holds: gathers the named rows of a held split, then mixes
 * them as prepareMix does.
 */
function prepareRows(
  spec: RowsSpecMessage,
  limits: RequestLimits,
): Omit<PreparedRequest, 'temperature'> {
  const held = limits.held.get(spec.dataset);
  if (!held) {
    const names = [...limits.held.values()].map((h) => `${h.fingerprint} (${h.name})`);
    throw new TeacherRequestError(
      status.FAILED_PRECONDITION,
      `rows.dataset: expected a data set this server holds ` +
        `(${names.length > 0 ? names.join(', ') : 'it holds none'}), got "${spec.dataset}"; ` +
        'send the images instead (mix)',
      'rows.dataset',
    );
  }
  const rows = spec.rows.length;
  if (rows < 1 || rows > limits.maxBatch) {
    throw TeacherRequestError.invalid(
      'rows.rows',
      `1 to ${limits.maxBatch} row numbers`,
      `${rows}`,
    );
  }
  checkMixing('rows', 'rows.rows', rows, spec.partner, spec.lambda);
  const [h, w, c] = limits.metadata.inputShape;
  const pixels = h * w * c;
  const images = new Uint8Array(rows * pixels);
  for (let i = 0; i < rows; i++) {
    const row = spec.rows[i];
    if (!Number.isInteger(row) || row >= held.rows) {
      throw TeacherRequestError.invalid(
        'rows.rows',
        `row numbers < ${held.rows} (the rows of ${held.name})`,
        `${row} at row ${i}`,
      );
    }
    images.set(held.images.subarray(row * pixels, (row + 1) * pixels), i * pixels);
  }
  return mixedInput(images, rows, spec, limits.metadata);
}

/** Checks one partner (< rows) and one lambda (in [0, 1]) per row. */
function checkMixing(
  prefix: 'mix' | 'rows',
  rowsField: string,
  rows: number,
  partner: readonly number[],
  lambda: readonly number[],
): void {
  if (partner.length !== rows) {
    throw TeacherRequestError.invalid(
      `${prefix}.partner`,
      `${rows} indices (one per row of ${rowsField})`,
      `${partner.length}`,
    );
  }
  if (lambda.length !== rows) {
    throw TeacherRequestError.invalid(
      `${prefix}.lambda`,
      `${rows} values (one per row of ${rowsField})`,
      `${lambda.length}`,
    );
  }
  for (let i = 0; i < rows; i++) {
    if (!Number.isInteger(partner[i]) || partner[i] >= rows) {
      throw TeacherRequestError.invalid(
        `${prefix}.partner`,
        `row indices < ${rows}`,
        `${partner[i]} at row ${i}`,
      );
    }
    const l = lambda[i];
    if (!(l >= 0 && l <= 1)) {
      throw TeacherRequestError.invalid(
        `${prefix}.lambda`,
        'values in [0, 1]',
        `${l} at row ${i}`,
      );
    }
  }
}

/**
 * The model input of a mixed request: the mixed rows, then, when asked, the
 * clean rows (the checks are done).
 */
function mixedInput(
  pixelsU8: Uint8Array,
  rows: number,
  mix: {
    partner: readonly number[];
    lambda: readonly number[];
    returnConstituents: boolean;
  },
  metadata: TeacherMetadata,
): Omit<PreparedRequest, 'temperature'> {
  const pixels = pixelsU8.length / rows;
  const withConstituents = mix.returnConstituents;
  const input = new Float32Array((withConstituents ? 2 : 1) * rows * pixels);
  const mixed = input.subarray(0, rows * pixels);
  const partnerRows = Int32Array.from(mix.partner);
  const lambdas = Float32Array.from(mix.lambda);
  // The same float32 arithmetic the student's mixing does, so both build the
  // same batch.
  if (withConstituents) {
    // The clean normalised rows are model input too: the second half.
    const clean = input.subarray(rows * pixels);
    normalisePixels(pixelsU8, metadata.mean, metadata.std, clean);
    mixImagesArray(clean, partnerRows, lambdas, mixed);
  } else {
    const table = pixelTable(metadata.mean, metadata.std);
    mixPixelsNormalised(
      pixelsU8,
      table,
      metadata.mean.length,
      partnerRows,
      lambdas,
      mixed,
    );
  }
  return { rows, input, withConstituents, ownInput: true };
}
