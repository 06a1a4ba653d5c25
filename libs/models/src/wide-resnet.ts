import { buildResNet, type ResNetShape } from './resnet.js';
import type { ModelBuilder, ValidSpec } from './spec.js';

/**
 * Wide residual networks WRN-d-k in the CIFAR layout (Zagoruyko and
 * Komodakis, 2016): (d - 4) / 6 basic blocks per stage and k times the
 * channels (16k, 32k, 64k), with the block and shortcut of the ResNets here
 * (post-activation, 1x1 projections where the shape changes).
 */
export const WIDE_RESNETS: Record<string, ResNetShape> = {
  'wrn-16-2': { blocks: 2, width: 32 },
  'wrn-16-4': { blocks: 2, width: 64 },
};

export const wideResnetBuilders: [string, ModelBuilder][] = Object.entries(
  WIDE_RESNETS,
).map(([name, shape]) => [name, (spec: ValidSpec) => buildResNet(name, shape, spec)]);
