export {
  BatcherError,
  type BatcherErrorReason,
  type BatcherOptions,
  type BatcherStats,
  type BatchInfer,
  type BatchResult,
  DynamicBatcher,
} from './batcher.js';
export { TeacherRequestError, toRequestError } from './errors.js';
export { tuneServingHeap } from './heap.js';
export {
  type InferencePlace,
  type InferenceThread,
  type InferenceThreadOptions,
  loadTeacherRuntime,
  startInferenceThread,
  type TeacherRuntime,
} from './inference-thread.js';
export { checkMetadata, type TeacherMetadata } from './metadata.js';
export {
  checkModel,
  type HeldSplit,
  type PreparedRequest,
  prepareRequest,
  type RequestLimits,
} from './request.js';
export {
  type InferFunction,
  type PredictingModel,
  type TeacherModel,
  toInferFunction,
} from './runtime.js';
export {
  startTeacherServer,
  type TeacherServer,
  type TeacherServerOptions,
  type TeacherServerStats,
} from './server.js';
export { softmaxRows } from './softmax.js';
