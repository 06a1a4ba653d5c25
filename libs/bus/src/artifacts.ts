import type { Bus } from './connection.js';
import { names } from './names.js';

/** Stores a model artifact (or checkpoint) under `name` in the object store. */
export async function putArtifact(
  bus: Bus,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  await bus.models.putBlob({ name }, bytes);
}

/** Removes an artifact; one that is not there is fine. */
export async function deleteArtifact(bus: Bus, name: string): Promise<void> {
  await bus.models.delete(name).catch((err: Error) => {
    if (!/not found/i.test(err.message)) throw err;
  });
}

/**
 * Object-store names of a job's epoch checkpoint and of its trained student.
 * Both name the study: a job id is the same for the same cell in every study
 * (it is derived from the cell's settings), and a new study must not resume
 * from another study's checkpoint.
 */
export const checkpointArtifact = (studyId: string, jobId: string) =>
  `checkpoint-${studyId}-${jobId}`;
export const studentArtifact = (studyId: string, jobId: string) =>
  `student-${studyId}-${jobId}`;

/** Fetches an artifact; null when no object of that name exists. */
export async function getArtifact(bus: Bus, name: string): Promise<Uint8Array | null> {
  return bus.models.getBlob(name);
}

/** What a teacher server needs to know about the model it serves. */
export interface TeacherMeta {
  name: string;
  version: string;
  architecture: string;
  parameters: number;
  /** [H, W, C] */
  inputShape: [number, number, number];
  numClasses: number;
  classNames: string[];
  /** Per-channel normalisation: (pixel / 255 - mean) / std. */
  mean: number[];
  std: number[];
  dataset: string;
}

const metaName = (name: string) => `${name}.meta.json`;

/** Publishes a teacher: its artifact under `meta.name` and its metadata beside it. */
export async function publishTeacher(bus: Bus, meta: TeacherMeta, artifact: Uint8Array) {
  await putArtifact(bus, meta.name, artifact);
  await putArtifact(
    bus,
    metaName(meta.name),
    new TextEncoder().encode(JSON.stringify(meta)),
  );
}

/** Fetches a published teacher, with an error naming what is missing. */
export async function fetchTeacher(
  bus: Bus,
  name: string,
): Promise<{ meta: TeacherMeta; artifact: Uint8Array }> {
  const [artifact, meta] = await Promise.all([
    getArtifact(bus, name),
    getArtifact(bus, metaName(name)),
  ]);
  if (!artifact || !meta) {
    throw new Error(
      `teacher "${name}" is not in the object store "${names.modelsStore}" ` +
        `(missing ${!artifact ? name : metaName(name)}); publish it first`,
    );
  }
  return { meta: JSON.parse(new TextDecoder().decode(meta)) as TeacherMeta, artifact };
}
