import type { tf } from '@vicinal/backend';
import { kdLoss } from './kd-loss.js';
import { kdLossStdNormalised } from './kd-std.js';
import { kdLossZscore } from './kd-zscore.js';

/**
 * A distillation term: student and teacher logits [B, K] and a temperature
 * to a scalar (batch mean). Every variant has this signature so the blended
 * loss can pick one by name.
 */
export type DistillationLoss = (
  studentLogits: tf.Tensor2D,
  teacherLogits: tf.Tensor2D,
  temperature: number,
) => tf.Scalar;

/** The variants shipped with vicinal. A new one is its own file plus one line here. */
const BUILT_IN = {
  plain: kdLoss,
  std: kdLossStdNormalised,
  zscore: kdLossZscore,
} satisfies Record<string, DistillationLoss>;

export type BuiltInLossName = keyof typeof BUILT_IN;

const registry = new Map<string, DistillationLoss>(Object.entries(BUILT_IN));

/** Raised when a loss name is not registered; lists the names that are. */
export class UnknownLossError extends Error {
  constructor(readonly lossName: string) {
    const known = [...registry.keys()].join(', ');
    super(`loss variant: expected one of ${known}, got "${lossName}"`);
    this.name = 'UnknownLossError';
  }
}

/** Adds a distillation loss under `name` (e.g. from a plug-in); names are unique. */
export function registerDistillationLoss(name: string, loss: DistillationLoss): void {
  if (registry.has(name)) throw new Error(`loss variant "${name}" is already registered`);
  registry.set(name, loss);
}

/** The distillation loss registered under `name`. */
export function distillationLoss(name: string): DistillationLoss {
  const loss = registry.get(name);
  if (!loss) throw new UnknownLossError(name);
  return loss;
}

/** Names of every registered distillation loss. */
export function distillationLossNames(): string[] {
  return [...registry.keys()];
}
