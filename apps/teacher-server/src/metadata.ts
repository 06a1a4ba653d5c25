/** What the server says about the model it serves (Describe, responses). */
export interface TeacherMetadata {
  /** Model name clients may ask for; requests with an empty model get this one. */
  model: string;
  version: string;
  architecture: string;
  parameters: number;
  /** [H, W, C] of one input image. */
  inputShape: readonly [number, number, number];
  numClasses: number;
  classNames: readonly string[];
  /** Per-channel normalisation of model inputs: (pixel / 255 - mean) / std. */
  mean: readonly number[];
  std: readonly number[];
  dataset: string;
  /** TensorFlow.js backend (or other runtime) in use. */
  backend: string;
  /** Fitted calibration temperature, if any. */
  calibrationTemperature?: number;
}

/**
 * Checks metadata before serving, so a misconfigured teacher fails at start
 * with the field at fault instead of answering wrongly.
 */
export function checkMetadata(meta: TeacherMetadata): void {
  const fail = (field: string, expected: string, got: unknown) => {
    throw new RangeError(
      `metadata.${field}: expected ${expected}, got ${JSON.stringify(got)}`,
    );
  };
  const positiveInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
  if (meta.inputShape.length !== 3 || !meta.inputShape.every(positiveInt)) {
    fail('inputShape', '[H, W, C] of positive integers', meta.inputShape);
  }
  const channels = meta.inputShape[2];
  if (!positiveInt(meta.numClasses))
    fail('numClasses', 'an integer >= 1', meta.numClasses);
  if (meta.classNames.length !== 0 && meta.classNames.length !== meta.numClasses) {
    fail('classNames', `${meta.numClasses} names (or none)`, meta.classNames.length);
  }
  if (meta.mean.length !== channels || !meta.mean.every(Number.isFinite)) {
    fail('mean', `${channels} finite values (one per channel)`, meta.mean);
  }
  if (
    meta.std.length !== channels ||
    !meta.std.every((s) => Number.isFinite(s) && s > 0)
  ) {
    fail('std', `${channels} finite values > 0 (one per channel)`, meta.std);
  }
  if (!meta.model) fail('model', 'a non-empty name', meta.model);
}
