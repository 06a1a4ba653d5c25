/** A model name that is not in the registry (or registered twice). */
export class ModelRegistryError extends Error {
  override readonly name = 'ModelRegistryError';
}

/** A model spec (input shape, classes, seed) a builder cannot use. */
export class ModelSpecError extends Error {
  override readonly name = 'ModelSpecError';
}

/**
 * Serialized model bytes that cannot be decoded: truncated, corrupted, of the
 * wrong format or inconsistent with their own header.
 */
export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';
}
