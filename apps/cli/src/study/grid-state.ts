import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Bus,
  getResult,
  isFinalFailure,
  listResults,
  storedEvents,
} from '@vicinal/bus';
import type { DistillResult, ExperimentPlan, PlannedJob } from '@vicinal/config';

/** Where a study's finished jobs are kept as files: `<out>/runs/<job id>.json`. */
export const RUNS_DIR = 'runs';

export function resultFile(out: string, jobId: string): string {
  return join(out, RUNS_DIR, `${jobId}.json`);
}

/** Writes a job's result file atomically (temp file + rename). */
export function writeResultFile(out: string, result: DistillResult): void {
  mkdirSync(join(out, RUNS_DIR), { recursive: true });
  const file = resultFile(out, result.jobId);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

function readResultFile(out: string, job: PlannedJob): DistillResult | null {
  const file = resultFile(out, job.job.jobId);
  if (!existsSync(file)) return null;
  try {
    const result = JSON.parse(readFileSync(file, 'utf8')) as DistillResult;
    return result.jobId === job.job.jobId ? result : null;
  } catch {
    return null;
  }
}

/**
 * The jobs of the plan that already have a result: in the output directory
 * (when given) or in the results bucket. Results found only in the bucket are
 * written as files too.
 */
export async function finishedJobs(
  plan: ExperimentPlan,
  bus: Bus | null,
  out: string | null,
): Promise<Map<string, DistillResult>> {
  const done = new Map<string, DistillResult>();
  for (const job of plan.jobs) {
    const id = job.job.jobId;
    const fromFile = out ? readResultFile(out, job) : null;
    if (fromFile) {
      done.set(id, fromFile);
      continue;
    }
    const stored = bus ? await getResult<DistillResult>(bus, plan.studyId, id) : null;
    if (stored) {
      done.set(id, stored);
      if (out) writeResultFile(out, stored);
    }
  }
  return done;
}

/** What `vicinal status` needs to show progress over a grid. */
export interface StudyManifest {
  studyId: string;
  /** When the grid was first submitted. */
  submittedAt: string;
  /** When the same grid was last submitted again (a re-run), if it was. */
  resubmittedAt?: string;
  teachers: { name: string; model: string; architecture: string; dataset: string }[];
  jobs: {
    jobId: string;
    arm: string;
    teacher: string | null;
    temperature: number | null;
    seed: number;
    dataset: string;
    student: string;
  }[];
}

const manifestKey = (studyId: string) => `study.${studyId}`;

export function studyManifest(plan: ExperimentPlan): StudyManifest {
  return {
    studyId: plan.studyId,
    submittedAt: new Date().toISOString(),
    teachers: plan.teachers.map((t) => ({
      name: t.name,
      model: t.model,
      architecture: t.recipe.architecture,
      dataset: t.dataset.name,
    })),
    jobs: plan.jobs.map((j) => ({
      jobId: j.job.jobId,
      arm: j.job.arm,
      teacher: j.teacher,
      temperature: j.temperature,
      seed: j.job.seed,
      dataset: j.job.dataset.name,
      student: j.job.student.architecture,
    })),
  };
}

/**
 * Stores the grid of a study in the results bucket (`study.<id>`). The same
 * grid submitted again (a re-run, or `vicinal study --no-local-services`
 * after `vicinal submit`) keeps its first submission time and records the
 * new one as `resubmittedAt`; a changed grid is a new submission.
 */
export async function putManifest(bus: Bus, manifest: StudyManifest): Promise<void> {
  const key = manifestKey(manifest.studyId);
  const ids = (m: StudyManifest) => m.jobs.map((j) => j.jobId).join('\n');
  // Read, then write only over what was read: a submission at the same
  // moment makes the write fail, and this reads again.
  for (let attempt = 1; ; attempt++) {
    const entry = await bus.results.get(key);
    const earlier = entry?.operation === 'PUT' ? entry.json<StudyManifest>() : null;
    const stored: StudyManifest =
      earlier && ids(earlier) === ids(manifest)
        ? {
            ...manifest,
            submittedAt: earlier.submittedAt,
            resubmittedAt: manifest.submittedAt,
          }
        : manifest;
    try {
      if (entry) await bus.results.update(key, JSON.stringify(stored), entry.revision);
      else await bus.results.create(key, JSON.stringify(stored));
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

export async function getManifest(
  bus: Bus,
  studyId: string,
): Promise<StudyManifest | null> {
  const entry = await bus.results.get(manifestKey(studyId));
  return entry && entry.operation === 'PUT' ? entry.json<StudyManifest>() : null;
}

/** A label of a job for progress lines: `kd+mixup small T=2 seed 1`. */
export function jobLabel(job: {
  arm: string;
  teacher: string | null;
  temperature: number | null;
  seed: number;
}): string {
  const parts = [job.arm];
  if (job.teacher) parts.push(job.teacher);
  if (job.temperature !== null) parts.push(`T=${job.temperature}`);
  parts.push(`seed ${job.seed}`);
  return parts.join(' ');
}

/** Where each job of a grid stands. */
export interface JobProgress {
  jobId: string;
  label: string;
  /**
   * "dead-lettered": its last delivery failed (or its every worker was
   * killed) and it left the queue; running the study again queues it anew.
   */
  state: 'finished' | 'running' | 'queued' | 'dead-lettered';
  /** The error of its last failure report, if any. */
  lastError: string | null;
  /** Starts seen (more than 1: redelivered or resumed). */
  starts: number;
  worker: string | null;
  accuracy: number | null;
  ece: number | null;
}

/** The progress of every job of the manifest, from the results and the events. */
export async function gridProgress(
  bus: Bus,
  manifest: StudyManifest,
): Promise<JobProgress[]> {
  const events = await storedEvents(bus, manifest.studyId);
  const results = await listResults<DistillResult>(bus, manifest.studyId);
  return manifest.jobs.map((job) => {
    const own = events.filter((e) => e.jobId === job.jobId);
    const started = own.filter((e) => e.type === 'job-started');
    const last = started.at(-1);
    const result = results.get(job.jobId);
    // The newest start or failure report says where an unfinished job is.
    const latest = own.filter((e) => e.type !== 'epoch').at(-1);
    const lastFailure = own.filter((e) => e.type === 'job-failed').at(-1);
    const lost = latest !== undefined && isFinalFailure(latest);
    return {
      jobId: job.jobId,
      label: jobLabel(job),
      state: result
        ? 'finished'
        : lost
          ? 'dead-lettered'
          : started.length > 0
            ? 'running'
            : 'queued',
      lastError: lastFailure?.type === 'job-failed' ? lastFailure.error : null,
      starts: started.length,
      worker: result?.worker ?? (last?.type === 'job-started' ? last.worker : null),
      accuracy: result?.accuracy ?? null,
      ece: result?.ece ?? null,
    };
  });
}
