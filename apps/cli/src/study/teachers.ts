import { join } from 'node:path';
import { type Bus, fetchTeacher, publishTeacher, type TeacherMeta } from '@vicinal/bus';
import type { TeacherPlan } from '@vicinal/config';
import type { Dataset } from '@vicinal/data';
import { subset } from '@vicinal/data';
import {
  buildModel,
  countParameters,
  decodeArtifact,
  encodeArtifact,
} from '@vicinal/models';
import { evaluateModel, storedMetrics, trainNetwork } from '@vicinal/training';
import { TeacherCache, type TeacherRecord } from './teacher-cache.js';

export interface TeacherSourceOptions {
  cacheDir: string;
  /** Train even when a cached or published teacher exists. */
  retrain: boolean;
  /** Train a teacher that is neither cached nor published (else fail). */
  train: boolean;
  print: (line: string) => void;
  signal: AbortSignal;
}

export interface ObtainedTeacher {
  plan: TeacherPlan;
  record: TeacherRecord;
  artifact: Uint8Array;
  /** Where it came from: trained in this run, the local cache, or NATS. */
  source: 'trained' | 'cache' | 'nats';
}

const recordKey = (key: string) => `teacher.${key}`;

/** The image geometry and normalisation the training loop needs. */
export function imageSpec(data: Dataset) {
  return {
    shape: data.shape,
    numClasses: data.numClasses,
    mean: data.mean,
    std: data.std,
  };
}

/** The cache of trained teachers under a --cache-dir. */
export function teacherCache(cacheDir: string): TeacherCache {
  return new TeacherCache(join(cacheDir, 'teachers'));
}

/**
 * Reads every teacher of the plan that is cached, so that a corrupt cache
 * file is reported before a study starts any service (with --retrain the
 * cache is not read). Teachers not cached are left to obtainTeacher.
 */
export function checkCachedTeachers(
  teachers: TeacherPlan[],
  cacheDir: string,
  retrain: boolean,
): void {
  if (retrain) return;
  const cache = teacherCache(cacheDir);
  for (const t of teachers) cache.load(t.key);
}

/**
 * A teacher for the plan: from the local cache, else from NATS (published
 * there by whoever trained it), else trained here without mixup and cached.
 */
export async function obtainTeacher(
  plan: TeacherPlan,
  data: Dataset,
  bus: Bus | null,
  options: TeacherSourceOptions,
): Promise<ObtainedTeacher> {
  const { print } = options;
  const recipe = plan.recipe;
  const cache = teacherCache(options.cacheDir);
  const cached = options.retrain ? null : cache.load(plan.key);
  if (cached) {
    // Proof the cached weights load; the artifact is what gets served.
    const model = await decodeArtifact(cached.artifact).catch((err) => {
      throw cache.corrupt(cache.modelFile(plan.key), err);
    });
    model.dispose();
    print(
      `teacher ${plan.name} (${recipe.architecture}) reused from cache (${plan.key}): ` +
        `test accuracy ${pct(cached.record.test.accuracy)}`,
    );
    return { plan, ...cached, source: 'cache' };
  }
  const published = bus && !options.retrain ? await fromBus(bus, plan) : null;
  if (published) {
    print(
      `teacher ${plan.name} (${recipe.architecture}) found on NATS as ${plan.model}: ` +
        `test accuracy ${pct(published.record.test.accuracy)}`,
    );
    cache.save(published.record, published.artifact);
    return { plan, ...published, source: 'nats' };
  }
  if (!options.train) {
    throw new Error(
      `teacher ${plan.name} (${plan.model}) is neither cached nor published on NATS; ` +
        'train it first (vicinal submit without --no-train, or vicinal study)',
    );
  }
  const spec = imageSpec(data);
  const train = recipe.trainImages
    ? subset(data.train, recipe.trainImages, plan.seed)
    : data.train;
  const model = buildModel(recipe.architecture, {
    inputShape: data.shape,
    numClasses: data.numClasses,
    seed: plan.seed,
  });
  const parameters = countParameters(model);
  print(
    `training teacher ${plan.name}: ${recipe.architecture} (${parameters} parameters) ` +
      `on ${train.count} images for ${recipe.epochs} epoch(s), without mixup`,
  );
  const summary = await trainNetwork({
    model,
    train,
    spec,
    recipe,
    mixup: null,
    loss: { beta: 0, temperature: 1, variant: 'plain' },
    teacher: null,
    seed: plan.seed,
    signal: options.signal,
    attributes: { 'vicinal.role': 'teacher' },
    progressEvery: 50,
    onStep: (p) =>
      print(
        `  teacher ${plan.name} epoch ${p.epoch}/${p.epochs} step ${p.step}: loss ` +
          `${p.loss.toFixed(4)}, ${p.samplesPerSecond.toFixed(0)} samples/s`,
      ),
  });
  const report = evaluateModel(model, data.test, spec, plan.seed);
  const record: TeacherRecord = {
    key: plan.key,
    architecture: recipe.architecture,
    parameters,
    recipe,
    seed: plan.seed,
    trainSeconds: summary.trainSeconds,
    samplesPerSecond: summary.samplesPerSecond,
    test: storedMetrics(report),
    temperatureScaling: report.temperatureScaling,
  };
  const artifact = await encodeArtifact(model);
  model.dispose();
  cache.save(record, artifact);
  print(
    `teacher ${plan.name} trained in ${summary.trainSeconds.toFixed(0)} s ` +
      `(${summary.samplesPerSecond.toFixed(0)} samples/s): test accuracy ` +
      `${pct(report.accuracy)}, ECE ${report.ece.toFixed(4)}`,
  );
  return { plan, record, artifact, source: 'trained' };
}

async function fromBus(
  bus: Bus,
  plan: TeacherPlan,
): Promise<{ record: TeacherRecord; artifact: Uint8Array } | null> {
  const entry = await bus.results.get(recordKey(plan.key));
  if (entry?.operation !== 'PUT') return null;
  const record = entry.json<TeacherRecord>();
  try {
    const { artifact } = await fetchTeacher(bus, plan.model);
    return { record, artifact };
  } catch {
    return null;
  }
}

/**
 * Publishes the teacher: its artifact and metadata in the object store (what
 * teacher servers load) and its record in the results bucket (what another
 * coordinator needs for the report).
 */
export async function publishObtainedTeacher(
  bus: Bus,
  teacher: ObtainedTeacher,
  data: Dataset,
): Promise<void> {
  const { plan, record } = teacher;
  const meta: TeacherMeta = {
    name: plan.model,
    version: plan.key,
    architecture: record.architecture,
    parameters: record.parameters,
    inputShape: data.shape,
    numClasses: data.numClasses,
    classNames: data.classNames,
    mean: data.mean,
    std: data.std,
    dataset: plan.dataset.name,
  };
  await publishTeacher(bus, meta, teacher.artifact);
  await bus.results.put(recordKey(plan.key), JSON.stringify(record));
}

export const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
