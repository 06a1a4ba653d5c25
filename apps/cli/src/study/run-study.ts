import { join, resolve } from 'node:path';
import { type BackendName, initBackend } from '@vicinal/backend';
import {
  type Bus,
  connectBus,
  deadLetteredJobs,
  deliveryNote,
  getResult,
  isFinalFailure,
  isJobQueued,
  JOB_MAX_DELIVER,
  lastEventSequence,
  type NatsServerHandle,
  names,
  reapExhaustedJobs,
  retryTransient,
  type SeenEvent,
  startNatsServer,
  submitJob,
  teacherInstance,
  waitForTeacher,
  watchEvents,
} from '@vicinal/bus';
import {
  type DistillResult,
  datasetLabel,
  type ExperimentPlan,
  type ExperimentSettings,
  expandExperiment,
  natsClientEnv,
  natsClientSecurity,
  type PlannedJob,
  studentTrainerConfig,
  teacherServerConfig,
} from '@vicinal/config';
import { type Dataset, type DatasetSettings, loadDataset } from '@vicinal/data';
import type { StudyResults } from '@vicinal/report';
import {
  finishedJobs,
  jobLabel,
  putManifest,
  studyManifest,
  writeResultFile,
} from './grid-state.js';
import { ProcessLedger } from './leftovers.js';
import {
  lastLogLines,
  logPointer,
  type ServiceHandle,
  serviceEntryPoints,
  startService,
} from './services.js';
import { buildResults, buildSummary, type StudySummary } from './summary.js';
import {
  checkCachedTeachers,
  type ObtainedTeacher,
  obtainTeacher,
  pct,
  publishObtainedTeacher,
} from './teachers.js';

export interface StudyRunOptions {
  settings: ExperimentSettings;
  out: string;
  workers: number;
  retrain: boolean;
  /** An existing NATS to use; without it a local nats-server is started. */
  natsUrl?: string;
  /**
   * Start the teacher servers and student trainers here (default). Off on a
   * cluster, where they run as their own deployments and find the work on NATS.
   */
  localServices?: boolean;
  cacheDir: string;
  backend: BackendName | 'auto';
  /** VICINAL_LOG_LEVEL of the services started here (default "info"). */
  serviceLogLevel?: string;
  print: (line: string) => void;
  signal: AbortSignal;
}

/**
 * The teacher server of a local study holds its data set's training split,
 * so the students' queries carry row numbers instead of pixels. Data sets
 * read with loader options are not held (the server reads none): their
 * students send pixels.
 */
function holdDatasetEnv(dataset: DatasetSettings): Record<string, string> {
  if (dataset.options && Object.keys(dataset.options).length > 0) return {};
  return {
    VICINAL_HOLD_DATASET: dataset.name,
    ...(dataset.dir ? { VICINAL_HOLD_DATASET_DIR: resolve(dataset.dir) } : {}),
  };
}

/** One report of a study: the runs of one dataset and one student architecture. */
export interface StudyOutput {
  /** Directory of the report, relative to the study's output directory ('' = it). */
  dir: string;
  results: StudyResults;
}

/** Datasets of a grid, loaded once each. */
export async function loadDatasets(settings: ExperimentSettings): Promise<Dataset[]> {
  const out: Dataset[] = [];
  for (const d of settings.datasets) out.push(await loadDataset(d));
  return out;
}

/** Connects to an existing NATS as the coordinator (credentials from VICINAL_NATS_*). */
export async function connectCoordinator(url: string): Promise<Bus> {
  const security = natsClientSecurity({
    ...natsClientEnv(process.env),
    natsTopology: 'create',
  });
  return connectBus(url, { name: 'vicinal-coordinator', ...security });
}

/**
 * Puts a grid on NATS: skips the jobs whose results exist, obtains and
 * publishes the teachers the remaining kd jobs need, stores the grid for
 * `vicinal status`, and submits one JetStream message per remaining job.
 */
