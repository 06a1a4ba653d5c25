import { initBackend } from '@vicinal/backend';
import { type ImageSplit, loadDataset, subset } from '@vicinal/data';
import type { TrainOptions } from './train.js';

/** For tests: a seeded subset of real Fashion-MNIST and its image spec, on wasm. */
export async function fashionMnistSubset(
  count: number,
  seed: number,
): Promise<{ train: ImageSplit; spec: TrainOptions['spec'] }> {
  await initBackend('wasm');
  const data = await loadDataset({ name: 'fashion-mnist' });
  return {
    train: subset(data.train, count, seed),
    spec: { shape: data.shape, numClasses: 10, mean: data.mean, std: data.std },
  };
}
