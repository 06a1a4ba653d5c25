import { hostname } from 'node:os';
import type { JobContext } from '@vicinal/bus';
import {
  type Bus,
  checkpointArtifact,
  deleteArtifact,
  getArtifact,
  getResult,
  publishEvent,
  putArtifact,
  putResult,
  retryTransient,
  type StudyEvent,
  studentArtifact,
} from '@vicinal/bus';
import {
  armUses,
  type ClientTransportSecurity,
  DEFAULT_STEPS_PER_QUERY,
  type DistillJob,
  type DistillResult,
} from '@vicinal/config';
import { type Dataset, loadDataset, subset } from '@vicinal/data';
import { buildModel, countParameters, encodeArtifact } from '@vicinal/models';
import type { Logger } from '@vicinal/telemetry';
import {
  analyseVicinal,
  decodeCheckpoint,
  encodeCheckpoint,
  evaluateModel,
  type FailoverTeacher,
  storedMetrics,
  trainNetwork,
} from '@vicinal/training';
import { epochQualityCheck, recordQuality } from './quality-metrics.js';
import { openTeacher } from './teacher-connection.js';

export interface WorkerContext {
  bus: Bus;
  worker: string;
  backend: string;
  prefetch: number;
  /** Training steps per teacher request (VICINAL_STEPS_PER_QUERY; default DEFAULT_STEPS_PER_QUERY). */
  stepsPerQuery?: number;
  log: Logger;
  /**
   * Seconds to wait for a live teacher (at the start, and whenever the one
   * in use dies) before failing the job.
   */
  teacherWaitSeconds: number;
  /** TLS towards the teachers; plaintext only on loopback unless insecure. */
  teacherSecurity?: ClientTransportSecurity;
}

const datasets = new Map<string, Promise<Dataset>>();

/**
 * Runs one distillation job: trains the student arm, evaluates it on the
 * whole test split, stores the student and the result, then returns (the
 * caller acks only after that). A job whose result is already stored (it
 * finished, but its ack was lost with a stopped worker, or it was submitted
 * again) is not trained again: the stored result is returned and acked.
 */
