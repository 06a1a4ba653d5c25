import * as tfl from '@tensorflow/tfjs-layers';
import { layerSeed } from './seeds.js';

type Node = tfl.SymbolicTensor;

/**
 * Hands out deterministic initialisers and unique layer names for one model.
 * Every initialiser gets its own seed derived from the model seed.
 */
export class LayerKit {
  private next = 0;

  constructor(private readonly seed: number) {}

  private seedNext(): number {
    return layerSeed(this.seed, this.next++);
  }

  /** 3x3 'same' convolution (no bias: batchnorm follows), batchnorm, ReLU. */
  convBnRelu(x: Node, name: string, filters: number): Node {
    const conv = tfl.layers.conv2d({
      name: `${name}_conv`,
      filters,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      kernelInitializer: tfl.initializers.heNormal({ seed: this.seedNext() }),
    });
    // Momentum 0.9: the moving statistics settle within a few hundred steps,
    // which is all a short training run gives them.
    const bn = tfl.layers.batchNormalization({ name: `${name}_bn`, momentum: 0.9 });
    const relu = tfl.layers.activation({ name: `${name}_relu`, activation: 'relu' });
    return relu.apply(bn.apply(conv.apply(x))) as Node;
  }

  /** 2x2 max pooling with stride 2. */
  pool(x: Node, name: string): Node {
    return tfl.layers.maxPooling2d({ name, poolSize: 2, strides: 2 }).apply(x) as Node;
  }

  /** Dense layer; ReLU hidden layers use He, linear outputs Glorot initialisation. */
  dense(x: Node, name: string, units: number, activation: 'relu' | 'linear'): Node {
    const kernelInitializer =
      activation === 'relu'
        ? tfl.initializers.heNormal({ seed: this.seedNext() })
        : tfl.initializers.glorotUniform({ seed: this.seedNext() });
    return tfl.layers
      .dense({ name, units, activation, kernelInitializer })
      .apply(x) as Node;
  }
}
