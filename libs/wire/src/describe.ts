import type { DescribeResponseMessage } from './messages.js';
import { type DType, dtypeFromEnum } from './tensor-codec.js';

/** What a teacher serves, as Describe reports it. */
export interface TeacherDescription {
  model: string;
  modelVersion: string;
  architecture: string;
  parameters: number;
  /** [H, W, C] of one input image. */
  inputShape: [number, number, number];
  acceptedDtypes: DType[];
  /** Inputs are (pixel / 255 - mean[c]) / std[c]. */
  mean: number[];
  std: number[];
  classNames: string[];
  numClasses: number;
  /** null when no calibration temperature was fitted. */
  calibrationTemperature: number | null;
  backend: string;
  maxBatch: number;
  maxMessageBytes: number;
  dataset: string;
  /** Data set splits the server holds for "rows" queries (none: pixels only). */
  heldDatasets: { name: string; fingerprint: string; rows: number }[];
  /** Rows that may wait for a batch at once (null: not reported, an older server). */
  queueLimit: number | null;
}

/** Unpacks a Describe response. */
export function decodeDescription(message: DescribeResponseMessage): TeacherDescription {
  const [h = 0, w = 0, c = 0] = message.inputShape;
  return {
    model: message.model,
    modelVersion: message.modelVersion,
    architecture: message.architecture,
    parameters: message.parameters,
    inputShape: [h, w, c],
    acceptedDtypes: message.acceptedDtypes
      .map((d) => dtypeFromEnum(d))
      .filter((d): d is DType => d !== null),
    mean: message.normalisationMean,
    std: message.normalisationStd,
    classNames: message.classNames,
    numClasses: message.numClasses || message.classNames.length,
    calibrationTemperature: message.calibrationTemperature || null,
    backend: message.backend,
    maxBatch: message.maxBatch,
    maxMessageBytes: message.maxMessageBytes,
    dataset: message.dataset,
    heldDatasets: (message.heldDatasets ?? []).map((h) => ({
      name: h.name,
      fingerprint: h.fingerprint,
      rows: h.rows,
    })),
    queueLimit: message.queueLimit || null,
  };
}
