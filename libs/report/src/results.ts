import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ARMS } from '@vicinal/config';
import { VICINAL_MEASURES, type VicinalMeasure } from '@vicinal/metrics';
import { z } from 'zod';

/** The file name `vicinal report` looks for in a results directory. */
export const RESULTS_FILE = 'results.json';

/** The arms that distil from a teacher and so need a teacher and a temperature. */
export const TEACHER_ARMS: readonly string[] = ['kd', 'kd+mixup'];

const unit = z.number().min(0).max(1);
const finite = z.number();

const reliabilitySchema = z
  .object({
    lower: z.array(unit),
    upper: z.array(unit),
    counts: z.array(z.number().int().min(0)),
    accuracy: z.array(unit),
    confidence: z.array(unit),
  })
  .superRefine((bins, ctx) => {
    for (const key of ['upper', 'counts', 'accuracy', 'confidence'] as const) {
      if (bins[key].length !== bins.lower.length) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `expected ${bins.lower.length} values (one per bin, like lower), got ${bins[key].length}`,
        });
      }
    }
  });

const temperatureScalingSchema = z.object({
  temperature: z.number().positive(),
  nllBefore: z.number().min(0),
  nllAfter: z.number().min(0),
  eceBefore: unit,
  eceAfter: unit,
});

/** Accuracy and calibration on the test split, probabilities = softmax(logits). */
const calibrationFields = {
  accuracy: unit,
  ece: unit,
  mce: unit,
  /** Mean confidence minus accuracy. */
  overconfidence: z.number().min(-1).max(1),
  nll: z.number().min(0),
  brier: z.number().min(0).max(2),
  /** ECE over equal-mass bins. */
  adaptiveEce: unit.optional(),
};

function perMeasure<T extends z.ZodType>(item: T): Record<VicinalMeasure, T> {
  return Object.fromEntries(VICINAL_MEASURES.map((name) => [name, item])) as Record<
    VicinalMeasure,
    T
  >;
}

const summarySchema = z.object({
  count: z.number().int().min(0),
  ...perMeasure(finite.nullable()),
});

/** The schema of a VicinalAnalysis (see @vicinal/metrics) inside a results file. */
export const vicinalAnalysisSchema = z
  .object({
    numClasses: z.number().int().min(1),
    pairs: z.number().int().min(0),
    peakRange: z.tuple([unit, unit]),
    bins: z.object({
      lower: z.array(unit).min(1),
      upper: z.array(unit).min(1),
      count: z.array(z.number().int().min(0)),
      ...perMeasure(z.array(finite.nullable())),
    }),
    peak: summarySchema,
    overall: summarySchema,
  })
  .superRefine((analysis, ctx) => {
    const bins = analysis.bins;
    const n = bins.lower.length;
    for (const key of ['upper', 'count', ...VICINAL_MEASURES] as const) {
      if (bins[key].length !== n) {
        ctx.addIssue({
          code: 'custom',
          path: ['bins', key],
          message: `expected ${n} values (one per lambda bin, like bins.lower), got ${bins[key].length}`,
        });
      }
    }
  });

/** A teacher of the study and its own test figures. */
export const teacherResultSchema = z.object({
  name: z.string().min(1),
  architecture: z.string().min(1),
  parameters: z.number().int().min(0),
  test: z.object({ ...calibrationFields, reliability: reliabilitySchema }),
  temperatureScaling: temperatureScalingSchema.optional(),
});

/** One trained student: one arm, one temperature (kd arms), one seed. */
export const runResultSchema = z.object({
  /** Name of the teacher; null for arms without one (baseline, mixup). */
  teacher: z.string().min(1).nullable(),
  arm: z.enum(ARMS),
  /** Distillation temperature of the kd arms; null for the others. */
  temperature: z.number().positive().nullable(),
  seed: z.number().int(),
  ...calibrationFields,
  reliability: reliabilitySchema.optional(),
  temperatureScaling: temperatureScalingSchema.optional(),
  analysis: vicinalAnalysisSchema.optional(),
  samplesPerSecond: z.number().min(0),
});

/**
 * The schema of results.json: the study, its teachers and every student run.
 * Keys it does not know are ignored; `study` keeps all of its settings.
 */
