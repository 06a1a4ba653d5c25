import * as tfl from '@tensorflow/tfjs-layers';
import { LayerKit } from './blocks.js';
import type { ValidSpec } from './spec.js';

/** Registry name of the teacher. */
export const TEACHER_CNN = 'teacher-cnn';

/**
 * The teacher: two 3x3 conv blocks with 32 and 64 channels, each max-pooled
 * 2x2 and batch-normalised, then a 256-unit ReLU layer on the flattened map
 * and a linear classifier. At 28x28x1 and 10 classes: 824,746 weights, 34x
 * the student. Most capacity sits in the dense layer, which costs little to
 * train; two conv layers keep a training step on wasm short.
 */
export function buildTeacherCnn(spec: ValidSpec): tfl.LayersModel {
  const kit = new LayerKit(spec.seed);
  const input = tfl.input({ name: 'image', shape: spec.inputShape });
  let x = kit.convBlock(input, 'block1', 32, true);
  x = kit.convBlock(x, 'block2', 64, true);
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  x = kit.dense(x, 'hidden', 256, 'relu');
  const logits = kit.dense(x, 'logits', spec.numClasses, 'linear');
  return tfl.model({ name: TEACHER_CNN, inputs: input, outputs: logits });
}