export async function submitExperiment(input: {
  bus: Bus;
  settings: ExperimentSettings;
  plan: ExperimentPlan;
  datasets: Dataset[];
  /** Where result files are kept (null: only the results bucket counts). */
  out: string | null;
  cacheDir: string;
  retrain: boolean;
  train: boolean;
  print: (line: string) => void;
  signal: AbortSignal;
}): Promise<{
  finished: Map<string, DistillResult>;
  pending: PlannedJob[];
  teachers: ObtainedTeacher[];
  /** Per pending job, the copy of it this submission queued or found queued. */
  copies: Map<string, SubmittedCopy>;
}> {
  const { bus, plan, print } = input;
  const finished = await finishedJobs(plan, bus, input.out);
  const pending = plan.jobs.filter((j) => !finished.has(j.job.jobId));
  if (finished.size > 0) {
    print(
      `${finished.size} of ${plan.jobs.length} jobs already have results; ` +
        `${pending.length} to run`,
    );
  }
  const teachers: ObtainedTeacher[] = [];
  for (const t of plan.teachers) {
    if (!plan.jobs.some((j) => j.job.teacherModel === t.model)) {
      print(
        `warning: teacher ${t.name}: no arm distils from it (arms: ` +
          `${input.settings.arms.join(', ')}); it is trained and reported all the same`,
      );
    }
    const teacher = await obtainTeacher(t, input.datasets[t.datasetIndex], bus, {
      cacheDir: input.cacheDir,
      retrain: input.retrain,
      train: input.train,
      print,
      signal: input.signal,
    });
    await publishObtainedTeacher(bus, teacher, input.datasets[t.datasetIndex]);
    teachers.push(teacher);
  }
  if (teachers.length > 0) {
    print(
      `teachers published to the object store: ${teachers
        .map((t) => `${t.plan.model} (${t.plan.name})`)
        .join(', ')}`,
    );
  }
  await putManifest(bus, studyManifest(plan));
  const copies = await submitJobs(bus, plan.studyId, pending, print);
  return { finished, pending, teachers, copies };
}

/**
 * The JetStream message id of a job: the study and job ids, so a re-run
 * while the job is still queued stores it once (the jobs stream's duplicate
 * window is an hour). A job dead-lettered `deadLettered` times before is
 * submitted under a new id, or the re-run's message would be dropped as a
 * duplicate of the one that failed.
 */
export function jobMessageId(
  studyId: string,
  jobId: string,
  deadLettered: number,
): string {
  const id = `${studyId}.${jobId}`;
  return deadLettered > 0 ? `${id}.retry-${deadLettered}` : id;
}

/** The copy of a job a submission queued, or found queued by an earlier run. */
export interface SubmittedCopy {
  /** How many earlier copies the study's events report dead-lettered (0 for most). */
  deadLettered: number;
  /** Stream sequence of this copy's message (the one failure events name). */
  sequence: number;
  /**
   * The study's events up to this sequence were counted for `deadLettered`;
   * a last-delivery failure after it can be this copy's (endsTheWait).
   */
  countedEvents: number;
}

/**
 * Submits one message per pending job and returns, per job, the copy now
 * queued: a job whose earlier copies were dead-lettered is queued again as
 * a new copy, and waitForResults stops only on this copy's dead letter.
 */
export async function submitJobs(
  bus: Bus,
  studyId: string,
  pending: readonly PlannedJob[],
  print: (line: string) => void,
): Promise<Map<string, SubmittedCopy>> {
  // Jobs that ran out of deliveries while no coordinator ran are announced
  // in the advisories stream: dead-letter them first, so they count below.
  await reapExhaustedJobs(bus, {
    signal: new AbortController().signal,
    follow: false,
    onWarning: (message) => print(`warning: ${message}`),
  });
  const countedEvents = await lastEventSequence(bus);
  const earlier = await deadLetteredJobs(bus, studyId);
  const copies = new Map<string, SubmittedCopy>();
  let duplicates = 0;
  let again = 0;
  let replaced = 0;
  for (const j of pending) {
    const times = earlier.get(j.job.jobId) ?? 0;
    if (times > 0) again += 1;
    const id = jobMessageId(studyId, j.job.jobId, times);
    let ack = await submitJob(bus, names.distillSubject, id, j.job);
    // A duplicate whose copy is no longer queued (taken off within the hour
    // without a result or a dead-letter report) would leave nothing to run:
    // queue a fresh copy under an id naming the lost one.
    for (let tries = 0; ack.duplicate && tries < 5; tries++) {
      if (await isJobQueued(bus, ack.sequence)) break;
      ack = await submitJob(
        bus,
        names.distillSubject,
        `${id}.lost-${ack.sequence}`,
        j.job,
      );
      if (!ack.duplicate) replaced += 1;
    }
    copies.set(j.job.jobId, {
      deadLettered: times,
      sequence: ack.sequence,
      countedEvents,
    });
    if (ack.duplicate) duplicates += 1;
  }
  const parts = [`${pending.length - duplicates} queued now`];
  if (duplicates > 0) parts.push(`${duplicates} already queued by an earlier run`);
  if (again > 0) {
    parts.push(
      `${again} of them queued again after being dead-lettered in an earlier run`,
    );
  }
  if (replaced > 0) {
    parts.push(`${replaced} of them queued again as their earlier copy was lost`);
  }
  print(
    `submitted ${pending.length} job${pending.length === 1 ? '' : 's'} for study ${studyId}` +
      (duplicates > 0 || again > 0 || replaced > 0 ? `: ${parts.join(', ')}` : ''),
  );
  return copies;
}

