export {
  ARTIFACT_MAGIC,
  ARTIFACT_VERSION,
  decodeArtifact,
  describeBytes,
  encodeArtifact,
  packArtifact,
  unpackArtifact,
} from './artifact.js';
export { ArtifactError, ModelRegistryError, ModelSpecError } from './errors.js';
export { countParameters } from './parameters.js';
export { buildModel, listModels, registerModel } from './registry.js';
export { buildResNet, RESNETS, type ResNetShape } from './resnet.js';
export {
  loadModelFromBytes,
  type ModelBytes,
  saveModelToBytes,
  WEIGHTS_FILE,
} from './serialization.js';
export type { ModelBuilder, ModelSpec, ValidSpec } from './spec.js';
export { buildStudentCnn, STUDENT_CNN } from './student-cnn.js';
export { buildTeacherCnn, TEACHER_CNN } from './teacher-cnn.js';
export { WIDE_RESNETS } from './wide-resnet.js';
