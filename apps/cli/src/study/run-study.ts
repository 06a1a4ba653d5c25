import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BackendName, initBackend } from '@vicinal/backend';
import {
  type Bus,
  connectBus,
  getResult,
  type NatsServerHandle,
  names,
  publishTeacher,
  startNatsServer,
  submitJob,
  type TeacherMeta,
  waitForTeacher,
  watchEvents,
} from '@vicinal/bus';
import {
  type Arm,
  armUses,
  type DistillJob,
  type DistillResult,
  natsClientEnv,
  natsClientSecurity,
  type StudySettings,
} from '@vicinal/config';
import { loadDataset, subset } from '@vicinal/data';
import {
  buildModel,
  countParameters,
  decodeArtifact,
  encodeArtifact,
} from '@vicinal/models';
import type { StudyResults } from '@vicinal/report';
import { evaluateModel, trainNetwork } from '@vicinal/training';
import { type ServiceHandle, startService } from './services.js';
import { buildResults, buildSummary, type StudySummary } from './summary.js';
import { TeacherCache, type TeacherRecord, teacherKey } from './teacher-cache.js';

export interface StudyRunOptions {
  settings: StudySettings;
  out: string;
  workers: number;
  retrain: boolean;
  /** An existing NATS to use; without it a local nats-server is started. */
  natsUrl?: string;
  /**
   * Start the teacher server and student trainers here (default). Off on a
   * cluster, where they run as their own deployments and find the work on NATS.
   */
  localServices?: boolean;
  cacheDir: string;
  backend: BackendName | 'auto';
  print: (line: string) => void;
  signal: AbortSignal;
}

/**
 * The main job: trains (or reuses) the teacher, serves it, starts student
 * trainers, submits one job per arm over JetStream, waits for the results
 * and summarises them. Everything it starts is stopped when it returns.
 */
export async function runStudy(
  options: StudyRunOptions,
): Promise<{ summary: StudySummary; results: StudyResults }> {
  const { settings, print, signal } = options;
  const started = performance.now();
  const backend = await initBackend(options.backend);
  print(`backend: ${backend.name}`);
  const data = await loadDataset(settings.dataset);
  const spec = {
    shape: data.shape,
    numClasses: data.numClasses,
    mean: data.mean,
    std: data.std,
  };
  print(
    `dataset: ${settings.dataset.name}, ${data.train.count} training and ` +
      `${data.test.count} test images`,
  );

  const teacher = await obtainTeacher(options, data, spec);
  const started_: ServiceHandle[] = [];
  let nats: NatsServerHandle | undefined;
  let bus: Bus | undefined;
  const logDir = join(options.out, 'logs');
  try {
    if (options.natsUrl) {
      // Credentials and TLS from VICINAL_NATS_*; the coordinator creates the topology.
      const security = natsClientSecurity({
        ...natsClientEnv(process.env),
        natsTopology: 'create',
      });
      bus = await connectBus(options.natsUrl, {
        name: 'vicinal-coordinator',
        ...security,
      });
    } else {
      nats = await startNatsServer();
      print(`nats-server with JetStream on ${nats.url} (pid ${nats.process.pid})`);
      bus = await connectBus(nats.url, { name: 'vicinal-coordinator' });
    }
    const natsUrl = options.natsUrl ?? nats!.url;
    const modelName = `teacher-${teacher.record.key}`;
    const meta: TeacherMeta = {
      name: modelName,
      version: teacher.record.key,
      architecture: teacher.record.architecture,
      parameters: teacher.record.parameters,
      inputShape: data.shape,
      numClasses: data.numClasses,
      classNames: data.classNames,
      mean: data.mean,
      std: data.std,
      dataset: settings.dataset.name,
    };
    await publishTeacher(bus, meta, teacher.artifact);
    print(`teacher published to the object store as ${modelName}`);

    const local = options.localServices ?? true;
    const env = { VICINAL_NATS_URL: natsUrl, VICINAL_BACKEND: backend.name };
    if (local) {
      const server = startService(
        'teacher-server',
        'teacher-server',
        { ...env, VICINAL_TEACHER_MODEL: modelName, VICINAL_LISTEN: '127.0.0.1:0' },
        logDir,
      );
      started_.push(server);
      const registration = await Promise.race([
        waitForTeacher(bus, modelName, 120_000, signal),
        server.exited.then((code) => {
          throw new Error(
            `teacher server exited (${code}) before registering; see ${server.logFile}`,
          );
        }),
      ]);
      print(`teacher server ready at ${registration.address} (pid ${server.child.pid})`);
      for (let i = 1; i <= options.workers; i++) {
        started_.push(
          startService(
            'student-trainer',
            `student-trainer-${i}`,
            { ...env, VICINAL_WORKER_NAME: `student-trainer-${i}` },
            logDir,
          ),
        );
      }
      const pids = started_.slice(1).map((s) => s.child.pid);
      print(
        `${options.workers} student trainer(s) started (pids ${pids.join(', ')}); ` +
          `logs in ${logDir}`,
      );
    } else {
      print('no local services: teachers and student trainers run elsewhere');
    }

    const studyId = studyIdentity(settings);
    const jobs = settings.arms.map((arm) => makeJob(studyId, settings, arm, modelName));
    for (const job of jobs) await submitJob(bus, names.distillSubject, job.jobId, job);
    print(`submitted ${jobs.length} jobs for study ${studyId}`);
    const results = await waitForResults(
      bus,
      studyId,
      jobs,
      started_.slice(1),
      print,
      signal,
    );
    const summary = buildSummary({
      settings,
      backend: backend.name,
      data: {
        train: data.train.count,
        test: data.test.count,
        trainSubset: jobs[0].student,
      },
      teacher: teacher.record,
      results,
      wallSeconds: (performance.now() - started) / 1000,
    });
    return {
      summary,
      results: buildResults(
        settings,
        teacher.record,
        teacher.record.architecture,
        results,
      ),
    };
  } finally {
    await Promise.all(started_.map((s) => s.stop()));
    await bus?.close().catch(() => {});
    await nats?.stop();
  }
}