/** How long a study's end waits for its dead-letter reaper to stop. */
const REAPER_STOP_MS = 2000;

/** Times a study starts a teacher server again after it died under it. */
export const TEACHER_RESTARTS = 3;

/**
 * The main job over a grid: trains (or reuses) each teacher, serves each with
 * its own teacher-server process, starts student trainers, submits one job per
 * unfinished grid cell over JetStream, waits for the results (kept as files
 * in `<out>/runs` as they arrive) and summarises them. A re-run on the same
 * output directory skips the finished jobs; processes a killed coordinator
 * left behind are stopped first. Everything it starts is stopped when it
 * returns.
 */
/**
 * The settings this study's own services will read from its environment
 * (VICINAL_STEPS_PER_QUERY, VICINAL_MAX_BATCH, TLS files and the rest),
 * checked before anything starts: a bad one is refused here naming its
 * variable (exit 2), not by services exiting one by one after the start.
 * What the study sets for each service itself is given as set.
 */
function checkServiceSettings(): void {
  const set = {
    natsUrl: 'nats://127.0.0.1:4222',
    backend: 'auto',
    logLevel: 'info',
  } as const;
  teacherServerConfig({ ...set, model: 'study', listen: '127.0.0.1:0' });
  studentTrainerConfig({ ...set, name: 'study' });
}

