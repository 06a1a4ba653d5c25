import { tf } from '@vicinal/backend';

/**
 * A model as a plain function: float32 normalised images [B,H,W,C],
 * row-major, to float32 logits [B,K], row-major. With `handOver` the caller
 * gives `input` up (nothing reads it afterwards), so a runtime on another
 * thread may move its buffer there instead of copying it.
 */
export type InferFunction = (
  input: Float32Array,
  shape: readonly [number, number, number, number],
  handOver?: boolean,
) => Promise<Float32Array> | Float32Array;

/** Anything with a TensorFlow.js-style predict (a LayersModel, a GraphModel). */
export interface PredictingModel {
  predict(
    x: tf.Tensor,
    config?: { batchSize?: number },
  ): tf.Tensor | tf.Tensor[] | tf.NamedTensorMap;
}

/** What startTeacherServer serves. */
export type TeacherModel = InferFunction | PredictingModel;

/**
 * One calling convention for every runtime: the infer function itself, or
 * a wrapper that runs `predict` on a tensor (the whole batch at once) and
 * reads the first output back as float32 (freeing every intermediate tensor).
 */
export function toInferFunction(model: TeacherModel): InferFunction {
  if (typeof model === 'function') return model;
  return async (input, shape) => {
    const output = tf.tidy(() => {
      const x = tf.tensor4d(input, [shape[0], shape[1], shape[2], shape[3]], 'float32');
      // The whole batch in one pass: a layers model would otherwise run it
      // in slices of 32 rows, which measured 10 % slower for teacher-cnn at
      // 128 rows. The server's batches are bounded by maxBatch.
      const y = firstTensor(model.predict(x, { batchSize: shape[0] }));
      return y.dtype === 'float32' ? y : tf.cast(y, 'float32');
    });
    try {
      return (await output.data()) as Float32Array;
    } finally {
      output.dispose();
    }
  };
}

function firstTensor(out: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor {
  if (out instanceof tf.Tensor) return out;
  const first = Array.isArray(out) ? out[0] : Object.values(out)[0];
  if (!first) throw new Error('model.predict returned no tensor');
  return first;
}

/** Whether `values` spans all of a transferable (not shared) ArrayBuffer. */
export function ownsWholeBuffer(values: Float32Array): boolean {
  return (
    values.buffer instanceof ArrayBuffer &&
    values.byteOffset === 0 &&
    values.byteLength === values.buffer.byteLength
  );
}
