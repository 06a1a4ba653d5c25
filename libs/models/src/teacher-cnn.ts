import * as tfl from '@tensorflow/tfjs-layers';
import { LayerKit } from './blocks.js';
import type { ValidSpec } from './spec.js';

/** Registry name of the teacher. */
export const TEACHER_CNN = 'teacher-cnn';

/**
 * The teacher: conv-batchnorm-ReLU blocks with 32, 64 and 128 channels, each
 * followed by 2x2 max pooling, then a 256-unit ReLU layer on the flattened
 * 3x3x128 map and a linear classifier: about 391k parameters at 28x28x1,
 * 16x the student. Capacity sits mostly in the dense layer, which is cheap
 * to train; the convolutions run at 28x28, 14x14 and 7x7.
 */
export function buildTeacherCnn(spec: ValidSpec): tfl.LayersModel {
  const kit = new LayerKit(spec.seed);
  const input = tfl.input({ name: 'image', shape: spec.inputShape });
  let x = kit.convBnRelu(input, 'block1', 32);
  x = kit.pool(x, 'pool1');
  x = kit.convBnRelu(x, 'block2', 64);
  x = kit.pool(x, 'pool2');
  x = kit.convBnRelu(x, 'block3', 128);
  x = kit.pool(x, 'pool3');
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  x = kit.dense(x, 'hidden', 256, 'relu');
  const logits = kit.dense(x, 'logits', spec.numClasses, 'linear');
  return tfl.model({ name: TEACHER_CNN, inputs: input, outputs: logits });
}