export async function runStudy(
  options: StudyRunOptions,
): Promise<{ summary: StudySummary; outputs: StudyOutput[] }> {
  const { settings, print, out } = options;
  // The study also stops when the nats-server it started dies under it, or a
  // teacher server keeps dying after its restarts.
  const serviceLost = new AbortController();
  const signal = AbortSignal.any([options.signal, serviceLost.signal]);
  let stopping = false;
  const started = performance.now();
  const plan = expandExperiment(settings);
  // A corrupt cached teacher is reported before anything is started.
  checkCachedTeachers(plan.teachers, options.cacheDir, options.retrain);
  const local = options.localServices ?? true;
  if (local) checkServiceSettings();
  const ledger = new ProcessLedger(out);
  if (!options.natsUrl) await ledger.reclaim(print);
  const backend = await initBackend(options.backend);
  print(`backend: ${backend.name}`);
  const datasets = await loadDatasets(settings);
  settings.datasets.forEach((d, i) => {
    print(
      `dataset: ${d.name}, ${datasets[i].train.count} training and ` +
        `${datasets[i].test.count} test images`,
    );
  });
  print(
    `study ${plan.studyId}: ${plan.teachers.length} teacher(s), ${plan.jobs.length} jobs ` +
      `(${settings.seeds.length} seed(s)` +
      (plan.jobs.some((j) => j.temperature !== null)
        ? `, temperatures ${settings.temperatures.join(', ')})`
        : ', no kd arm)'),
  );

  const services: ServiceHandle[] = [];
  let nats: NatsServerHandle | undefined;
  let bus: Bus | undefined;
  const logDir = join(out, 'logs');
  try {
    if (options.natsUrl) {
      bus = await connectCoordinator(options.natsUrl);
    } else {
      // JetStream data under the output directory: a re-run after a crash finds
      // the queue, the results and the progress events where they were.
      nats = await startNatsServer({ storeDir: join(out, 'nats') });
      const server = nats;
      server.process.once('exit', (code, sig) => {
        if (!stopping)
          serviceLost.abort(
            new Error(
              `the study's nats-server (pid ${server.process.pid}) exited ` +
                `(${code ?? sig}) while the study ran; the queue and results are kept ` +
                `in ${server.storeDir}: run the same command again to resume`,
            ),
          );
      });
      ledger.add('nats-server', nats.process.pid, 'nats-server');
      print(`nats-server with JetStream on ${nats.url} (pid ${nats.process.pid})`);
      bus = await connectBus(nats.url, { name: 'vicinal-coordinator' });
    }
    const natsUrl = options.natsUrl ?? nats!.url;
    // Events up to here are earlier runs' (a re-run replays them all).
    const earlierEvents = await lastEventSequence(bus);
    const submitted = await submitExperiment({
      bus,
      settings,
      plan,
      datasets,
      out,
      cacheDir: options.cacheDir,
      retrain: options.retrain,
      train: true,
      print,
      signal,
    });
    const { pending, teachers, copies } = submitted;
    const results = new Map(submitted.finished);

    if (local && pending.length > 0) {
      // The services' log files hold their life-cycle lines (ready, job
      // started and finished) unless VICINAL_LOG_LEVEL asks otherwise.
      const env = {
        VICINAL_NATS_URL: natsUrl,
        VICINAL_BACKEND: backend.name,
        VICINAL_LOG_LEVEL: options.serviceLogLevel ?? 'info',
      };
      // One teacher-server process per teacher that an unfinished job needs.
      const needed = teachers.filter((t) =>
        pending.some((j) => j.job.teacherModel === t.plan.model),
      );
      const launchTeacher = (t: (typeof needed)[number]) => {
        const server = startService(
          'teacher-server',
          `teacher-server-${t.plan.name}-${datasetLabel(t.plan.dataset)}`,
          {
            ...env,
            VICINAL_TEACHER_MODEL: t.plan.model,
            VICINAL_LISTEN: '127.0.0.1:0',
            ...holdDatasetEnv(t.plan.dataset),
          },
          logDir,
        );
        services.push(server);
        ledger.add(server.name, server.child.pid, serviceEntryPoints['teacher-server']);
        return server;
      };
      // A teacher server that dies while students need it is started again
      // (it re-registers; students find it through the registry), at most
      // TEACHER_RESTARTS times; after that the study ends naming it.
      const superviseTeacher = (
        t: (typeof needed)[number],
        server: ServiceHandle,
        restarts: number,
      ) => {
        void server.exited.then((code) => {
          if (stopping || signal.aborted) return;
          const died =
            `the teacher server for ${t.plan.name} (pid ${server.child.pid}) exited ` +
            `(${code}) while the study ran`;
          if (restarts >= TEACHER_RESTARTS) {
            serviceLost.abort(
              new Error(
                `${died}, after ${restarts} restarts; ${logPointer(server.logFile)}. ` +
                  'Finished jobs are kept: run the same command again to resume',
              ),
            );
            return;
          }
          const again = launchTeacher(t);
          print(
            `${died}; started it again as pid ${again.child.pid} ` +
              `(${restarts + 1}/${TEACHER_RESTARTS}); ${logPointer(server.logFile)}`,
          );
          superviseTeacher(t, again, restarts + 1);
        });
      };
      const launched = needed.map((t) => launchTeacher(t));
      for (const [i, t] of needed.entries()) {
        const server = launched[i];
        const registration = await Promise.race([
          // Its own server's registration, not another one serving the model.
          waitForTeacher(
            bus,
            t.plan.model,
            120_000,
            signal,
            teacherInstance(server.child.pid),
          ),
          server.exited.then((code) => {
            const last = lastLogLines(server.logFile);
            throw new Error(
              `teacher server exited (${code}) before registering; see ${server.logFile}` +
                (last ? `; it said:\n${last}` : ''),
            );
          }),
        ]);
        print(
          `teacher server for ${t.plan.name} ready at ${registration.address} ` +
            `(pid ${server.child.pid})`,
        );
        superviseTeacher(t, server, 0);
      }
      const workers: ServiceHandle[] = [];
      for (let i = 1; i <= options.workers; i++) {
        const worker = startService(
          'student-trainer',
          `student-trainer-${i}`,
          { ...env, VICINAL_WORKER_NAME: `student-trainer-${i}` },
          logDir,
        );
        workers.push(worker);
        services.push(worker);
        ledger.add(worker.name, worker.child.pid, serviceEntryPoints['student-trainer']);
      }
      print(
        `${options.workers} student trainer(s) started (pids ` +
          `${workers.map((w) => w.child.pid).join(', ')}); logs in ${logDir}`,
      );
      await waitForResults(
        bus,
        plan,
        pending,
        results,
        workers,
        out,
        print,
        signal,
        earlierEvents,
        copies,
      );
    } else if (pending.length > 0) {
      print('no local services: teachers and student trainers run elsewhere');
      await waitForResults(
        bus,
        plan,
        pending,
        results,
        null,
        out,
        print,
        signal,
        earlierEvents,
        copies,
      );
    }

    const records = teachers.map((t) => ({
      plan: t.plan,
      record: t.record,
      reused: t.source !== 'trained',
    }));
    const summary = buildSummary({
      settings,
      plan,
      backend: backend.name,
      datasets: datasets.map((d) => ({ train: d.train.count, test: d.test.count })),
      teachers: records,
      results,
      ranHere: pending.length,
      wallSeconds: (performance.now() - started) / 1000,
    });
    return { summary, outputs: studyOutputs(settings, plan, records, results) };
  } catch (err) {
    // Whatever failed first under a lost nats-server, that loss is the reason.
    throw serviceLost.signal.aborted && !options.signal.aborted
      ? serviceLost.signal.reason
      : err;
  } finally {
    stopping = true;
    await Promise.all(services.map((s) => s.stop()));
    await bus?.close().catch(() => {});
    await nats?.stop();
    ledger.clear();
  }
}

