import * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '@vicinal/backend';
import { ArtifactError } from './errors.js';

/**
 * A model as bytes: `modelJson` is a tfjs model.json (topology plus a weights
 * manifest naming one file, weights.bin) and `weights` that file's bytes.
 * Written side by side they load with any tfjs file/HTTP loader.
 */
export interface ModelBytes {
  modelJson: string;
  weights: Uint8Array;
}

/** Name of the single weights file the manifest in `modelJson` refers to. */
export const WEIGHTS_FILE = 'weights.bin';

/**
 * Serializes topology and all weights (batchnorm statistics included), not
 * optimiser state.
 */
export async function saveModelToBytes(model: tfl.LayersModel): Promise<ModelBytes> {
  let captured: ModelBytes | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      if (!artifacts.modelTopology || !artifacts.weightSpecs || !artifacts.weightData) {
        throw new ArtifactError('model.save produced no topology or weights');
      }
      const weights = new Uint8Array(
        tf.io.CompositeArrayBuffer.join(artifacts.weightData),
      );
      const json: tf.io.ModelJSON = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      captured = { modelJson: JSON.stringify(json), weights };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (!captured) throw new ArtifactError('model.save did not call the save handler');
  return captured;
}

/**
 * Rebuilds a model from `saveModelToBytes` output. Checks that the weights
 * are exactly as long as the manifest says before handing them to tfjs.
 */
export async function loadModelFromBytes(bytes: ModelBytes): Promise<tfl.LayersModel> {
  const json = parseModelJson(bytes.modelJson);
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const expected = weightSpecs.reduce((sum, spec) => sum + specBytes(spec), 0);
  if (bytes.weights.byteLength !== expected) {
    throw new ArtifactError(
      `weights: expected ${expected} bytes for ${weightSpecs.length} tensors, ` +
        `got ${bytes.weights.byteLength}`,
    );
  }
  const weightData = bytes.weights.slice().buffer;
  return tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs,
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
      trainingConfig: json.trainingConfig,
    }),
  );
}

function parseModelJson(text: string): tf.io.ModelJSON {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ArtifactError(`modelJson: not valid JSON (${(err as Error).message})`);
  }
  const obj = json as Partial<tf.io.ModelJSON> | null;
  if (!obj || typeof obj !== 'object' || !obj.modelTopology) {
    throw new ArtifactError('modelJson: expected an object with modelTopology');
  }
  if (
    !Array.isArray(obj.weightsManifest) ||
    !obj.weightsManifest.every((g) => g && Array.isArray(g.weights))
  ) {
    throw new ArtifactError(
      'modelJson: expected weightsManifest, a list of {paths, weights}',
    );
  }
  return obj as tf.io.ModelJSON;
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes one weight occupies in weights.bin (quantized weights included). */
function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const per = DTYPE_BYTES[dtype];
  if (per === undefined) {
    throw new ArtifactError(
      `weights manifest: ${spec.name} has unsupported dtype ${dtype}`,
    );
  }
  if (
    !Array.isArray(spec.shape) ||
    !spec.shape.every((d) => Number.isInteger(d) && d >= 0)
  ) {
    throw new ArtifactError(
      `weights manifest: ${spec.name} has invalid shape ${JSON.stringify(spec.shape)}`,
    );
  }
  return spec.shape.reduce((a, d) => a * d, 1) * per;
}
