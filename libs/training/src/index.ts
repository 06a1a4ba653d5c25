export { batchesInOrder, stepsPerEpoch, type Batch } from './batches.js';
export {
  trainNetwork,
  type EpochProgress,
  type ImageSpec,
  type TrainOptions,
  type TrainSummary,
} from './train.js';
export { evaluateModel, predictLogits } from './evaluate.js';
export type { MixedBatchQuery, TeacherSource } from './teacher-source.js';
export { RemoteTeacher } from './remote-teacher.js';
