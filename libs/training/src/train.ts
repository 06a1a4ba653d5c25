import type * as tfl from '@tensorflow/tfjs-layers';
import { tf } from '@vicinal/backend';
import {
  DEFAULT_PREFETCH,
  DEFAULT_STEPS_PER_QUERY,
  type LossSettings,
  type MixupSettings,
  type Recipe,
} from '@vicinal/config';
import {
  type ImageSplit,
  normaliseWithTable,
  pixelTable,
  sourceRows,
} from '@vicinal/data';
import {
  blendedLoss,
  createRandom,
  fusedBlendedLoss,
  mixedHardLabels,
  mixedHardLabelsArray,
  mixPixelsNormalised,
  sampleMixing,
} from '@vicinal/distillation';
import {
  type Attributes,
  activeLink,
  failSpan,
  inSpan,
  instruments,
  type Span,
  startSpan,
} from '@vicinal/telemetry';
import { type Batch, batchesInOrder, stepsPerEpoch } from './batches.js';
import {
  captureCheckpoint,
  restoreCheckpoint,
  type TrainingCheckpoint,
} from './checkpoint.js';
import type { MixedBatchQuery, TeacherSource } from './teacher-source.js';

/** The image geometry and normalisation of a data set. */
export interface ImageSpec {
  shape: [number, number, number];
  numClasses: number;
  mean: number[];
  std: number[];
}

export interface EpochProgress {
  epoch: number;
  epochs: number;
  step: number;
  loss: number;
  samplesPerSecond: number;
}

export interface TrainOptions {
  model: tfl.LayersModel;
  train: ImageSplit;
  spec: ImageSpec;
  /** How to train; `schedule` defaults to linear decay, as in settings files. */
  recipe: Omit<Recipe, 'schedule'> & { schedule?: Recipe['schedule'] };
  /** Mixing of the inputs; null trains on clean inputs. */
  mixup: MixupSettings | null;
  /** Loss settings; beta is used only when a teacher is given. */
  loss: LossSettings;
  teacher: TeacherSource | null;
  seed: number;
  /** Teacher queries kept in flight ahead of the step being trained. */
  prefetch?: number;
  /**
   * Training steps each teacher query covers, sent as one request (a
   * teacher with softLabelsMany only; default DEFAULT_STEPS_PER_QUERY for
   * those, 1 for the others). `prefetch` queries of this many steps each are
   * kept in flight.
   */
  stepsPerQuery?: number;
  onEpoch?: (progress: EpochProgress) => void | Promise<void>;
  /** Called every `progressEvery` steps with the running figures. */
  onStep?: (progress: EpochProgress) => void;
  progressEvery?: number;
  signal?: AbortSignal;
  /** Continue a run from the checkpoint taken after one of its epochs. */
  resumeFrom?: TrainingCheckpoint | null;
  /** Called after every epoch but the last with a checkpoint to store. */
  onCheckpoint?: (checkpoint: TrainingCheckpoint) => Promise<void>;
  /**
   * Attributes of the epoch/step spans and the training metrics (e.g.
   * vicinal.role, vicinal.arm); keep them few-valued, they label metrics.
   */
  attributes?: Attributes;
}

export interface TrainSummary {
  steps: number;
  samples: number;
  trainSeconds: number;
  samplesPerSecond: number;
  finalLoss: number;
  /**
   * Time training stood still waiting for teacher answers, in this call
   * (0 without a teacher): what pipelining the queries did not hide.
   */
  teacherWaitSeconds: number;
}

interface PlannedStep {
  epoch: EpochPlan;
  /** Position of the step in its epoch, from 0. */
  index: number;
  /** The step's number in the run, from 1 (its span's vicinal.step). */
  number: number;
  batch: Batch;
  partner: Int32Array;
  lambda: Float32Array;
  /** What the teacher is asked for this step (null without a teacher). */
  query: MixedBatchQuery | null;
  /** Its answer, once the query is sent. */
  teacherLogits: Promise<Float32Array> | null;
  /** The step's own trace: its teacher query and its training. */
  span: Span;
}