async function obtainTeacher(
  options: StudyRunOptions,
  data: Awaited<ReturnType<typeof loadDataset>>,
  spec: Parameters<typeof trainNetwork>[0]['spec'],
): Promise<{ record: TeacherRecord; artifact: Uint8Array }> {
  const { settings, print } = options;
  const recipe = settings.teacher;
  const key = teacherKey(settings.dataset, recipe, settings.seed);
  const cache = new TeacherCache(join(options.cacheDir, 'teachers'));
  const cached = options.retrain ? null : cache.load(key);
  if (cached) {
    // Proof the cached weights load; the artifact is what gets served.
    (await decodeArtifact(cached.artifact)).dispose();
    print(
      `teacher ${recipe.architecture} reused from cache (${key}): test accuracy ` +
        `${pct(cached.record.test.accuracy)}`,
    );
    return cached;
  }
  const train = recipe.trainImages
    ? subset(data.train, recipe.trainImages, settings.seed)
    : data.train;
  const model = buildModel(recipe.architecture, {
    inputShape: data.shape,
    numClasses: data.numClasses,
    seed: settings.seed,
  });
  const parameters = countParameters(model);
  print(
    `training teacher ${recipe.architecture} (${parameters} parameters) on ` +
      `${train.count} images for ${recipe.epochs} epoch(s), without mixup`,
  );
  const summary = await trainNetwork({
    model,
    train,
    spec,
    recipe,
    mixup: null,
    loss: settings.loss,
    teacher: null,
    seed: settings.seed,
    signal: options.signal,
    progressEvery: 50,
    onStep: (p) =>
      print(
        `  teacher epoch ${p.epoch}/${p.epochs} step ${p.step}: loss ${p.loss.toFixed(4)}, ` +
          `${p.samplesPerSecond.toFixed(0)} samples/s`,
      ),
  });
  const report = evaluateModel(model, data.test, spec);
  const record: TeacherRecord = {
    key,
    architecture: recipe.architecture,
    parameters,
    recipe,
    seed: settings.seed,
    trainSeconds: summary.trainSeconds,
    test: {
      accuracy: report.accuracy,
      ece: report.ece,
      mce: report.mce,
      overconfidence: report.overconfidence,
      nll: report.nll,
      brier: report.brier,
      adaptiveEce: report.adaptiveEce,
      reliability: report.bins,
    },
  };
  const artifact = await encodeArtifact(model);
  model.dispose();
  cache.save(record, artifact);
  print(
    `teacher trained in ${summary.trainSeconds.toFixed(0)} s: test accuracy ` +
      `${pct(report.accuracy)}, ECE ${report.ece.toFixed(4)}`,
  );
  return { record, artifact };
}

