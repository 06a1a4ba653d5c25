export { type ChannelStats, channelStats } from './channel-stats.js';
export {
  CIFAR_PIXEL_BYTES,
  CIFAR10_CLASSES,
  type Cifar100Options,
  type CifarVariant,
  checkCifarBatch,
  cifarRecordBytes,
  loadCifar10,
  loadCifar100,
  parseCifarBatch,
} from './cifar.js';
export {
  type Dataset,
  type DatasetOptions,
  type DatasetSettings,
  type ImageSplit,
  pixelsPerImage,
  type SplitOrigin,
} from './dataset.js';
export {
  type DatasetDescription,
  describeDataset,
  SPLIT_NAMES,
  type SplitName,
} from './describe.js';
export { DatasetError } from './errors.js';
export {
  checkSplit,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  type FashionMnistOptions,
  loadFashionMnist,
} from './fashion-mnist.js';
export { sourceRows, splitFingerprint } from './fingerprint.js';
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
export {
  type DecodedImage,
  decodeImage,
  type ImageFormat,
  imageFormat,
  jpegComponents,
} from './image-decode.js';
export {
  IMAGE_EXTENSIONS,
  type ImageFolderOptions,
  loadImageFolder,
} from './image-folder.js';
export {
  normalisePixels,
  normaliseWithTable,
  pixelTable,
  toNormalisedTensor,
} from './normalise.js';
export { seededRandom } from './random.js';
export {
  type DatasetLoader,
  datasetNames,
  loadDataset,
  registerDataset,
} from './registry.js';
export { resizeArea } from './resize.js';
export { subset } from './subset.js';
