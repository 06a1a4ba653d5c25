// Test helper (not exported by the library): the shared reference vectors
// of the losses, which sit next to the repository (see README), and their
// relative tolerance.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

export interface LossVectors {
  student_logits: number[][];
  teacher_logits: number[][];
  labels: number[];
  partner: number[];
  lambda: number[];
  expected: Record<string, number>;
}

const vectorsPath =
  process.env.VICINAL_VECTORS ??
  new URL('../../../../shared/vectors/metrics-and-losses.json', import.meta.url).pathname;

/** The `distillation_losses` section of the reference-vectors file. */
export function lossVectors(): LossVectors {
  const file = JSON.parse(readFileSync(vectorsPath, 'utf8')) as {
    distillation_losses: LossVectors;
  };
  return file.distillation_losses;
}

/** The losses' tolerance: relative error at most 1e-5. */
export function assertRelative(actual: number, expected: number, what: string): void {
  const error = Math.abs(actual - expected) / Math.abs(expected);
  assert.ok(
    error <= 1e-5,
    `${what}: expected ${expected}, got ${actual} (rel. error ${error})`,
  );
}
