import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DistillJob } from './job.js';
import {
  ARMS,
  type Arm,
  armUses,
  type DatasetSettings,
  datasetSchema,
  mixupSchema,
  type Recipe,
  recipeSchema,
  type StudySettings,
  slugSchema,
  studySchema,
} from './study.js';
import { parseConfig } from './validate.js';

/** Bump when a change to training code makes cached teachers stale. */
export const TEACHER_FORMAT = 2;

const slug = slugSchema;

/** A teacher of the grid: a name, its architecture and training recipe, its seed. */
export const teacherEntrySchema = recipeSchema
  .extend({
    /** Name in the report and in job ids; default: the architecture. */
    name: slug.optional(),
    /** Seed of the teacher's initial weights, subset and shuffles. */
    seed: z.number().int().min(0).default(1),
  })
  .strict();

/** The loss of the kd arms; the temperatures are their own grid axis. */
export const gridLossSchema = z
  .object({
    /** Weight of the distillation term (1: pure KD). */
    beta: z.number().min(0).max(1).default(0.8),
    variant: z.enum(['plain', 'std', 'zscore']).default('plain'),
  })
  .strict();

const temperature = z.number().positive().max(100);

/**
 * An experiment grid: every dataset x student x seed gets each arm; the kd
 * arms run once per teacher and temperature, the others (which use no
 * teacher) once. Each combination is one job.
 */
export const experimentSchema = z
  .object({
    name: slug,
    datasets: z.array(datasetSchema).min(1),
    /** Teachers (trained without mixup); needed by the kd arms. */
    teachers: z.array(teacherEntrySchema).default([]),
    students: z.array(recipeSchema).min(1),
    arms: z.array(z.enum(ARMS)).min(1),
    /** Distillation temperatures of the kd arms. */
    temperatures: z.array(temperature).min(1).default([2]),
    seeds: z.array(z.number().int().min(0)).min(1),
    loss: gridLossSchema.default({ beta: 0.8, variant: 'plain' }),
    mixup: mixupSchema.default({ alpha: 1, p: 1 }),
    /** Training pairs for the vicinal analysis of each kd job (0: skip it). */
    analysisPairs: z.number().int().min(0).max(1_000_000).default(2048),
  })
  .strict()
  .superRefine((grid, ctx) => {
    const unique = <T>(values: T[], path: string, what: (v: T) => string) => {
      const seen = new Map<string, number>();
      values.forEach((v, i) => {
        const key = what(v);
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [path, i],
            message: `duplicate of ${path}[${first}] (${key})`,
          });
        } else seen.set(key, i);
      });
    };
    unique(grid.teachers, 'teachers', (t) => t.name ?? t.architecture);
    unique(grid.students, 'students', (s) => s.architecture);
    unique(grid.datasets, 'datasets', (d) => datasetLabel(d));
    unique(grid.seeds, 'seeds', String);
    unique(grid.temperatures, 'temperatures', String);
    unique(grid.arms, 'arms', String);
    const kd = grid.arms.filter((a) => armUses(a).teacher);
    if (kd.length > 0 && grid.teachers.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['teachers'],
        message: `arms ${kd.join(', ')} distil from a teacher: list at least one`,
      });
    }
  });

export type ExperimentSettings = z.infer<typeof experimentSchema>;
export type TeacherEntry = z.infer<typeof teacherEntrySchema>;

/** Keys that only the single-study form has. */
const SINGLE_STUDY_KEYS = ['seed', 'dataset', 'teacher', 'student'];

/** Whether a parsed settings file is the single-study form (one teacher, one seed). */
export function isSingleStudy(raw: unknown): boolean {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return false;
  const keys = Object.keys(raw);
  const grid = ['seeds', 'datasets', 'teachers', 'students', 'temperatures'];
  return (
    keys.some((k) => SINGLE_STUDY_KEYS.includes(k)) && !keys.some((k) => grid.includes(k))
  );
}

/** The single-study form as a grid of one teacher, one temperature and one seed. */
export function studyAsExperiment(study: StudySettings): ExperimentSettings {
  return experimentSchema.parse({
    name: study.name,
    datasets: [study.dataset],
    // A teacher given is trained even when no arm distils from it.
    teachers: study.teacher ? [{ ...study.teacher, seed: study.seed }] : [],
    students: [study.student],
    arms: study.arms,
    temperatures: [study.loss.temperature],
    seeds: [study.seed],
    loss: { beta: study.loss.beta, variant: study.loss.variant },
    mixup: study.mixup,
    analysisPairs: study.analysisPairs,
  });
}

/**
 * Validates a parsed settings file before anything runs: a grid, or the
 * single-study form (converted to a grid of one). Unknown keys are refused by
 * name (a ConfigError lists every problem).
 */
export function parseExperiment(raw: unknown, source: string): ExperimentSettings {
  if (isSingleStudy(raw)) return studyAsExperiment(parseConfig(studySchema, raw, source));
  return parseConfig(experimentSchema, raw, source);
}

