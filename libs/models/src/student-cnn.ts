import * as tfl from '@tensorflow/tfjs-layers';
import { LayerKit } from './blocks.js';
import type { ValidSpec } from './spec.js';

/** Registry name of the student. */
export const STUDENT_CNN = 'student-cnn';

/**
 * The student: three 3x3 conv blocks with 16, 32 and 64 channels (the first
 * two max-pooled 2x2), each with batchnorm and ReLU, then global average
 * pooling and a linear classifier. 24,282 weights for 1 input channel and
 * 10 classes (24,138 trainable); the count does not depend on image size.
 */
export function buildStudentCnn(spec: ValidSpec): tfl.LayersModel {
  const kit = new LayerKit(spec.seed);
  const input = tfl.input({ name: 'image', shape: spec.inputShape });
  let x = kit.convBlock(input, 'block1', 16, true);
  x = kit.convBlock(x, 'block2', 32, true);
  x = kit.convBlock(x, 'block3', 64, false);
  x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const logits = kit.dense(x, 'logits', spec.numClasses, 'linear');
  return tfl.model({ name: STUDENT_CNN, inputs: input, outputs: logits });
}
