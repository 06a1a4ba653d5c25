import type * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '@vicinal/backend';
import { describeBytes } from '@vicinal/models';

const MAGIC = 'VCKP1';

/** Where a training run stands after a whole epoch; enough to resume exactly. */
export interface TrainingCheckpoint {
  /** Epochs finished (the run resumes at epoch + 1). */
  epoch: number;
  steps: number;
  samples: number;
  trainSeconds: number;
  /** Every model weight (trainable and batch-norm statistics), in model order. */
  modelWeights: Float32Array[];
  modelShapes: number[][];
  /** Optimizer state as tf's optimizer.getWeights() orders it. */
  optimizerWeights: Float32Array[];
  optimizerShapes: number[][];
  optimizerNames: string[];
  /**
   * Adam's beta1^t and beta2^t as the run had them (running float32
   * products). tf's Adam.setWeights recomputes them with pow, which differs
   * in the last bits, so a resumed run would drift from an unbroken one.
   * Absent for other optimizers and in older checkpoints.
   */
  adamBetaPowers?: [number, number];
}

/** The fields of tf's AdamOptimizer holding beta1^t and beta2^t (not public API). */
interface AdamPowers {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

function adamPowers(optimizer: tf.Optimizer): [tf.Variable, tf.Variable] | null {
  const { accBeta1, accBeta2 } = optimizer as unknown as AdamPowers;
  return optimizer instanceof tf.AdamOptimizer && accBeta1 && accBeta2
    ? [accBeta1, accBeta2]
    : null;
}

/** Captures the model and optimizer after an epoch. */
export async function captureCheckpoint(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  progress: { epoch: number; steps: number; samples: number; trainSeconds: number },
): Promise<TrainingCheckpoint> {
  const weights = model.getWeights();
  const optimizerState = await optimizer.getWeights();
  const powers = adamPowers(optimizer);
  return {
    ...progress,
    ...(powers && {
      adamBetaPowers: [powers[0].dataSync()[0], powers[1].dataSync()[0]] as [
        number,
        number,
      ],
    }),
    modelWeights: weights.map((w) => asFloat32(w.dataSync())),
    modelShapes: weights.map((w) => w.shape),
    // The iteration count is an int32 scalar: store its value, not its bits.
    optimizerWeights: optimizerState.map((w) => asFloat32(w.tensor.dataSync())),
    optimizerShapes: optimizerState.map((w) => w.tensor.shape),
    optimizerNames: optimizerState.map((w) => w.name),
  };
}

function asFloat32(values: ArrayLike<number>): Float32Array {
  return values instanceof Float32Array ? values.slice() : Float32Array.from(values);
}

/**
 * Puts a checkpoint's weights into a freshly built model of the same
 * architecture and its state into a fresh optimizer. Shapes must match.
 */
export async function restoreCheckpoint(
  checkpoint: TrainingCheckpoint,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
): Promise<void> {
  const current = model.getWeights();
  if (current.length !== checkpoint.modelWeights.length) {
    throw new Error(
      `checkpoint: expected ${current.length} model weights, found ` +
        `${checkpoint.modelWeights.length}`,
    );
  }
  current.forEach((w, i) => {
    const shape = checkpoint.modelShapes[i];
    if (shape.join('x') !== w.shape.join('x')) {
      throw new Error(
        `checkpoint: weight ${i} expected shape [${w.shape}], found [${shape}]`,
      );
    }
  });
  model.setWeights(
    checkpoint.modelWeights.map((v, i) => tf.tensor(v, checkpoint.modelShapes[i])),
  );
  await optimizer.setWeights(
    checkpoint.optimizerWeights.map((v, i) => ({
      name: checkpoint.optimizerNames[i],
      tensor: tf.tensor(v, checkpoint.optimizerShapes[i]),
    })),
  );
  const powers = adamPowers(optimizer);
  if (powers && checkpoint.adamBetaPowers) {
    checkpoint.adamBetaPowers.forEach((value, i) => {
      tf.tidy(() => powers[i].assign(tf.scalar(value)));
    });
  }
}

/** One buffer: magic, header length, JSON header, then the float32 arrays. */
export function encodeCheckpoint(checkpoint: TrainingCheckpoint): Uint8Array {
  const arrays = [...checkpoint.modelWeights, ...checkpoint.optimizerWeights];
  const header = new TextEncoder().encode(
    JSON.stringify({
      epoch: checkpoint.epoch,
      steps: checkpoint.steps,
      samples: checkpoint.samples,
      trainSeconds: checkpoint.trainSeconds,
      modelShapes: checkpoint.modelShapes,
      optimizerShapes: checkpoint.optimizerShapes,
      optimizerNames: checkpoint.optimizerNames,
      adamBetaPowers: checkpoint.adamBetaPowers,
      lengths: arrays.map((a) => a.length),
    }),
  );
  const dataBytes = arrays.reduce((n, a) => n + a.length * 4, 0);
  const out = new Uint8Array(MAGIC.length + 4 + header.length + dataBytes);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  let offset = MAGIC.length + 4 + header.length;
  for (const a of arrays) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += a.byteLength;
  }
  return out;
}

/** Reads a checkpoint buffer; a truncated or foreign buffer is a clear error. */
export function decodeCheckpoint(bytes: Uint8Array): TrainingCheckpoint {
  const magic = bytes.subarray(0, MAGIC.length);
  if (new TextDecoder().decode(magic) !== MAGIC) {
    throw new Error(
      `checkpoint: expected magic "${MAGIC}", found ${describeBytes(magic)}`,
    );
  }
  if (bytes.length < MAGIC.length + 4) throw new Error('checkpoint: truncated header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (start + headerLength > bytes.length) {
    throw new Error(
      `checkpoint: header of ${headerLength} bytes runs past the end (${bytes.length} bytes)`,
    );
  }
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(start, start + headerLength)),
  );
  const lengths: number[] = header.lengths;
  const expected = start + headerLength + lengths.reduce((n, l) => n + l * 4, 0);
  if (bytes.length !== expected) {
    throw new Error(`checkpoint: expected ${expected} bytes, found ${bytes.length}`);
  }
  let offset = start + headerLength;
  const arrays = lengths.map((l) => {
    const a = new Float32Array(l);
    new Uint8Array(a.buffer).set(bytes.subarray(offset, offset + l * 4));
    offset += l * 4;
    return a;
  });
  const m = header.modelShapes.length;
  return {
    epoch: header.epoch,
    steps: header.steps,
    samples: header.samples,
    trainSeconds: header.trainSeconds,
    modelShapes: header.modelShapes,
    modelWeights: arrays.slice(0, m),
    optimizerShapes: header.optimizerShapes,
    optimizerWeights: arrays.slice(m),
    optimizerNames: header.optimizerNames,
    ...(isPowers(header.adamBetaPowers) && { adamBetaPowers: header.adamBetaPowers }),
  };
}

function isPowers(value: unknown): value is [number, number] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    value.every((v) => typeof v === 'number' && v >= 0 && v < 1)
  );
}
