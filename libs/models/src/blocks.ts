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

  /**
   * 3x3 'same' convolution (no bias: batchnorm follows), optionally 2x2 max
   * pooling, then batchnorm and ReLU. Pooling straight after the convolution
   * (max pooling commutes with ReLU) lets batchnorm and the pooling gradient
   * work on a quarter of the values.
   */
  convBlock(x: Node, name: string, filters: number, pool: boolean): Node {
    let y = tfl.layers
      .conv2d({
        name: `${name}_conv`,
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: tfl.initializers.heNormal({ seed: this.seedNext() }),
      })
      .apply(x) as Node;
    if (pool) y = this.pool(y, `${name}_pool`);
    // Momentum 0.9: the moving statistics settle within a few hundred steps,
    // which is all a short training run gives them.
    y = tfl.layers
      .batchNormalization({ name: `${name}_bn`, momentum: 0.9 })
      .apply(y) as Node;
    return tfl.layers
      .activation({ name: `${name}_relu`, activation: 'relu' })
      .apply(y) as Node;
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

  /** A k x k convolution without bias (batchnorm follows), He-initialised. */
  conv(
    x: Node,
    name: string,
    filters: number,
    kernelSize: number,
    strides: number,
  ): Node {
    return tfl.layers
      .conv2d({
        name,
        filters,
        kernelSize,
        strides,
        padding: 'same',
        useBias: false,
        kernelInitializer: tfl.initializers.heNormal({ seed: this.seedNext() }),
      })
      .apply(x) as Node;
  }

  /** Batchnorm (momentum 0.9, as in convBlock). */
  batchNorm(x: Node, name: string): Node {
    return tfl.layers.batchNormalization({ name, momentum: 0.9 }).apply(x) as Node;
  }

  relu(x: Node, name: string): Node {
    return tfl.layers.activation({ name, activation: 'relu' }).apply(x) as Node;
  }

  /** Element-wise sum of two maps of the same shape (a residual connection). */
  add(a: Node, b: Node, name: string): Node {
    return tfl.layers.add({ name }).apply([a, b]) as Node;
  }
}
