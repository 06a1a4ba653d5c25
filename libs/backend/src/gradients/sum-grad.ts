import type * as tf from '@tensorflow/tfjs-core';
import { broadcastBack } from './broadcast-back.js';

/**
 * Gradient of Sum: dy repeated over the reduced axes (by Tile). Same values
 * as tfjs-core's own rule, without a full-size tensor of ones.
 */
export const sumGradConfig: tf.GradConfig = {
  kernelName: 'Sum',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { axis } = attrs as unknown as tf.SumAttrs;
    return { x: () => broadcastBack(dy as tf.Tensor, x, axis, 1) };
  },
};
