import * as tfl from '@tensorflow/tfjs-layers';
import { LayerKit } from './blocks.js';
import type { ModelBuilder, ValidSpec } from './spec.js';

type Node = tfl.SymbolicTensor;

/** Shape of a CIFAR-style residual network. */
export interface ResNetShape {
  /** Basic blocks per stage (three stages). */
  blocks: number;
  /** Channels of the first stage; the next two have 2x and 4x. */
  width: number;
}

/**
 * The CIFAR-style ResNets of He et al. (2016): depth 6n + 2, a 3x3 stem,
 * three stages of n basic blocks (two 3x3 conv + batchnorm, ReLU after the
 * residual sum), the second and third stage entered by a stride-2 conv with
 * a 1x1 stride-2 projection on the shortcut, then global average pooling and
 * a linear classifier.
 */
export const RESNETS: Record<string, ResNetShape> = {
  resnet8: { blocks: 1, width: 16 },
  resnet20: { blocks: 3, width: 16 },
  resnet32: { blocks: 5, width: 16 },
  resnet56: { blocks: 9, width: 16 },
};

/** Builds the residual network of `shape` for the spec. */
export function buildResNet(name: string, shape: ResNetShape, spec: ValidSpec) {
  const kit = new LayerKit(spec.seed);
  const input = tfl.input({ name: 'image', shape: spec.inputShape });
  let x = kit.conv(input, 'stem_conv', shape.width, 3, 1);
  x = kit.relu(kit.batchNorm(x, 'stem_bn'), 'stem_relu');
  let channels = shape.width;
  for (let stage = 1; stage <= 3; stage++) {
    const filters = shape.width * 2 ** (stage - 1);
    for (let b = 1; b <= shape.blocks; b++) {
      const strides = stage > 1 && b === 1 ? 2 : 1;
      x = basicBlock(kit, x, `s${stage}b${b}`, filters, strides, channels !== filters);
      channels = filters;
    }
  }
  x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as Node;
  const logits = kit.dense(x, 'logits', spec.numClasses, 'linear');
  return tfl.model({ name, inputs: input, outputs: logits });
}

function basicBlock(
  kit: LayerKit,
  x: Node,
  name: string,
  filters: number,
  strides: number,
  project: boolean,
): Node {
  let y = kit.conv(x, `${name}_conv1`, filters, 3, strides);
  y = kit.relu(kit.batchNorm(y, `${name}_bn1`), `${name}_relu1`);
  y = kit.conv(y, `${name}_conv2`, filters, 3, 1);
  y = kit.batchNorm(y, `${name}_bn2`);
  let shortcut = x;
  if (project || strides !== 1) {
    shortcut = kit.conv(x, `${name}_proj`, filters, 1, strides);
    shortcut = kit.batchNorm(shortcut, `${name}_proj_bn`);
  }
  return kit.relu(kit.add(y, shortcut, `${name}_add`), `${name}_relu2`);
}

/** Registry entries of the ResNets, by name. */
export const resnetBuilders: [string, ModelBuilder][] = Object.entries(RESNETS).map(
  ([name, shape]) => [name, (spec: ValidSpec) => buildResNet(name, shape, spec)],
);
