import type * as tfl from '@tensorflow/tfjs-layers';

/**
 * Number of scalar weights in a model. By default every weight, including
 * non-trainable ones (batchnorm moving statistics), as Keras' countParams;
 * `trainableOnly` counts what the optimiser updates.
 */
export function countParameters(
  model: tfl.LayersModel,
  options: { trainableOnly?: boolean } = {},
): number {
  const weights = options.trainableOnly ? model.trainableWeights : model.weights;
  let total = 0;
  for (const w of weights) total += w.shape.reduce<number>((a, d) => a * (d ?? 0), 1);
  return total;
}
