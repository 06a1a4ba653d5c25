export { type Batch, batchesInOrder, stepsPerEpoch } from './batches.js';
export { evaluateModel, predictLogits } from './evaluate.js';
export { RemoteTeacher } from './remote-teacher.js';
export type { MixedBatchQuery, TeacherSource } from './teacher-source.js';
export {
  type EpochProgress,
  type ImageSpec,
  type TrainOptions,
  type TrainSummary,
  trainNetwork,
} from './train.js';