/**
 * Trains `model` on the split: a student when a teacher is given (blended
 * loss on the teacher's soft labels), else on (mixed) hard labels. Every
 * random choice comes from `seed`, so a run is reproducible whatever the
 * teacher's latency. The teacher is asked for batch k+1.. while batch k
 * trains, across epoch boundaries too, so a remote teacher's latency
 * overlaps the training step; a teacher that takes several batches at once
 * (softLabelsMany) is asked for `stepsPerQuery` steps in one query.
 */
export async function trainNetwork(options: TrainOptions): Promise<TrainSummary> {
  const { model, train, spec, recipe, teacher, signal } = options;
  const [h, w, c] = spec.shape;
  const pixels = h * w * c;
  const inputs: StepInputs = {
    table: pixelTable(spec.mean, spec.std),
    mixed: options.mixup !== null,
  };
  const optimizer = createOptimizer(recipe);
  const beta = teacher ? options.loss.beta : 0;
  const prefetch = Math.max(1, options.prefetch ?? DEFAULT_PREFETCH);
  const perQuery = teacher?.softLabelsMany
    ? Math.max(1, options.stepsPerQuery ?? DEFAULT_STEPS_PER_QUERY)
    : 1;
  const perEpoch = stepsPerEpoch(train.count, recipe.batchSize);
  if (perEpoch === 0) {
    throw new Error(
      `training set has ${train.count} images, fewer than one batch of ${recipe.batchSize}`,
    );
  }
  const resume = options.resumeFrom ?? null;
  if (resume) await restoreCheckpoint(resume, model, optimizer);
  let steps = resume?.steps ?? 0;
  let samples = resume?.samples ?? 0;
  let lastLoss = Number.NaN;
  let teacherWaitMs = 0;
  const started = performance.now() - (resume?.trainSeconds ?? 0) * 1000;
  const attributes = options.attributes ?? {};
  const meters = instruments();
  // One pipeline for the whole run: the last steps of an epoch already have
  // the next epoch's first queries in flight, so it never drains between
  // epochs and only the run's first step waits a whole round trip.
  const opened = new Set<EpochPlan>();
  const plan = planRun(train, {
    firstEpoch: (resume?.epoch ?? 0) + 1,
    epochs: recipe.epochs,
    perEpoch,
    stepsBefore: steps,
    seed: options.seed,
    pixels,
    mixup: options.mixup,
    teacher,
    shape: [recipe.batchSize, h, w, c],
    attributes,
    opened,
  });
  const inFlight: PlannedStep[] = [];
  const endAll = (err: unknown) => {
    for (const s of inFlight) s.span.end();
    for (const e of opened) {
      failSpan(e.span, err);
      e.span.end();
    }
    opened.clear();
  };
  let epochStart = 0;
  let epochLoss = 0;
  let epochSteps = 0;
  for (;;) {
    let issued = false;
    // Keep `prefetch` queries of `perQuery` steps each in flight: a new
    // query leaves once a whole one's steps have trained.
    while (inFlight.length <= (prefetch - 1) * perQuery) {
      const drawn: PlannedStep[] = [];
      while (drawn.length < perQuery) {
        const next = plan.next();
        if (next.done) break;
        drawn.push(next.value);
      }
      if (drawn.length === 0) break;
      if (teacher) askTeacher(teacher, drawn);
      inFlight.push(...drawn);
      issued = true;
      if (drawn.length < perQuery) break;
    }
    // A remote teacher's request leaves the process only when the event
    // loop turns; the training step below holds it for its whole length.
    if (issued && teacher) await new Promise((r) => setImmediate(r));
    const step = inFlight.shift();
    if (!step) break;
    const { epoch } = step.epoch;
    if (step.index === 0) {
      epochStart = performance.now();
      epochLoss = 0;
      epochSteps = 0;
    }
    if (signal?.aborted) {
      step.span.end();
      const reason = signal.reason ?? new Error('training aborted');
      endAll(reason);
      throw reason;
    }
    let loss: number;
    try {
      const waitStart = performance.now();
      const teacherLogits = step.teacherLogits ? await step.teacherLogits : null;
      const computeStart = performance.now();
      if (teacherLogits) {
        meters.trainTeacherWait.record(computeStart - waitStart, attributes);
        teacherWaitMs += computeStart - waitStart;
      }
      setLearningRate(optimizer, learningRateAt(recipe, steps, perEpoch * recipe.epochs));
      loss = trainStep(
        model,
        optimizer,
        step,
        teacherLogits,
        spec,
        inputs,
        options.loss,
        beta,
      );
      meters.trainStepDuration.record(performance.now() - computeStart, attributes);
      step.span.setAttributes({
        'vicinal.batch.size': step.batch.size,
        'vicinal.loss': loss,
      });
    } catch (err) {
      failSpan(step.span, err);
      step.span.end();
      endAll(err);
      throw err;
    }
    step.span.end();
    meters.trainSteps.add(1, attributes);
    meters.trainSamples.add(step.batch.size, attributes);
    epochLoss += loss;
    epochSteps += 1;
    steps += 1;
    samples += step.batch.size;
    lastLoss = loss;
    const progress = (): EpochProgress => ({
      epoch,
      epochs: recipe.epochs,
      step: epochSteps,
      loss: epochLoss / epochSteps,
      samplesPerSecond: (epochSteps * recipe.batchSize) / secondsSince(epochStart),
    });
    if (options.onStep && steps % (options.progressEvery ?? 20) === 0) {
      options.onStep(progress());
    }
    if (step.index === perEpoch - 1) {
      const summary = progress();
      meters.trainLoss.record(summary.loss, attributes);
      step.epoch.span.setAttributes({
        'vicinal.loss': summary.loss,
        'vicinal.steps': epochSteps,
      });
      step.epoch.span.end();
      opened.delete(step.epoch);
      try {
        await options.onEpoch?.(summary);
        if (options.onCheckpoint && epoch < recipe.epochs) {
          const trainSeconds = secondsSince(started);
          await options.onCheckpoint(
            await captureCheckpoint(model, optimizer, {
              epoch,
              steps,
              samples,
              trainSeconds,
            }),
          );
        }
      } catch (err) {
        endAll(err);
        throw err;
      }
    }
    // Yield to the event loop so responses and heartbeats are handled.
    await new Promise((r) => setImmediate(r));
  }
  optimizer.dispose();
  const trainSeconds = secondsSince(started);
  return {
    steps,
    samples,
    trainSeconds,
    samplesPerSecond: samples / trainSeconds,
    finalLoss: lastLoss,
    teacherWaitSeconds: teacherWaitMs / 1000,
  };
}

