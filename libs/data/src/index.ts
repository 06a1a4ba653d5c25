export {
  type Dataset,
  type DatasetSettings,
  type ImageSplit,
  pixelsPerImage,
} from './dataset.js';
export { DatasetError } from './errors.js';
export {
  checkSplit,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  type FashionMnistOptions,
  loadFashionMnist,
} from './fashion-mnist.js';
export {
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  type IdxData,
  type IdxExpectation,
  type IdxKind,
  isGzip,
  parseIdx,
  readIdxFile,
} from './idx.js';
export { normalisePixels, toNormalisedTensor } from './normalise.js';
export { seededRandom } from './random.js';
export {
  type DatasetLoader,
  datasetNames,
  loadDataset,
  registerDataset,
} from './registry.js';
export { subset } from './subset.js';
