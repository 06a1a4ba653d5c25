export { type FusedLossInputs, fusedBlendedLoss } from './fused-loss.js';
export { kdLoss } from './kd-loss.js';
export { kdLossStdNormalised, STD_EPSILON } from './kd-std.js';
export { kdLossZscore, ZSCORE_EPSILON } from './kd-zscore.js';
export { klDivergenceFromLogits } from './kl-divergence.js';
export {
  type BuiltInLossName,
  type DistillationLoss,
  distillationLoss,
  distillationLossNames,
  registerDistillationLoss,
  UnknownLossError,
} from './loss-registry.js';
export { type BlendedLossInputs, blendedLoss, crossEntropyMixed } from './losses.js';
export {
  type Mixing,
  type MixingOptions,
  mixedHardLabels,
  mixedHardLabelsArray,
  mixImages,
  mixImagesArray,
  mixPixelsNormalised,
  sampleMixing,
  validateMixing,
} from './mixup.js';
export { createRandom, type Random } from './random.js';