/** One epoch of a run's plan: its number and its trace span. */
interface EpochPlan {
  epoch: number;
  span: Span;
}

/**
 * Every step of the epochs still to train, in order, each with its batch,
 * its mixing and its teacher query (sent when the step is drawn). Each
 * epoch's shuffle and mixing depend only on (seed, epoch), so a run resumed
 * from a checkpoint draws exactly what an unbroken run would, and drawing an
 * epoch's first steps early changes nothing.
 */
function* planRun(
  train: ImageSplit,
  ctx: {
    firstEpoch: number;
    epochs: number;
    perEpoch: number;
    /** Steps trained before firstEpoch (a resumed run). */
    stepsBefore: number;
    seed: number;
    pixels: number;
    mixup: MixupSettings | null;
    teacher: TeacherSource | null;
    shape: MixedBatchQuery['shape'];
    attributes: Attributes;
    /** Epochs whose span is open; the caller ends them. */
    opened: Set<EpochPlan>;
  },
): Generator<PlannedStep> {
  const batchSize = ctx.shape[0];
  for (let epoch = ctx.firstEpoch; epoch <= ctx.epochs; epoch++) {
    // An epoch is a span of the job's trace; each step gets a trace of its
    // own (linked to the epoch), so one step is one readable trace.
    const span = startSpan('vicinal.train.epoch', {
      attributes: {
        ...ctx.attributes,
        'vicinal.epoch': epoch,
        'vicinal.epochs': ctx.epochs,
      },
    });
    const plan: EpochPlan = { epoch, span };
    ctx.opened.add(plan);
    const link = inSpan(span, () => activeLink());
    const firstStep = ctx.stepsBefore + (epoch - ctx.firstEpoch) * ctx.perEpoch;
    const random = createRandom(epochSeed(ctx.seed, epoch));
    const order = random.permutation(train.count);
    let index = 0;
    for (const batch of batchesInOrder(train, order, batchSize, ctx.pixels)) {
      const stepSpan = startSpan('vicinal.train.step', {
        root: true,
        links: link ? [link] : [],
        attributes: {
          ...ctx.attributes,
          'vicinal.epoch': epoch,
          'vicinal.step': firstStep + index + 1,
        },
      });
      const mixing = ctx.mixup
        ? sampleMixing(random, batch.size, ctx.mixup)
        : identityMixing(batch.size);
      const query: MixedBatchQuery | null = ctx.teacher
        ? {
            images: batch.images,
            shape: ctx.shape,
            partner: mixing.partner,
            lambda: mixing.lambda,
            rows: sourceRows(train, batch.indices) ?? undefined,
          }
        : null;
      yield {
        epoch: plan,
        number: firstStep + index + 1,
        index: index++,
        batch,
        partner: mixing.partner,
        lambda: mixing.lambda,
        query,
        teacherLogits: null,
        span: stepSpan,
      };
    }
  }
}

