import type { Dataset, DatasetSettings } from './dataset.js';
import { DatasetError } from './errors.js';
import { loadFashionMnist } from './fashion-mnist.js';

/** Reads a data set from a directory (undefined: the loader's default). */
export type DatasetLoader = (dir?: string) => Promise<Dataset>;

const loaders = new Map<string, DatasetLoader>();

/** Makes a data set loadable by name; a second registration replaces the first. */
export function registerDataset(name: string, loader: DatasetLoader): void {
  loaders.set(name, loader);
}

/** Names of the registered data sets, sorted. */
export function datasetNames(): string[] {
  return [...loaders.keys()].sort();
}

/** Loads a registered data set by name, from `dir` when given. */
export async function loadDataset(settings: DatasetSettings): Promise<Dataset> {
  const loader = loaders.get(settings.name);
  if (!loader) {
    throw new DatasetError(
      'dataset.name',
      `expected one of ${datasetNames().join(', ')}, got "${settings.name}"`,
    );
  }
  return loader(settings.dir);
}

registerDataset('fashion-mnist', (dir) => loadFashionMnist(dir));