function makeJob(
  studyId: string,
  settings: StudySettings,
  arm: Arm,
  teacherModel: string,
): DistillJob {
  const uses = armUses(arm);
  return {
    kind: 'distill',
    studyId,
    jobId: `${studyId}-${arm.replace('+', '-')}-s${settings.seed}`,
    arm,
    seed: settings.seed,
    dataset: settings.dataset,
    student: settings.student,
    loss: settings.loss,
    mixup: settings.mixup,
    analysisPairs: settings.analysisPairs,
    teacherModel: uses.teacher ? teacherModel : null,
  };
}

/** A study's id: its name plus a hash of its settings, so a changed study is new. */
export function studyIdentity(settings: StudySettings): string {
  const hash = createHash('sha256').update(JSON.stringify(settings)).digest('hex');
  return `${settings.name}-${hash.slice(0, 10)}`;
}

async function waitForResults(
  bus: Bus,
  studyId: string,
  jobs: DistillJob[],
  /** Local workers to watch; null when they run elsewhere. */
  workers: ServiceHandle[] | null,
  print: (line: string) => void,
  signal: AbortSignal,
): Promise<DistillResult[]> {
  const follow = new AbortController();
  const stopFollow = () => follow.abort();
  signal.addEventListener('abort', stopFollow);
  const armOf = new Map(jobs.map((j) => [j.jobId, j.arm]));
  const progress = (async () => {
    for await (const ev of watchEvents(bus, studyId, follow.signal)) {
      const arm = armOf.get(ev.jobId) ?? ev.jobId;
      if (ev.type === 'job-started') {
        const resumed = ev.resumedAfterEpoch
          ? `, resuming after epoch ${ev.resumedAfterEpoch}`
          : '';
        print(`  [${arm}] started on ${ev.worker}${resumed}`);
      }
      if (ev.type === 'epoch') {
        print(
          `  [${arm}] epoch ${ev.epoch}/${ev.epochs}: loss ${ev.loss.toFixed(4)}, ` +
            `${ev.samplesPerSecond.toFixed(0)} samples/s`,
        );
      }
      if (ev.type === 'job-finished') {
        print(`  [${arm}] done: accuracy ${pct(ev.accuracy)}, ECE ${ev.ece.toFixed(4)}`);
      }
      if (ev.type === 'job-failed') print(`  [${arm}] failed: ${ev.error}`);
    }
  })().catch(() => {});
  try {
    const done = new Map<string, DistillResult>();
    while (done.size < jobs.length) {
      if (signal.aborted) throw new Error('study interrupted');
      for (const job of jobs) {
        if (done.has(job.jobId)) continue;
        const result = await getResult<DistillResult>(bus, studyId, job.jobId);
        if (result) done.set(job.jobId, result);
      }
      const alive = workers?.filter(
        (w) => w.child.exitCode === null && !w.child.signalCode,
      );
      if (workers && done.size < jobs.length && alive?.length === 0) {
        const logs = workers.map((w) => w.logFile).join(', ');
        throw new Error(
          `every student trainer exited before the study finished; see ${logs}`,
        );
      }
      if (done.size < jobs.length) await new Promise((r) => setTimeout(r, 500));
    }
    return jobs.map((j) => done.get(j.jobId)!);
  } finally {
    follow.abort();
    signal.removeEventListener('abort', stopFollow);
    await progress;
  }
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