/**
 * Sends the teacher query of `steps` (consecutive, planned): one query for
 * all of them when the teacher takes several batches at once, in the first
 * step's trace, else one per step, each in its own step's trace. Every step
 * span's vicinal.teacher.query_step names the step whose trace holds its query.
 */
function askTeacher(teacher: TeacherSource, steps: PlannedStep[]): void {
  const queries = steps.map((s) => s.query).filter((q) => q !== null);
  if (queries.length !== steps.length) return;
  if (steps.length > 1 && teacher.softLabelsMany) {
    const many = teacher.softLabelsMany.bind(teacher);
    const all = inSpan(steps[0].span, () => many(queries));
    steps.forEach((step, i) => {
      step.span.setAttribute('vicinal.teacher.query_step', steps[0].number);
      step.teacherLogits = all.then((logits) => {
        const mine = logits[i];
        if (!mine) {
          throw new Error(
            `teacher ${teacher.address}: expected logits for ${steps.length} batches, ` +
              `got ${logits.length}`,
          );
        }
        return mine;
      });
    });
  } else {
    for (const [i, step] of steps.entries()) {
      step.span.setAttribute('vicinal.teacher.query_step', step.number);
      step.teacherLogits = inSpan(step.span, () => teacher.softLabels(queries[i]));
    }
  }
  // A rejected query is awaited later; keep Node from flagging it meanwhile.
  for (const step of steps) step.teacherLogits?.catch(() => {});
}

/** The learning rate of the step after `done` of `total` steps. */
export function learningRateAt(
  recipe: Pick<Recipe, 'learningRate'> & { schedule?: Recipe['schedule'] },
  done: number,
  total: number,
): number {
  if (recipe.schedule === 'constant') return recipe.learningRate;
  return recipe.learningRate * (1 - done / total);
}

/** The recipe's optimiser: Adam (default) or SGD with Nesterov momentum 0.9. */
function createOptimizer(
  recipe: Pick<Recipe, 'learningRate' | 'optimizer'>,
): tf.Optimizer {
  if (recipe.optimizer === 'sgd-momentum') {
    return tf.train.momentum(recipe.learningRate, 0.9, true);
  }
  return tf.train.adam(recipe.learningRate);
}

