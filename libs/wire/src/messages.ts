/**
 * TypeScript shapes of the teacher.proto messages as @grpc/proto-loader
 * hands them over with the options in proto.ts: camelCase field names,
 * uint64 as number, enums as their names, bytes as Buffer, defaults filled
 * in (unset messages are null), and the `input` oneof named.
 */

export type DTypeName =
  | 'DTYPE_UNSPECIFIED'
  | 'DTYPE_FLOAT32'
  | 'DTYPE_FLOAT16'
  | 'DTYPE_UINT8';

export interface TensorMessage {
  /** An enum name; a number when the sender used a value this build does not know. */
  dtype: DTypeName | number;
  shape: number[];
  data: Uint8Array;
}

export interface MixSpecMessage {
  images: TensorMessage | null;
  partner: number[];
  lambda: number[];
  returnConstituents: boolean;
}

export interface RowsSpecMessage {
  dataset: string;
  rows: number[];
  partner: number[];
  lambda: number[];
  returnConstituents: boolean;
}

export interface SoftLabelsRequestMessage {
  requestId: number;
  model: string;
  images?: TensorMessage | null;
  mix?: MixSpecMessage | null;
  rows?: RowsSpecMessage | null;
  /** Which member of the `input` oneof is set (undefined: none). */
  input?: 'images' | 'mix' | 'rows';
  temperature: number;
  /** Per-request trace context (stream requests); empty when absent. */
  traceContext?: Record<string, string>;
}

export interface TimingsMessage {
  queueMs: number;
  inferenceMs: number;
  batchSize: number;
}

export interface RequestErrorMessage {
  code: number;
  message: string;
  field: string;
}

export interface SoftLabelsResponseMessage {
  requestId: number;
  model: string;
  modelVersion: string;
  logits: TensorMessage | null;
  probabilities: boolean;
  constituentLogits: TensorMessage | null;
  timings: TimingsMessage | null;
  error: RequestErrorMessage | null;
}

export interface HeldDatasetMessage {
  name: string;
  fingerprint: string;
  rows: number;
}

export interface DescribeRequestMessage {
  model: string;
}

export interface DescribeResponseMessage {
  model: string;
  modelVersion: string;
  architecture: string;
  parameters: number;
  inputShape: number[];
  acceptedDtypes: (DTypeName | number)[];
  normalisationMean: number[];
  normalisationStd: number[];
  classNames: string[];
  calibrationTemperature: number;
  backend: string;
  maxBatch: number;
  dataset: string;
  numClasses: number;
  maxMessageBytes: number;
  heldDatasets: HeldDatasetMessage[];
  queueLimit: number;
}
