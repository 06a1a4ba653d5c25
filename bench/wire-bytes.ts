import {
  encodeSoftLabelsQuery,
  encodeTensor,
  type SoftLabelsQuery,
  type SoftLabelsRequestMessage,
  type SoftLabelsResponseMessage,
  teacherMethod,
} from '@vicinal/wire';

/**
 * How a student can send a batch to a teacher server: mixed images as float32
 * or float16, clean uint8 images mixed on the teacher, or only their row
 * numbers in a data set split the teacher holds ("rows").
 */
export const REQUEST_MODES = ['float32', 'float16', 'uint8-mix', 'rows'] as const;
export type RequestMode = (typeof REQUEST_MODES)[number];

/** Bytes of one serialised SoftLabels request (and its response) of B rows. */
export interface WireSize {
  mode: RequestMode;
  batch: number;
  shape: [number, number, number];
  /** Serialised protobuf request, without gRPC's 5-byte message prefix. */
  requestBytes: number;
  requestBytesPerSample: number;
  /** Serialised response carrying [B,K] float32 logits and timings. */
  responseBytes: number;
}

/** One batch to encode: clean uint8 images, their rows in a split, and their mixing. */
export interface SampleBatch {
  images: Uint8Array;
  shape: [number, number, number, number];
  partner: Int32Array;
  lambda: Float32Array;
  /** The images' row numbers in a held split, and its fingerprint. */
  rows: Uint32Array;
  dataset: string;
}

/**
 * The request a student would send for `batch` in `mode`: the mixed,
 * normalised images as float32 or float16 tensors, the clean uint8 images
 * with partner and lambda ("mix on the teacher"), or their row numbers.
 */
export function queryFor(
  mode: RequestMode,
  batch: SampleBatch,
  mixed: Float32Array,
): SoftLabelsQuery {
  if (mode === 'uint8-mix') {
    const { images, shape, partner, lambda } = batch;
    return { model: 'teacher', mix: { images, shape, partner, lambda } };
  }
  if (mode === 'rows') {
    const { rows, dataset, partner, lambda } = batch;
    return { model: 'teacher', rows: { dataset, rows, partner, lambda } };
  }
  return {
    model: 'teacher',
    images: { data: mixed, shape: batch.shape, dtype: mode },
  };
}

/**
 * Serialised sizes, measured with the request and response serialisers the
 * gRPC client and server use (proto-loader's), so every field and tag counts.
 */
export function measureWireSize(
  mode: RequestMode,
  batch: SampleBatch,
  mixed: Float32Array,
  numClasses: number,
): WireSize {
  const method = teacherMethod<SoftLabelsRequestMessage, SoftLabelsResponseMessage>(
    'SoftLabels',
  );
  const { message, rows } = encodeSoftLabelsQuery(queryFor(mode, batch, mixed), 1);
  const requestBytes = method.requestSerialize(message).length;
  const response: SoftLabelsResponseMessage = {
    requestId: 1,
    model: 'teacher',
    modelVersion: 'v1',
    logits: encodeTensor(new Float32Array(rows * numClasses), [rows, numClasses]),
    probabilities: false,
    constituentLogits: null,
    timings: { queueMs: 1.5, inferenceMs: 20.25, batchSize: rows },
    error: null,
  };
  const [, h, w, c] = batch.shape;
  return {
    mode,
    batch: rows,
    shape: [h, w, c],
    requestBytes,
    requestBytesPerSample: requestBytes / rows,
    responseBytes: method.responseSerialize(response).length,
  };
}
