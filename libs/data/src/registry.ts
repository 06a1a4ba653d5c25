import { loadCifar10, loadCifar100 } from './cifar.js';
import type { Dataset, DatasetOptions, DatasetSettings } from './dataset.js';
import { DatasetError } from './errors.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { splitFingerprint } from './fingerprint.js';
import { loadImageFolder } from './image-folder.js';

/**
 * Reads a data set from a directory (undefined: the loader's default), with
 * the options it understands (it ignores the others).
 */
export type DatasetLoader = (dir?: string, options?: DatasetOptions) => Promise<Dataset>;

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
export async function loadDataset(
  settings: DatasetSettings,
): Promise<Dataset & { train: { fingerprint: string } }> {
  const loader = loaders.get(settings.name);
  if (!loader) {
    throw new DatasetError(
      'dataset.name',
      `expected one of ${datasetNames().join(', ')}, got "${settings.name}"`,
    );
  }
  const data = await loader(settings.dir, settings.options);
  // The training split's identity, for teachers that hold it (see ImageSplit).
  data.train.fingerprint ??= splitFingerprint(data.train.images, data.shape);
  return data as Dataset & { train: { fingerprint: string } };
}

/** The directory a loader without a default location was given, or an error. */
function required(name: string, dir: string | undefined): string {
  if (dir === undefined || dir === '') {
    throw new DatasetError(
      'dataset.dir',
      `expected the directory of the ${name} files, got none (${name} has no default)`,
    );
  }
  return dir;
}

registerDataset('fashion-mnist', (dir) => loadFashionMnist(dir));
registerDataset('cifar10', async (dir) => loadCifar10(required('cifar10', dir)));
registerDataset('cifar100', async (dir, options) =>
  loadCifar100(required('cifar100', dir), { labels: options?.labels }),
);
registerDataset('image-folder', async (dir, options) =>
  loadImageFolder(required('image-folder', dir), {
    size: options?.size,
    channels: options?.channels,
    testFraction: options?.testFraction,
    seed: options?.seed,
  }),
);
