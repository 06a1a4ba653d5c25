import * as tfl from '@tensorflow/tfjs-layers';
import { LayerKit } from './blocks.js';
import type { ValidSpec } from './spec.js';

/** Registry name of the student. */
export const STUDENT_CNN = 'student-cnn';

/**
 * The student: three conv-batchnorm-ReLU blocks (16, 32, 64 channels) with
 * 2x2 max pooling after the first two, global average pooling and a linear
 * classifier. About 24k parameters at 28x28x1 / 10 classes (the count does
 * not depend on the image size). Pooling early keeps the expensive layers
 * at 14x14 and 7x7.
 */
export function buildStudentCnn(spec: ValidSpec): tfl.LayersModel {
  const kit = new LayerKit(spec.seed);
  const input = tfl.input({ name: 'image', shape: spec.inputShape });
  let x = kit.convBnRelu(input, 'block1', 16);
  x = kit.pool(x, 'pool1');
  x = kit.convBnRelu(x, 'block2', 32);
  x = kit.pool(x, 'pool2');
  x = kit.convBnRelu(x, 'block3', 64);
  x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
  const logits = kit.dense(x, 'logits', spec.numClasses, 'linear');
  return tfl.model({ name: STUDENT_CNN, inputs: input, outputs: logits });
}