/** tf's optimizers read `learningRate` at every update; it is not public API. */
function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  // SGD and momentum keep the rate as a cached scalar that their own setter
  // renews (tf's optimizer classes answer instanceof for any optimizer).
  const sgd = optimizer as Partial<tf.SGDOptimizer>;
  if (typeof sgd.setLearningRate === 'function') sgd.setLearningRate(rate);
  else (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

/** The seed of one epoch's shuffle and mixing, derived from the run's seed. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch, 0x85ebca6b)) >>> 0;
}

function identityMixing(n: number) {
  const partner = new Int32Array(n);
  for (let i = 0; i < n; i++) partner[i] = i;
  return { partner, lambda: new Float32Array(n).fill(1) };
}

/** How a step turns its uint8 batch into model input. */
interface StepInputs {
  /** pixelTable(mean, std): the normalised value of every pixel value. */
  table: Float32Array;
  /** Whether the batch is mixed (mixup) or only normalised. */
  mixed: boolean;
}

function trainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  step: PlannedStep,
  teacherLogits: Float32Array | null,
  spec: ImageSpec,
  inputs: StepInputs,
  loss: LossSettings,
  beta: number,
): number {
  const { batch } = step;
  // Normalise and mix in one pass on the uint8 batch (the addon's loop when
  // built), the same float32 numbers as normalising and then mixing with tf
  // ops, which took about 4 ms of a 38 ms student step on wasm; the teacher
  // builds its mixed batch with the same function.
  const [h, w, c] = spec.shape;
  const pixels = inputs.mixed
    ? mixPixelsNormalised(batch.images, inputs.table, c, step.partner, step.lambda)
    : normaliseWithTable(batch.images, inputs.table, c);
  // The plain variant (and pure cross-entropy, whatever the variant) is the
  // fused loss: one op on the tape, the targets kept as arrays. The other
  // variants are tensor expressions from the loss registry.
  const fused = beta === 0 || loss.variant === 'plain';
  const cost = tf.tidy((): tf.Scalar => {
    const input = tf.tensor4d(pixels, [batch.size, h, w, c], 'float32');
    const labels = { labels: batch.labels, partner: step.partner, lambda: step.lambda };
    const lossOf = fused
      ? fusedLossOf(labels, teacherLogits, spec.numClasses, loss, beta)
      : registryLossOf(labels, teacherLogits, spec.numClasses, loss, beta);
    const value = optimizer.minimize(
      () => lossOf(model.apply(input, { training: true }) as tf.Tensor2D),
      true,
    );
    if (!value) throw new Error('optimizer returned no loss value');
    return value;
  });
  const value = cost.dataSync()[0];
  cost.dispose();
  if (!Number.isFinite(value)) throw new Error(`training diverged: loss is ${value}`);
  return value;
}

interface StepLabels {
  labels: ArrayLike<number>;
  partner: Int32Array;
  lambda: Float32Array;
}

function fusedLossOf(
  step: StepLabels,
  teacher: Float32Array | null,
  numClasses: number,
  loss: LossSettings,
  beta: number,
): (student: tf.Tensor2D) => tf.Scalar {
  const yMix =
    beta < 1
      ? mixedHardLabelsArray(step.labels, step.partner, step.lambda, numClasses)
      : undefined;
  return (student) =>
    fusedBlendedLoss({
      student,
      teacher: teacher ?? undefined,
      yMix,
      beta,
      temperature: loss.temperature,
    });
}

function registryLossOf(
  step: StepLabels,
  teacherLogits: Float32Array | null,
  numClasses: number,
  loss: LossSettings,
  beta: number,
): (student: tf.Tensor2D) => tf.Scalar {
  const yMix = mixedHardLabels(step.labels, step.partner, step.lambda, numClasses);
  const teacher = teacherLogits
    ? tf.tensor2d(teacherLogits, [step.lambda.length, numClasses])
    : undefined;
  return (student) =>
    blendedLoss({
      student,
      teacher,
      yMix,
      beta,
      temperature: loss.temperature,
      variant: loss.variant,
    });
}

function secondsSince(t: number): number {
  return (performance.now() - t) / 1000;
}
