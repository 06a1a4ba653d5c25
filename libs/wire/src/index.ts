export { FIELD_METADATA_KEY, fieldMetadata, TeacherCallError } from './call-error.js';
export { decodeDescription, type TeacherDescription } from './describe.js';
export { WireError } from './errors.js';
export {
  decodeFloat16,
  encodeFloat16,
  FLOAT16_MAX,
  fromFloat16Bits,
  toFloat16Bits,
} from './float16.js';
export { DEFAULT_SERVER_WINDOW_BYTES, widenServerWindow } from './flow-control.js';
export type {
  DescribeRequestMessage,
  DescribeResponseMessage,
  DTypeName,
  HeldDatasetMessage,
  MixSpecMessage,
  RequestErrorMessage,
  RowsSpecMessage,
  SoftLabelsRequestMessage,
  SoftLabelsResponseMessage,
  TensorMessage,
  TimingsMessage,
} from './messages.js';
export {
  lenientRequests,
  PROTO_LOADER_OPTIONS,
  PROTO_ROOT,
  TEACHER_PROTO,
  TEACHER_SERVICE,
  teacherMethod,
  teacherServiceDefinition,
  UndecodableMessage,
} from './proto.js';
export {
  decodeSoftLabelsResponse,
  encodeSoftLabelsQuery,
  type ImagesInput,
  type MixInput,
  type RowsInput,
  type SoftLabelsQuery,
  type SoftLabelsResult,
  type SoftLabelsTimings,
} from './soft-labels.js';
export { SoftLabelsStream } from './soft-labels-stream.js';
export {
  type CallOptions,
  type ServingStatus,
  TeacherClient,
  type TeacherClientOptions,
} from './teacher-client.js';
export {
  type DecodedTensor,
  DTYPES,
  type DType,
  decodeTensor,
  dtypeEnum,
  dtypeFromEnum,
  encodeTensor,
  type TensorExpectation,
} from './tensor-codec.js';
export {
  addressHost,
  type ClientTlsOptions,
  channelCredentials,
  checkPlaintextAllowed,
  InsecureTransportError,
  isLoopbackAddress,
  type Pem,
  type ServerTlsOptions,
  serverCredentials,
  TlsConfigError,
} from './transport-security.js';