export const studyResultsSchema = z
  .object({
    study: z.looseObject({ name: z.string().min(1) }),
    teachers: z.array(teacherResultSchema),
    runs: z.array(runResultSchema),
  })
  .superRefine((results, ctx) => {
    const names = new Map<string, number>();
    results.teachers.forEach((t, i) => {
      const first = names.get(t.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['teachers', i, 'name'],
          message: `duplicate teacher name ${JSON.stringify(t.name)} (also teachers[${first}])`,
        });
      } else names.set(t.name, i);
    });
    const known = [...names.keys()].map((n) => JSON.stringify(n)).join(', ');
    const seen = new Map<string, number>();
    results.runs.forEach((run, i) => {
      const needsTeacher = TEACHER_ARMS.includes(run.arm);
      if (run.teacher !== null && !names.has(run.teacher)) {
        ctx.addIssue({
          code: 'custom',
          path: ['runs', i, 'teacher'],
          message: `expected the name of a listed teacher (${known || 'none listed'}) or null, got ${JSON.stringify(run.teacher)}`,
        });
      }
      if (needsTeacher && run.teacher === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['runs', i, 'teacher'],
          message: `arm ${run.arm} distils from a teacher: expected a teacher name, got null`,
        });
      }
      if (needsTeacher && run.temperature === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['runs', i, 'temperature'],
          message: `arm ${run.arm} distils at a temperature: expected a number > 0, got null`,
        });
      }
      if (!needsTeacher && run.temperature !== null) {
        ctx.addIssue({
          code: 'custom',
          path: ['runs', i, 'temperature'],
          message: `arm ${run.arm} has no distillation temperature: expected null, got ${run.temperature}`,
        });
      }
      const key = JSON.stringify([run.teacher, run.arm, run.temperature, run.seed]);
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['runs', i],
          message: `same teacher, arm, temperature and seed as runs[${first}]`,
        });
      } else seen.set(key, i);
    });
  });

export type StudyResults = z.infer<typeof studyResultsSchema>;
export type TeacherResult = z.infer<typeof teacherResultSchema>;
export type RunResult = z.infer<typeof runResultSchema>;
export type ReliabilityResult = z.infer<typeof reliabilitySchema>;
export type TemperatureScalingResult = z.infer<typeof temperatureScalingSchema>;

/** A results file that cannot be read or does not match the schema. */
export class ResultsError extends Error {
  constructor(
    /** The file (or "results") the problems are in. */
    readonly source: string,
    /** One line per problem: `path: what was expected, what arrived`. */
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.join('; ')}`);
    this.name = 'ResultsError';
  }
}

const MAX_PROBLEMS = 10;

/**
 * Validates parsed JSON as study results. Throws a ResultsError naming each
 * offending field (as `runs[3].arm`), what was expected and what arrived.
 */
export function parseResults(data: unknown, source = RESULTS_FILE): StudyResults {
  const parsed = studyResultsSchema.safeParse(data, { reportInput: true });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(describeIssue);
  const shown = problems.slice(0, MAX_PROBLEMS);
  if (problems.length > MAX_PROBLEMS) {
    shown.push(`... and ${problems.length - MAX_PROBLEMS} more`);
  }
  throw new ResultsError(source, shown);
}

/**
 * Reads and validates a results file: `path` is the file or a directory
 * holding results.json. Returns the results and the file actually read.
 */
export async function readResults(
  path: string,
): Promise<{ results: StudyResults; file: string }> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, RESULTS_FILE);
  } catch {
    throw new ResultsError(path, ['no such file or directory']);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ResultsError(file, [
      code === 'ENOENT'
        ? `no ${RESULTS_FILE} in this directory`
        : `cannot read (${code})`,
    ]);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ResultsError(file, [`not valid JSON (${(err as Error).message})`]);
  }
  return { results: parseResults(data, file), file };
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  expected?: string;
  values?: unknown[];
  keys?: string[];
}

function describeIssue(issue: Issue): string {
  const where = pathText(issue.path) || '(top level)';
  const got = `got ${describeValue(issue.input)}`;
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `${where}: expected ${issue.expected}, got nothing (the field is missing)`
        : `${where}: expected ${issue.expected}, ${got}`;
    case 'invalid_value':
      return `${where}: expected one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(', ')}, ${got}`;
    case 'too_small':
    case 'too_big':
      return `${where}: ${lowerFirst(issue.message)}, ${got}`;
    case 'custom':
      return `${where}: ${issue.message}`;
    default:
      return issue.input === undefined
        ? `${where}: ${lowerFirst(issue.message)}`
        : `${where}: ${lowerFirst(issue.message)}, ${got}`;
  }
}

/** ["runs", 3, "arm"] -> "runs[3].arm" */
function pathText(path: PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
