import { WireError } from './errors.js';
import type {
  SoftLabelsRequestMessage,
  SoftLabelsResponseMessage,
  TensorMessage,
} from './messages.js';
import { type DType, decodeTensor, encodeTensor } from './tensor-codec.js';

/** Images [B,H,W,C] sent as they are (already mixed and, for floats, normalised). */
export interface ImagesInput {
  data: Float32Array | Uint8Array;
  shape: readonly number[];
  /** Wire type; defaults to the array's type. float16 needs Float32Array data. */
  dtype?: DType;
}

/** "Mix on the teacher": clean uint8 images, each row's partner and lambda. */
export interface MixInput {
  images: Uint8Array;
  shape: readonly number[];
  partner: ArrayLike<number>;
  lambda: ArrayLike<number>;
  /** Also return the teacher's logits on the clean images. */
  returnConstituents?: boolean;
}

/**
 * "Rows the teacher holds": row numbers in a data set split the server
 * loaded itself (its Describe lists the split's fingerprint), mixed on the
 * server as `mix` would be. Only the row numbers travel.
 */
export interface RowsInput {
  /** The split's fingerprint, as the server's Describe lists it. */
  dataset: string;
  rows: ArrayLike<number>;
  partner: ArrayLike<number>;
  lambda: ArrayLike<number>;
  /** Also return the teacher's logits on the clean images. */
  returnConstituents?: boolean;
}

/** One soft-label query: exactly one of `images`, `mix` and `rows`. */
export interface SoftLabelsQuery {
  /** Echoed back; a stream assigns one when absent. */
  requestId?: number;
  /** Empty or absent: the server's default model. */
  model?: string;
  images?: ImagesInput;
  mix?: MixInput;
  rows?: RowsInput;
  /** > 0: the server returns softmax(logits / temperature) instead of logits. */
  temperature?: number;
  /** Trace context headers of this request (traceparent, tracestate). */
  traceContext?: Record<string, string>;
}

export interface SoftLabelsTimings {
  queueMs: number;
  inferenceMs: number;
  /** Rows in the coalesced batch this request joined. */
  batchSize: number;
}

export interface SoftLabelsResult {
  requestId: number;
  model: string;
  modelVersion: string;
  /** float32 [B,K], row-major: logits, or probabilities when asked. */
  logits: Float32Array;
  shape: [number, number];
  probabilities: boolean;
  /** float32 [B,K] logits on the clean images, when a mix request asked. */
  constituentLogits: Float32Array | null;
  timings: SoftLabelsTimings;
}

/**
 * The request message for a query, and its batch size B. Checks what can be
 * checked without the server: one input, matching lengths.
 */
export function encodeSoftLabelsQuery(
  query: SoftLabelsQuery,
  requestId: number,
): { message: SoftLabelsRequestMessage; rows: number } {
  const base = {
    requestId,
    model: query.model ?? '',
    temperature: query.temperature ?? 0,
    traceContext: query.traceContext ?? {},
  };
  const inputs = [query.images, query.mix, query.rows].filter((i) => i !== undefined);
  if (inputs.length !== 1) {
    throw new WireError(
      'input',
      'exactly one of images, mix and rows',
      inputs.length === 0 ? 'none' : `${inputs.length}`,
    );
  }
  if (query.images) {
    const { data, shape, dtype } = query.images;
    const images = encodeTensor(data, shape, dtype);
    return { message: { ...base, images }, rows: shape[0] ?? 0 };
  }
  if (query.rows) {
    const spec = query.rows;
    const rows = spec.rows.length;
    checkLengths(rows, [
      ['rows.partner', spec.partner],
      ['rows.lambda', spec.lambda],
    ]);
    return {
      message: {
        ...base,
        rows: {
          dataset: spec.dataset,
          rows: Array.from(spec.rows),
          partner: Array.from(spec.partner),
          lambda: Array.from(spec.lambda),
          returnConstituents: spec.returnConstituents ?? false,
        },
      },
      rows,
    };
  }
  const mix = query.mix!;
  const rows = mix.shape[0] ?? 0;
  checkLengths(rows, [
    ['mix.partner', mix.partner],
    ['mix.lambda', mix.lambda],
  ]);
  const images: TensorMessage = encodeTensor(mix.images, mix.shape, 'uint8');
  return {
    message: {
      ...base,
      mix: {
        images,
        partner: Array.from(mix.partner),
        lambda: Array.from(mix.lambda),
        returnConstituents: mix.returnConstituents ?? false,
      },
    },
    rows,
  };
}

/** Throws a WireError naming the first of `fields` without one value per row. */
function checkLengths(rows: number, fields: [string, ArrayLike<number>][]): void {
  for (const [name, values] of fields) {
    if (values.length !== rows) {
      throw new WireError(name, `${rows} values (one per row)`, `${values.length}`);
    }
  }
}

/**
 * Checks a response against the request it answers (B rows) and unpacks the
 * logits. A response that breaks the contract is a WireError.
 */
export function decodeSoftLabelsResponse(
  message: SoftLabelsResponseMessage,
  rows: number,
  wantConstituents = false,
): SoftLabelsResult {
  const logits = decodeTensor(message.logits, 'logits', {
    dtypes: ['float32'],
    shape: [rows, null],
  });
  const k = logits.shape[1];
  let constituentLogits: Float32Array | null = null;
  if (wantConstituents || message.constituentLogits) {
    constituentLogits = decodeTensor(message.constituentLogits, 'constituent_logits', {
      dtypes: ['float32'],
      shape: [rows, k],
    }).data as Float32Array;
  }
  const timings = message.timings ?? { queueMs: 0, inferenceMs: 0, batchSize: 0 };
  return {
    requestId: message.requestId,
    model: message.model,
    modelVersion: message.modelVersion,
    logits: logits.data as Float32Array,
    shape: [rows, k],
    probabilities: message.probabilities,
    constituentLogits,
    timings: {
      queueMs: timings.queueMs,
      inferenceMs: timings.inferenceMs,
      batchSize: timings.batchSize,
    },
  };
}