/** The cache key of a teacher: a hash of everything that shapes its weights. */
export function teacherKey(
  dataset: DatasetSettings,
  recipe: Recipe,
  seed: number,
): string {
  const identity = JSON.stringify({ format: TEACHER_FORMAT, dataset, recipe, seed });
  return createHash('sha256').update(identity).digest('hex').slice(0, 16);
}

/** A teacher to train (or reuse) and serve: one teacher entry on one dataset. */
export interface TeacherPlan {
  /** Name in the report (the entry's name, or its architecture). */
  name: string;
  dataset: DatasetSettings;
  /** Index of the dataset in the grid. */
  datasetIndex: number;
  recipe: Recipe;
  seed: number;
  key: string;
  /** Object-store name of the artifact, which teacher servers serve. */
  model: string;
}

/** One job of the grid and where it sits. */
export interface PlannedJob {
  job: DistillJob;
  /** Name of the teacher (kd arms) or null. */
  teacher: string | null;
  temperature: number | null;
  datasetIndex: number;
  /** Index of the student recipe in the grid. */
  studentIndex: number;
}

/** A grid expanded: the teachers it needs and one job per combination. */
export interface ExperimentPlan {
  studyId: string;
  teachers: TeacherPlan[];
  jobs: PlannedJob[];
}

/** A short label of a dataset, for job ids and output directories. */
export function datasetLabel(d: DatasetSettings): string {
  const options = d.options ? `-${hash(d.options).slice(0, 6)}` : '';
  return `${d.name}${d.dir && d.name !== 'fashion-mnist' ? `-${hash(d.dir).slice(0, 6)}` : ''}${options}`;
}

function hash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** The model name a teacher is published and served under. */
export function teacherModelName(key: string): string {
  return `teacher-${key}`;
}

/**
 * Expands a grid into its teachers and jobs. A job's id is derived from the
 * settings that shape it (and only those: a baseline job does not depend on
 * the temperatures or the teachers), so re-running a grid, or a grid extended
 * by a seed or a temperature, finds the jobs already done under the same ids.
 */
export function expandExperiment(grid: ExperimentSettings): ExperimentPlan {
  const studyId = grid.name;
  const teachers: TeacherPlan[] = [];
  grid.datasets.forEach((dataset, datasetIndex) => {
    for (const entry of grid.teachers) {
      const { name, seed, ...recipe } = entry;
      const key = teacherKey(dataset, recipe, seed);
      teachers.push({
        name: name ?? recipe.architecture,
        dataset,
        datasetIndex,
        recipe,
        seed,
        key,
        model: teacherModelName(key),
      });
    }
  });
  const jobs: PlannedJob[] = [];
  grid.datasets.forEach((dataset, datasetIndex) => {
    grid.students.forEach((student, studentIndex) => {
      for (const seed of grid.seeds) {
        for (const arm of grid.arms) {
          const uses = armUses(arm);
          const cells: { teacher: TeacherPlan | null; temperature: number | null }[] =
            uses.teacher
              ? teachers
                  .filter((t) => t.datasetIndex === datasetIndex)
                  .flatMap((teacher) =>
                    grid.temperatures.map((temperature) => ({ teacher, temperature })),
                  )
              : [{ teacher: null, temperature: null }];
          for (const { teacher, temperature } of cells) {
            const job = makeJob({
              studyId,
              grid,
              dataset,
              student,
              seed,
              arm,
              teacher,
              temperature,
            });
            jobs.push({
              job,
              teacher: teacher?.name ?? null,
              temperature,
              datasetIndex,
              studentIndex,
            });
          }
        }
      }
    });
  });
  return { studyId, teachers, jobs };
}

function makeJob(input: {
  studyId: string;
  grid: ExperimentSettings;
  dataset: DatasetSettings;
  student: Recipe;
  seed: number;
  arm: Arm;
  teacher: TeacherPlan | null;
  temperature: number | null;
}): DistillJob {
  const { grid, arm, teacher, temperature } = input;
  const uses = armUses(arm);
  // What shapes the job's outcome, and nothing else.
  const identity = {
    dataset: input.dataset,
    student: input.student,
    seed: input.seed,
    arm,
    ...(uses.mixup ? { mixup: grid.mixup } : {}),
    ...(uses.teacher
      ? {
          teacher: teacher?.key,
          loss: { ...grid.loss, temperature },
          analysisPairs: grid.analysisPairs,
        }
      : {}),
  };
  const parts = [
    arm.replace('+', '-'),
    teacher ? teacher.name : null,
    temperature === null ? null : `t${String(temperature).replace('.', 'p')}`,
    `s${input.seed}`,
    hash(identity).slice(0, 8),
  ];
  return {
    kind: 'distill',
    studyId: input.studyId,
    jobId: parts.filter((p) => p !== null).join('-'),
    arm,
    seed: input.seed,
    dataset: input.dataset,
    student: input.student,
    loss: { ...grid.loss, temperature: temperature ?? 1 },
    mixup: grid.mixup,
    analysisPairs: uses.teacher ? grid.analysisPairs : 0,
    teacherModel: teacher ? teacher.model : null,
  };
}
