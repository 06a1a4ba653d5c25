import type * as tfl from '@tensorflow/tfjs-layers';
import { ModelRegistryError } from './errors.js';
import { resnetBuilders } from './resnet.js';
import { type ModelBuilder, type ModelSpec, validateSpec } from './spec.js';
import { buildStudentCnn, STUDENT_CNN } from './student-cnn.js';
import { buildTeacherCnn, TEACHER_CNN } from './teacher-cnn.js';
import { wideResnetBuilders } from './wide-resnet.js';

const builders = new Map<string, ModelBuilder>([
  [TEACHER_CNN, buildTeacherCnn],
  [STUDENT_CNN, buildStudentCnn],
  ...resnetBuilders,
  ...wideResnetBuilders,
]);

/**
 * Adds a model under `name`. Names are unique: registering a taken name
 * throws unless `replace` is set.
 */
export function registerModel(
  name: string,
  builder: ModelBuilder,
  options: { replace?: boolean } = {},
): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
    throw new ModelRegistryError(
      `name: expected lower-case letters, digits, '.', '_' or '-', got "${name}"`,
    );
  }
  if (builders.has(name) && !options.replace) {
    throw new ModelRegistryError(`model "${name}" is already registered`);
  }
  builders.set(name, builder);
}

/**
 * Builds a fresh model by name. The same name, spec and seed always give the
 * same architecture and the same initial weights.
 */
export function buildModel(name: string, spec: ModelSpec): tfl.LayersModel {
  const builder = builders.get(name);
  if (!builder) {
    throw new ModelRegistryError(
      `model: unknown name "${name}", expected one of ${listModels().join(', ')}`,
    );
  }
  return builder(validateSpec(spec));
}

/** Registered model names, sorted. */
export function listModels(): string[] {
  return [...builders.keys()].sort();
}