/**
 * The results of each dataset x student cell of the grid: the report's unit
 * (its tables compare arms, teachers, temperatures and seeds). One cell is
 * written into the output directory itself, several into sub-directories.
 */
export function studyOutputs(
  settings: ExperimentSettings,
  plan: ExperimentPlan,
  teachers: Parameters<typeof buildResults>[1],
  results: Map<string, DistillResult>,
): StudyOutput[] {
  const cells = settings.datasets.flatMap((d, di) =>
    settings.students.map((s, si) => ({ d, di, s, si })),
  );
  return cells.map(({ d, di, s, si }) => {
    const runs = plan.jobs
      .filter((j) => j.datasetIndex === di && j.studentIndex === si)
      .flatMap((job) => {
        const result = results.get(job.job.jobId);
        return result ? [{ job, result }] : [];
      });
    const cellTeachers = teachers.filter((t) => t.plan.datasetIndex === di);
    const cellSettings = {
      ...settings,
      datasets: [d],
      students: [s],
    };
    return {
      dir: cells.length === 1 ? '' : `${datasetLabel(d)}-${s.architecture}`,
      results: buildResults(cellSettings, cellTeachers, runs),
    };
  });
}

/**
 * Whether an event ends the wait for its job: a last delivery's failure,
 * published after the submission counted the study's events (so during this
 * run), of the copy this run queued or found queued. A dead letter of an
 * older copy (queued beside it, or announced late) does not; an event
 * without `jobSequence`, from a worker older than the field, is taken as the
 * current copy's.
 */
export function endsTheWait(ev: SeenEvent, copy: SubmittedCopy | undefined): boolean {
  if (ev.type !== 'job-failed' || !isFinalFailure(ev)) return false;
  // Events the submission counted concern earlier copies: a copy found
  // dead-lettered there was replaced by a new one.
  if (!copy || ev.sequence <= copy.countedEvents) return false;
  return ev.jobSequence === undefined || ev.jobSequence === copy.sequence;
}

/** How long the wait for results rides out NATS not answering before it gives up. */
const RESULT_READ_BUDGET_MS = 120_000;

