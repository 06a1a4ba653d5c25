/**
 * Bench child: student training throughput of the kd+mixup arm on a real
 * Fashion-MNIST subset with (a) no teacher, (b) the teacher in this process,
 * (c) a teacher server over loopback gRPC, sent row numbers when it holds the
 * training split, as a local study's teacher does ("remote"), or sent the
 * images ("remote-pixels"), both with the trainer's default of several
 * steps' queries in one request, or sent row numbers one step per request
 * ("remote-per-step"), and, as a diagnostic, (d) a "free" teacher
 * answering instantly with fixed logits: the student's own cost of
 * distillation (the KD loss term), which no teacher placement can beat. The
 * modes are interleaved within each repetition, so slow drifts of the
 * machine hit them alike, and their order changes from one repetition to
 * the next (modeOrder, a balanced Latin square), so no mode always runs right
 * after the same other one: the in-process teacher leaves garbage and cold
 * caches to whatever runs next.
 */
import { initBackend } from '@vicinal/backend';
import { loadDataset, subset } from '@vicinal/data';
import {
  InProcessTeacher,
  type MixedBatchQuery,
  RemoteTeacher,
  type TeacherSource,
  trainNetwork,
} from '@vicinal/training';
import { childSettings, progress, runChild } from './child-io.js';
import { buildBenchModel, type ModelSettings } from './models.js';
import { modeOrder, steadyState } from './stats.js';
import type { StudentMode } from './student-modes.js';

export interface StudentSettings {
  student: ModelSettings;
  teacher: ModelSettings;
  /** host:port of the teacher server and its model name (mode "remote"). */
  teacherAddress: string | null;
  teacherName: string;
  /** Fingerprint of the split the teacher server holds (null: none). */
  heldFingerprint: string | null;
  modes: StudentMode[];
  reps: number;
  /**
   * A repetition is one training run of `epochsPerRep` epochs over
   * `stepsPerEpoch` batches; the query pipeline runs across its epochs as in
   * a real job, so it fills once per run, not once per epoch.
   */
  stepsPerEpoch: number;
  epochsPerRep: number;
  warmupSteps: number;
  batchSize: number;
  /** Teacher queries in flight ahead of the training step (the trainer's default, DEFAULT_PREFETCH). */
  prefetch: number;
  /** Steps per teacher request of the remote modes but "remote-per-step" (the trainer's default). */
  stepsPerQuery: number;
  seed: number;
}

export interface StudentResult {
  backend: string;
  /**
   * Per mode, samples/s of every repetition in steady state: from the end of
   * the run's first step to the end of its last. The first step includes the
   * one round trip no pipelining can hide (nothing is in flight yet); a real
   * job pays it once in thousands of steps, a repetition once in 60.
   */
  samplesPerSecond: Record<string, number[]>;
  /** Per mode, samples/s of every repetition over the whole run, first step included. */
  wholeRunSamplesPerSecond: Record<string, number[]>;
  /** Per mode, ms from the call to the end of the run's first step, per repetition. */
  firstStepMs: Record<string, number[]>;
  /** Per mode, ms from each teacher query to its logits (all repetitions). */
  teacherLatencyMs: Record<string, number[]>;
  /** Per mode, ms per step that training stood waiting for the teacher, per repetition. */
  teacherWaitMsPerStep: Record<string, number[]>;
  /** Steps per repetition, and the epochs they make. */
  steps: number;
  epochs: number;
  batchSize: number;
  trainImages: number;
  prefetch: number;
  stepsPerQuery: number;
  /** What mode "remote" sent: row numbers (the server holds the split) or images. */
  remoteSends: 'rows' | 'pixels';
}

/** Answers at once with the same seeded logits: the KD loss without a teacher's cost. */
class FreeTeacher implements TeacherSource {
  readonly kind = 'in-process';
  readonly address = 'free';
  readonly model = 'free';
  private readonly logits: Float32Array;
  constructor(rows: number, classes: number) {
    this.logits = Float32Array.from({ length: rows * classes }, (_, i) =>
      Math.sin(i * 12.9898),
    );
  }
  async softLabels(): Promise<Float32Array> {
    return this.logits;
  }
  async close(): Promise<void> {}
}

/**
 * Records how long each request takes to answer: one query, or the several
 * batches of a softLabelsMany call (which it has only when the inner source
 * has, as the trainer checks for it).
 */