export async function runDistillJob(
  job: DistillJob,
  jobCtx: JobContext,
  ctx: WorkerContext,
): Promise<DistillResult> {
  const { bus, log } = ctx;
  // Progress, checkpoints and results ride out a nats-server restart (the
  // client reconnects; calls meanwhile time out) instead of failing the job.
  const again = <T>(what: string, call: () => Promise<T>) =>
    retryTransient(what, call, { log, signal: jobCtx.signal });
  const announce = (event: StudyEvent) =>
    again(`publishing ${event.type}`, () => publishEvent(bus, job.studyId, event));
  // Workers without read access to the results bucket just run the job.
  const done = await getResult<DistillResult>(bus, job.studyId, job.jobId).catch(
    () => null,
  );
  if (done) {
    log.info({ job: job.jobId }, 'result already stored; not running the job again');
    return done;
  }
  const uses = armUses(job.arm);
  // A redelivered job continues from the last epoch a previous worker stored.
  const checkpointName = checkpointArtifact(job.studyId, job.jobId);
  const stored = await again('reading the checkpoint', () =>
    getArtifact(bus, checkpointName),
  );
  const resumeFrom = stored ? decodeCheckpoint(stored) : null;
  log.info(
    {
      job: job.jobId,
      study: job.studyId,
      arm: job.arm,
      delivery: jobCtx.deliveryCount,
      resumedAfterEpoch: resumeFrom?.epoch ?? 0,
    },
    'job started',
  );
  await announce({
    type: 'job-started',
    jobId: job.jobId,
    worker: ctx.worker,
    deliveryCount: jobCtx.deliveryCount,
    resumedAfterEpoch: resumeFrom?.epoch ?? 0,
  });
  const key = JSON.stringify(job.dataset);
  if (!datasets.has(key)) datasets.set(key, loadDataset(job.dataset));
  const data = await datasets.get(key)!;
  const spec = {
    shape: data.shape,
    numClasses: data.numClasses,
    mean: data.mean,
    std: data.std,
  };
  const train = job.student.trainImages
    ? subset(data.train, job.student.trainImages, job.seed)
    : data.train;

  let teacher: FailoverTeacher | null = null;
  if (uses.teacher) {
    if (!job.teacherModel)
      throw new Error(`job ${job.jobId}: arm ${job.arm} needs teacherModel`);
    // Survives teacher replicas dying: each query is retried on a live one.
    teacher = await openTeacher(bus, job.teacherModel, {
      waitSeconds: ctx.teacherWaitSeconds,
      security: ctx.teacherSecurity ?? { insecure: false },
      worker: ctx.worker,
      signal: jobCtx.signal,
      log,
    });
    log.info(
      {
        job: job.jobId,
        teacher: teacher.address,
        stepsPerQuery: ctx.stepsPerQuery ?? DEFAULT_STEPS_PER_QUERY,
      },
      'teacher found',
    );
  }
  try {
    const model = buildModel(job.student.architecture, {
      inputShape: data.shape,
      numClasses: data.numClasses,
      seed: job.seed,
    });
    const checkEpoch = epochQualityCheck(model, data.test, spec, job.arm, job.seed);
    const summary = await trainNetwork({
      model,
      train,
      spec,
      recipe: job.student,
      mixup: uses.mixup ? job.mixup : null,
      loss: job.loss,
      teacher,
      seed: job.seed,
      prefetch: ctx.prefetch,
      stepsPerQuery: ctx.stepsPerQuery,
      signal: jobCtx.signal,
      attributes: { 'vicinal.role': 'student', 'vicinal.arm': job.arm },
      resumeFrom,
      onCheckpoint: async (checkpoint) => {
        const bytes = encodeCheckpoint(checkpoint);
        await again('storing the checkpoint', () =>
          putArtifact(bus, checkpointName, bytes),
        );
      },
      onEpoch: async (p) => {
        log.info({ job: job.jobId, ...p }, 'epoch finished');
        if (p.epoch < p.epochs) checkEpoch(p.epoch);
        await announce({
          type: 'epoch',
          jobId: job.jobId,
          epoch: p.epoch,
          epochs: p.epochs,
          loss: p.loss,
          samplesPerSecond: p.samplesPerSecond,
        });
      },
    });
    const report = evaluateModel(model, data.test, spec, job.seed);
    recordQuality(report, {
      arm: job.arm,
      epoch: job.student.epochs,
      images: data.test.count,
    });
    // The vicinal analysis: teacher and student on mixed training pairs.
    const withConstituents = teacher?.softLabelsWithConstituents.bind(teacher);
    const analysis =
      withConstituents && job.analysisPairs >= 2
        ? await analyseVicinal({
            student: model,
            teacher: withConstituents,
            images: train,
            spec,
            pairs: job.analysisPairs,
            seed: job.seed,
          })
        : null;
    const artifact = await encodeArtifact(model);
    await again('storing the student', () =>
      putArtifact(bus, studentArtifact(job.studyId, job.jobId), artifact),
    );
    const result: DistillResult = {
      studyId: job.studyId,
      jobId: job.jobId,
      arm: job.arm,
      seed: job.seed,
      temperature: uses.teacher ? job.loss.temperature : null,
      architecture: job.student.architecture,
      parameters: countParameters(model),
      ...storedMetrics(report),
      temperatureScaling: report.temperatureScaling,
      analysis,
      samplesPerSecond: summary.samplesPerSecond,
      trainSeconds: summary.trainSeconds,
      steps: summary.steps,
      samples: summary.samples,
      teacher: teacher ? { address: teacher.address, model: teacher.model } : null,
      worker: `${ctx.worker}@${hostname()}`,
      backend: ctx.backend,
      finishedAt: new Date().toISOString(),
    };
    model.dispose();
    await again('storing the result', () =>
      putResult(bus, job.studyId, job.jobId, result),
    );
    // The result stored, the checkpoint has served: a later delivery finds
    // the result and does not run the job.
    await deleteArtifact(bus, checkpointName).catch((err: Error) =>
      log.warn({ job: job.jobId, err: err.message }, 'checkpoint not removed'),
    );
    log.info(
      {
        job: job.jobId,
        study: job.studyId,
        accuracy: result.accuracy,
        ece: result.ece,
        trainSeconds: result.trainSeconds,
      },
      'job finished',
    );
    await announce({
      type: 'job-finished',
      jobId: job.jobId,
      accuracy: result.accuracy,
      ece: result.ece,
    });
    return result;
  } finally {
    await teacher?.close();
  }
}
