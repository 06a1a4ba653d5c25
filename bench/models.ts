import type * as tfl from '@tensorflow/tfjs-layers';
import { buildModel } from '@vicinal/models';

/** A model the bench builds: architecture, input geometry and normalisation. */
export interface ModelSettings {
  architecture: string;
  shape: [number, number, number];
  numClasses: number;
  mean: number[];
  std: number[];
  seed: number;
}

/** Fashion-MNIST's geometry and normalisation (ARCHITECTURE.md). */
export const FASHION_MNIST = {
  shape: [28, 28, 1] as [number, number, number],
  numClasses: 10,
  mean: [0.286],
  std: [0.353],
};

/** Settings of a model on Fashion-MNIST-shaped input. */
export function fashionMnistModel(architecture: string, seed: number): ModelSettings {
  return {
    architecture,
    shape: [...FASHION_MNIST.shape],
    numClasses: FASHION_MNIST.numClasses,
    mean: [...FASHION_MNIST.mean],
    std: [...FASHION_MNIST.std],
    seed,
  };
}

/** Builds the (randomly initialised, seeded) model the settings describe. */
export function buildBenchModel(settings: ModelSettings): tfl.LayersModel {
  return buildModel(settings.architecture, {
    inputShape: settings.shape,
    numClasses: settings.numClasses,
    seed: settings.seed,
  });
}
