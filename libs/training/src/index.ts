export {
  type AnalyseVicinalOptions,
  analyseVicinal,
  type VicinalTeacher,
  type VicinalTeacherLogits,
} from './analyse.js';
export { type Batch, batchesInOrder, stepsPerEpoch } from './batches.js';
export {
  captureCheckpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  restoreCheckpoint,
  type TrainingCheckpoint,
} from './checkpoint.js';
export {
  evaluateModel,
  type ModelEvaluation,
  predictLogits,
  storedMetrics,
} from './evaluate.js';
export {
  type FailoverOptions,
  type FailoverStats,
  FailoverTeacher,
  type TeacherConnector,
  type TeacherResolver,
  TeacherUnavailableError,
} from './failover-teacher.js';
export { InProcessTeacher, type InProcessTeacherOptions } from './in-process-teacher.js';
export { type QueryForm, RemoteTeacher } from './remote-teacher.js';
export type { MixedBatchQuery, TeacherSource } from './teacher-source.js';
export { type HeldOutTemperature, heldOutTemperature } from './temperature.js';
export {
  type EpochProgress,
  epochSeed,
  type ImageSpec,
  type TrainOptions,
  type TrainSummary,
  trainNetwork,
} from './train.js';