class TimedTeacher implements TeacherSource {
  readonly latencies: number[] = [];
  readonly softLabelsMany?: (
    queries: readonly MixedBatchQuery[],
  ) => Promise<Float32Array[]>;
  constructor(private readonly inner: TeacherSource) {
    const many = inner.softLabelsMany?.bind(inner);
    if (many) this.softLabelsMany = (queries) => this.timed(() => many(queries));
  }
  get kind() {
    return this.inner.kind;
  }
  get address() {
    return this.inner.address;
  }
  get model() {
    return this.inner.model;
  }
  softLabels(query: MixedBatchQuery): Promise<Float32Array> {
    return this.timed(() => this.inner.softLabels(query));
  }
  private async timed<T>(ask: () => Promise<T>): Promise<T> {
    const start = performance.now();
    const value = await ask();
    this.latencies.push(performance.now() - start);
    return value;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function main(): Promise<StudentResult> {
  const s = childSettings<StudentSettings>('student-throughput');
  const backend = await initBackend();
  const data = await loadDataset({ name: 'fashion-mnist' });
  const n = s.batchSize * s.stepsPerEpoch;
  const train = subset(data.train, n, s.seed);
  const warmTrain = subset(data.train, s.batchSize * s.warmupSteps, s.seed + 1);
  const spec = {
    shape: data.shape,
    numClasses: data.numClasses,
    mean: data.mean,
    std: data.std,
  };
  const student = buildBenchModel({ ...s.student, shape: data.shape });
  const sources = new Map<StudentMode, TimedTeacher | null>();
  for (const mode of s.modes) {
    if (mode === 'none') sources.set(mode, null);
    if (mode === 'free') {
      sources.set(mode, new TimedTeacher(new FreeTeacher(s.batchSize, data.numClasses)));
    }
    if (mode === 'in-process') {
      const teacher = buildBenchModel({ ...s.teacher, shape: data.shape });
      sources.set(
        mode,
        new TimedTeacher(
          new InProcessTeacher(teacher, {
            mean: data.mean,
            std: data.std,
            disposeOnClose: true,
          }),
        ),
      );
    }
    if (mode === 'remote' || mode === 'remote-pixels' || mode === 'remote-per-step') {
      if (!s.teacherAddress)
        throw new Error('teacherAddress: expected host:port, got none');
      const sendRows = mode !== 'remote-pixels';
      sources.set(
        mode,
        new TimedTeacher(
          await RemoteTeacher.connect(s.teacherAddress, s.teacherName, { sendRows }),
        ),
      );
    }
  }
  // End times of the steps of the run in progress (onStep is called after
  // every step's update, before the trainer yields to the event loop).
  let stepEnds: number[] = [];
  const run = (mode: StudentMode, split: typeof train, epochs: number) =>
    trainNetwork({
      model: student,
      train: split,
      spec,
      recipe: {
        architecture: s.student.architecture,
        epochs,
        batchSize: s.batchSize,
        learningRate: 0.002,
        trainImages: split.count,
      },
      mixup: { alpha: 1, p: 1 },
      loss: { beta: 0.8, temperature: 2, variant: 'plain' },
      teacher: sources.get(mode) ?? null,
      seed: s.seed,
      prefetch: s.prefetch,
      stepsPerQuery: mode === 'remote-per-step' ? 1 : s.stepsPerQuery,
      progressEvery: 1,
      onStep: () => {
        stepEnds.push(performance.now());
      },
    });
  const samplesPerSecond: Record<string, number[]> = {};
  const wholeRunSamplesPerSecond: Record<string, number[]> = {};
  const firstStepMs: Record<string, number[]> = {};
  const teacherLatencyMs: Record<string, number[]> = {};
  const teacherWaitMsPerStep: Record<string, number[]> = {};
  try {
    for (const mode of s.modes) {
      await run(mode, warmTrain, 1);
      sources.get(mode)?.latencies.splice(0);
      samplesPerSecond[mode] = [];
      wholeRunSamplesPerSecond[mode] = [];
      firstStepMs[mode] = [];
      teacherWaitMsPerStep[mode] = [];
    }
    for (let rep = 1; rep <= s.reps; rep++) {
      for (const mode of modeOrder(s.modes, rep)) {
        stepEnds = [];
        const called = performance.now();
        const summary = await run(mode, train, s.epochsPerRep);
        const steady = steadyState(stepEnds, summary.steps, s.batchSize);
        samplesPerSecond[mode].push(steady);
        wholeRunSamplesPerSecond[mode].push(summary.samplesPerSecond);
        firstStepMs[mode].push(stepEnds[0] - called);
        teacherWaitMsPerStep[mode].push(
          (1000 * summary.teacherWaitSeconds) / summary.steps,
        );
        progress(
          `rep ${rep}/${s.reps} ${mode}: ${steady.toFixed(0)} samples/s steady, ` +
            `${summary.samplesPerSecond.toFixed(0)} whole run`,
        );
      }
    }
  } finally {
    for (const [mode, source] of sources) {
      if (source) teacherLatencyMs[mode] = source.latencies;
      await source?.close();
    }
  }
  return {
    backend: backend.name,
    samplesPerSecond,
    wholeRunSamplesPerSecond,
    firstStepMs,
    teacherLatencyMs,
    teacherWaitMsPerStep,
    steps: s.stepsPerEpoch * s.epochsPerRep,
    epochs: s.epochsPerRep,
    batchSize: s.batchSize,
    trainImages: n,
    prefetch: s.prefetch,
    stepsPerQuery: s.stepsPerQuery,
    remoteSends:
      s.heldFingerprint !== null && train.origin?.fingerprint === s.heldFingerprint
        ? 'rows'
        : 'pixels',
  };
}

runChild('student-throughput', main);
