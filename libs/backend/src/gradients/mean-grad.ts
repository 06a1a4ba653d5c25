import * as tf from '@tensorflow/tfjs-core';
import { broadcastBack } from './broadcast-back.js';

/**
 * Gradient of Mean: dy / n repeated over the reduced axes (by Tile). Same
 * values as tfjs-core's own rule, without a full-size tensor of ones.
 */
export const meanGradConfig: tf.GradConfig = {
  kernelName: 'Mean',
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const { axis } = attrs as unknown as tf.MeanAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const n = axes.reduce((p, a) => p * x.shape[a], 1);
    return { x: () => broadcastBack(dy as tf.Tensor, x, axes, 1 / n) };
  },
};