async function waitForResults(
  bus: Bus,
  plan: ExperimentPlan,
  pending: PlannedJob[],
  results: Map<string, DistillResult>,
  /** Local workers to watch; null when they run elsewhere. */
  workers: ServiceHandle[] | null,
  out: string,
  print: (line: string) => void,
  signal: AbortSignal,
  /** Sequence of the last event published before this run (see lastEventSequence). */
  earlierEvents: number,
  /** Per job, the copy this run queued or found queued (submitJobs). */
  copies: ReadonlyMap<string, SubmittedCopy>,
): Promise<void> {
  const follow = new AbortController();
  const stopFollow = () => follow.abort();
  signal.addEventListener('abort', stopFollow);
  const labels = new Map(
    plan.jobs.map((j) => [
      j.job.jobId,
      jobLabel({
        arm: j.job.arm,
        teacher: j.teacher,
        temperature: j.temperature,
        seed: j.job.seed,
      }),
    ]),
  );
  const waiting = new Set(pending.map((j) => j.job.jobId));
  // Failed deliveries per job (replayed ones of earlier runs too), and the
  // jobs whose current copy was dead-lettered: waiting longer is pointless.
  const failures = new Map<string, string[]>();
  const lostJobs: string[] = [];
  const progress = (async () => {
    for await (const ev of watchEvents(bus, plan.studyId, follow.signal)) {
      // Events of earlier runs of this study are replayed too: show only
      // those of unfinished jobs, and of earlier runs only the failures
      // (they count towards the delivery limit), marked as such.
      if (!waiting.has(ev.jobId)) continue;
      const label = labels.get(ev.jobId) ?? ev.jobId;
      const earlier = ev.sequence <= earlierEvents;
      if (earlier && ev.type !== 'job-failed') continue;
      if (ev.type === 'job-started') {
        const resumed = ev.resumedAfterEpoch
          ? `, resuming after epoch ${ev.resumedAfterEpoch}`
          : '';
        print(`  [${label}] started on ${ev.worker}${resumed}`);
      }
      if (ev.type === 'epoch') {
        print(
          `  [${label}] epoch ${ev.epoch}/${ev.epochs}: loss ${ev.loss.toFixed(4)}, ` +
            `${ev.samplesPerSecond.toFixed(0)} samples/s`,
        );
      }
      if (ev.type === 'job-failed') {
        const notes = [deliveryNote(ev), earlier ? 'in an earlier run' : null].filter(
          (note) => note !== null,
        );
        print(
          `  [${label}] failed${notes.length ? ` (${notes.join(', ')})` : ''}: ${ev.error}`,
        );
        failures.set(ev.jobId, [...(failures.get(ev.jobId) ?? []), ev.error]);
        if (endsTheWait(ev, copies.get(ev.jobId))) lostJobs.push(ev.jobId);
      }
    }
  })().catch(() => {});
  // A job whose every worker was killed runs out of deliveries with no
  // failure event; this turns the server's announcement into one.
  const reaping = reapExhaustedJobs(bus, {
    signal: follow.signal,
    follow: true,
    pollMs: 1000,
  }).catch((err: Error) => {
    print(
      `warning: jobs whose workers are all killed will not be noticed: ${err.message}`,
    );
    return [];
  });
  const total = plan.jobs.length;
  try {
    while (waiting.size > 0) {
      if (signal.aborted) throw new Error('study interrupted');
      for (const id of [...waiting]) {
        // A nats-server restart makes reads time out until the client is
        // back: wait for it rather than give up. The read that meets the
        // outage rides it out, so its warning is printed once per outage.
        const result = await retryTransient(
          `reading the result of ${labels.get(id)}`,
          () => getResult<DistillResult>(bus, plan.studyId, id),
          {
            signal,
            budgetMs: RESULT_READ_BUDGET_MS,
            onFirstRetry: (message) => print(`warning: ${message}`),
          },
        );
        if (!result) continue;
        waiting.delete(id);
        results.set(id, result);
        writeResultFile(out, result);
        print(
          `  [${labels.get(id)}] done: accuracy ${pct(result.accuracy)}, ECE ` +
            `${result.ece.toFixed(4)} (${results.size}/${total} jobs finished)`,
        );
      }
      const lost = lostJobs.find((id) => waiting.has(id));
      if (lost) {
        throw new Error(
          `job ${labels.get(lost)} failed ${JOB_MAX_DELIVER} deliveries and was ` +
            `dead-lettered; last error: ${failures.get(lost)?.at(-1)}. Run the same ` +
            'command again to retry it',
        );
      }
      const alive = workers?.filter(
        (w) => w.child.exitCode === null && !w.child.signalCode,
      );
      if (workers && waiting.size > 0 && alive?.length === 0) {
        const logs = workers.map((w) => w.logFile).join(', ');
        throw new Error(
          `every student trainer exited before the study finished; see ${logs}`,
        );
      }
      if (waiting.size > 0) await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    follow.abort();
    signal.removeEventListener('abort', stopFollow);
    await progress;
    // A pull in progress ends within its 1 s expiry, but with the nats-server
    // gone it waits for a reconnection that never comes: bounded here, the
    // reaper then ends when the bus is closed.
    await Promise.race([
      reaping,
      new Promise((r) => setTimeout(r, REAPER_STOP_MS).unref()),
    ]);
  }
}
