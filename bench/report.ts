import type { BenchMeasurements, BenchSettings, MachineInfo } from './measurements.js';
import type { ModelTiming } from './model-timing.js';
import {
  quantile,
  type RatioSummary,
  ratio,
  type Summary,
  significant,
  summarise,
} from './stats.js';

/** p50 and p99 of a set of latencies, ms. */
export interface Latency {
  p50: number;
  p99: number;
  n: number;
}

/** A ratio's target from issue 3 and whether this run meets it. */
export interface TargetCheck {
  target: string;
  value: number | null;
  /**
   * null when the figure was not measured, or in a --quick run: a few steps
   * and rows, to check that the bench works, not to judge the targets.
   */
  met: boolean | null;
}

export interface StudentModeReport {
  /** Steady state: from the end of each run's first step to the end of its last. */
  samples_per_second: Summary;
  /** Over each whole run, its first step (the pipeline's first round trip) included. */
  whole_run_samples_per_second: Summary;
  /** ms from the start of each run to the end of its first step. */
  first_step_ms: Summary;
  teacher_latency_ms: Latency | null;
  /** Training's wait for teacher answers per step, over the repetitions (null: no teacher). */
  teacher_wait_ms_per_step: Summary | null;
}

export interface ServerRunReport {
  batch: number;
  clients: number;
  requests_per_client: number;
  samples_per_second: Summary;
  latency_ms: Latency;
  /** Median rows of the coalesced batches the server ran. */
  served_batch_rows_median: number;
  /**
   * Medians of the server's own timings per request: queueing in the batcher
   * and the coalesced batch's inference; the rest of the latency is request
   * handling, gRPC and the client.
   */
  server_queue_ms_median: number;
  server_inference_ms_median: number;
  vs_raw: RatioSummary | null;
}

export interface RawRunReport {
  batch: number;
  calls: number;
  samples_per_second: Summary;
  latency_ms: Latency;
}

export interface ComparisonReport {
  architecture: string;
  shape: [number, number, number];
  parameters: { vicinal: number; pytorch: number };
  train_step_ms: { vicinal: Summary; pytorch: Summary };
  inference_ms: { vicinal: Summary; pytorch: Summary };
  /** vicinal time / PyTorch time. */
  train_step_ratio: RatioSummary;
  inference_ratio: RatioSummary;
  /**
   * Ratio of each side's fastest repetition: the figure least disturbed by
   * other work on a shared machine (PyTorch's threads suffer most from it).
   */
  fastest_ratio: { train_step: number; inference: number };
  /** PyTorch at other thread counts, with vicinal's ratios against it. */
  other_threads: {
    threads: number;
    train_step_ms: Summary;
    inference_ms: Summary;
    train_step_ratio: RatioSummary;
    inference_ratio: RatioSummary;
  }[];
}

/** The bench's JSON output (`vicinal bench --json`). */
export interface BenchReport {
  train_step_ratio_vs_pytorch: number | null;
  inference_ratio_vs_pytorch: number | null;
  /** The same from each side's fastest repetition (see ComparisonReport). */
  train_step_ratio_vs_pytorch_fastest: number | null;
  inference_ratio_vs_pytorch_fastest: number | null;
  /**
   * Remote teacher vs none, the remote student sending what a local study's
   * does: row numbers, the teacher server holding the training split
   * (student_throughput.remote_sends says which it was).
   */
  remote_vs_no_teacher: number | null;
  remote_vs_in_process: number | null;
  /** remote_vs_no_teacher over whole runs: the first step's round trip included. */
  remote_vs_no_teacher_whole_run: number | null;
  /** The same server sent the images (uint8, mixed on the teacher) instead. */
  remote_pixels_vs_no_teacher: number | null;
  /** Row numbers again, but one training step per request instead of several. */
  remote_per_step_vs_no_teacher: number | null;
  server_vs_raw_b128: number | null;
  uint8_bytes_fraction: number | null;
  targets: Record<string, TargetCheck>;
  /** Conditions that make figures less trustworthy or incomplete. */
  warnings: string[];
  settings: BenchSettings;
  started_at: string;
  duration_seconds: number;
  machine: MachineInfo & { pinning: { available: boolean; reason: string } };
  backend: {
    name: string | null;
    registered_kernels: number | null;
    /** Native (oneDNN) kernels in use in section 4, or why not. */
    native: string | null;
  };
  student_throughput: {
    architecture: string;
    teacher_architecture: string;
    batch: number;
    steps_per_rep: number;
    /** The epochs those steps make: one training run, one query pipeline. */
    epochs_per_rep: number;
    /** Teacher queries in flight ahead of the training step. */
    prefetch: number;
    /** Training steps per teacher request (all remote modes but remote-per-step). */
    steps_per_query: number;
    train_images: number;
    /** What mode "remote" sent: row numbers of the held split, or the images. */
    remote_sends: 'rows' | 'pixels';
    modes: Record<string, StudentModeReport>;
    ratios: Record<string, RatioSummary>;
  } | null;
  teacher_server: {
    architecture: string;
    shape: [number, number, number];
    request_mode: 'uint8-mix';
    max_batch: number;
    max_delay_ms: number;
    /** Where the server ran the model: its own thread, or the event loop. */
    inference_thread: 'worker' | 'main';
    /** V8 heap growing percent of the server and raw processes (0: V8's choice). */
    heap_growing_percent: number;
    raw: RawRunReport[];
    server: ServerRunReport[];
  } | null;
  /**
   * Section "load": many students (FailoverTeacher clients) on one teacher
   * with a small queue; latency includes the waits of RESOURCE_EXHAUSTED
   * retries.
   */
  many_students: {
    students: number;
    batch: number;
    requests_per_student: number;
    queue_limit: number;
    samples_per_second: Summary;
    latency_ms: Latency;
    resource_exhausted_retries: number;
    failovers: number;
  } | null;
  wire: {
    modes: {
      mode: string;
      batch: number;
      shape: [number, number, number];
      request_bytes: number;
      request_bytes_per_sample: number;
      fraction_of_float32: number;
      response_bytes: number;
    }[];
  } | null;
  /** vicinal's own train-step and inference times (section 4, also without PyTorch). */
  vicinal_timing:
    | {
        architecture: string;
        shape: [number, number, number];
        parameters: number;
        train_step_ms: Summary;
        inference_ms: Summary;
      }[]
    | null;
  /**
   * Section 4's vicinal timings with the native kernels against the same
   * models on vicinal's wasm kernels alone, alternating in every repetition;
   * speedup = wasm time / native time. Null when native kernels are off.
   */
  native_vs_wasm:
    | {
        architecture: string;
        shape: [number, number, number];
        train_step_ms: { native: Summary; wasm: Summary };
        inference_ms: { native: Summary; wasm: Summary };
        train_step_speedup: RatioSummary | null;
        inference_speedup: RatioSummary | null;
      }[]
    | null;
  pytorch: {
    available: boolean;
    reason: string | null;
    torch_version: string | null;
    threads: number | null;
    comparisons: ComparisonReport[];
  } | null;
}

/** The shape of the default student the headline PyTorch ratios are for. */
export const HEADLINE_SHAPE = '32x32x3';
/** Batch and client count of the server_vs_raw headline. */
export const HEADLINE_SERVER = { batch: 128, clients: 2 };
/** Batch and shape of the uint8_bytes_fraction headline. */
export const HEADLINE_WIRE = { batch: 128, shape: '28x28x1' };

function latency(values: readonly number[]): Latency | null {
  if (values.length === 0) return null;
  return {
    p50: significant(quantile(values, 0.5)),
    p99: significant(quantile(values, 0.99)),
    n: values.length,
  };
}

function rounded(s: Summary): Summary {
  return {
    n: s.n,
    median: significant(s.median),
    min: significant(s.min),
    max: significant(s.max),
    p25: significant(s.p25),
    p75: significant(s.p75),
  };
}

function roundedRatio(r: RatioSummary): RatioSummary {
  return {
    value: significant(r.value),
    low: significant(r.low),
    high: significant(r.high),
  };
}

const shapeKey = (shape: readonly number[]) => shape.join('x');

function studentSection(m: BenchMeasurements): BenchReport['student_throughput'] {
  const r = m.studentThroughput;
  if (!r) return null;
  const modes: Record<string, StudentModeReport> = {};
  const raw: Record<string, Summary> = {};
  const whole: Record<string, Summary> = {};
  for (const [mode, values] of Object.entries(r.samplesPerSecond)) {
    raw[mode] = summarise(values);
    whole[mode] = summarise(r.wholeRunSamplesPerSecond[mode]);
    const lat = r.teacherLatencyMs[mode];
    const wait = r.teacherWaitMsPerStep?.[mode];
    modes[mode] = {
      samples_per_second: rounded(raw[mode]),
      whole_run_samples_per_second: rounded(whole[mode]),
      first_step_ms: rounded(summarise(r.firstStepMs[mode])),
      teacher_latency_ms: lat ? latency(lat) : null,
      teacher_wait_ms_per_step: lat && wait?.length ? rounded(summarise(wait)) : null,
    };
  }
  const ratios: Record<string, RatioSummary> = {};
  const pairs: [string, string, string][] = [
    ['remote_vs_no_teacher', 'remote', 'none'],
    ['remote_vs_in_process', 'remote', 'in-process'],
    ['remote_pixels_vs_no_teacher', 'remote-pixels', 'none'],
    ['in_process_vs_no_teacher', 'in-process', 'none'],
    ['remote_vs_remote_pixels', 'remote', 'remote-pixels'],
    ['remote_per_step_vs_no_teacher', 'remote-per-step', 'none'],
    ['remote_vs_remote_per_step', 'remote', 'remote-per-step'],
    // Diagnostics: what the KD term itself costs, and what the transport costs.
    ['free_teacher_vs_no_teacher', 'free', 'none'],
    ['remote_vs_free_teacher', 'remote', 'free'],
  ];
  for (const [name, a, b] of pairs) {
    if (raw[a] && raw[b]) ratios[name] = roundedRatio(ratio(raw[a], raw[b]));
  }
  // The remote modes over whole runs, for comparison with steady state.
  const wholeRun = new Set([
    'remote_vs_no_teacher',
    'remote_vs_in_process',
    'remote_pixels_vs_no_teacher',
    'remote_per_step_vs_no_teacher',
  ]);
  for (const [name, a, b] of pairs.filter(([name]) => wholeRun.has(name))) {
    if (whole[a] && whole[b]) {
      ratios[`${name}_whole_run`] = roundedRatio(ratio(whole[a], whole[b]));
    }
  }
  return {
    architecture: m.student.architecture,
    teacher_architecture: m.teacher.architecture,
    batch: r.batchSize,
    steps_per_rep: r.steps,
    epochs_per_rep: r.epochs,
    train_images: r.trainImages,
    prefetch: r.prefetch,
    steps_per_query: r.stepsPerQuery,
    remote_sends: r.remoteSends,
    modes,
    ratios,
  };
}

function serverSection(m: BenchMeasurements): BenchReport['teacher_server'] {
  if (!m.serverLoad || !m.rawInference || !m.server) return null;
  const raw = new Map(
    m.rawInference.runs.map((r) => [r.batch, summarise(r.samplesPerSecond)]),
  );
  return {
    architecture: m.teacher.architecture,
    shape: m.teacher.shape,
    request_mode: 'uint8-mix',
    max_batch: m.server.maxBatch,
    max_delay_ms: m.server.maxDelayMs,
    inference_thread: m.server.inferenceThread,
    heap_growing_percent: m.server.heapGrowingPercent,
    raw: m.rawInference.runs.map((r) => ({
      batch: r.batch,
      calls: r.calls,
      samples_per_second: rounded(raw.get(r.batch)!),
      latency_ms: latency(r.latencyMs)!,
    })),
    server: m.serverLoad.runs.map((r) => {
      const s = summarise(r.samplesPerSecond);
      const base = raw.get(r.batch);
      return {
        batch: r.batch,
        clients: r.clients,
        requests_per_client: r.requestsPerClient,
        samples_per_second: rounded(s),
        latency_ms: latency(r.latencyMs)!,
        served_batch_rows_median: quantile(r.servedBatchRows, 0.5),
        server_queue_ms_median: significant(quantile(r.serverQueueMs, 0.5)),
        server_inference_ms_median: significant(quantile(r.serverInferenceMs, 0.5)),
        vs_raw: base ? roundedRatio(ratio(s, base)) : null,
      };
    }),
  };
}

function manyStudentsSection(m: BenchMeasurements): BenchReport['many_students'] {
  const r = m.manyStudents;
  if (!r) return null;
  return {
    students: r.students,
    batch: r.batch,
    requests_per_student: r.requestsPerStudent,
    queue_limit: r.queueLimit,
    samples_per_second: rounded(summarise(r.samplesPerSecond)),
    latency_ms: latency(r.latencyMs)!,
    resource_exhausted_retries: r.resourceExhaustedRetries,
    failovers: r.failovers,
  };
}

function wireSection(m: BenchMeasurements): BenchReport['wire'] {
  if (!m.wire) return null;
  const float32 = new Map(
    m.wire
      .filter((w) => w.mode === 'float32')
      .map((w) => [`${w.batch}/${shapeKey(w.shape)}`, w.requestBytes]),
  );
  return {
    modes: m.wire.map((w) => ({
      mode: w.mode,
      batch: w.batch,
      shape: w.shape,
      request_bytes: w.requestBytes,
      request_bytes_per_sample: significant(w.requestBytesPerSample, 6),
      fraction_of_float32: significant(
        w.requestBytes / (float32.get(`${w.batch}/${shapeKey(w.shape)}`) ?? Number.NaN),
      ),
      response_bytes: w.responseBytes,
    })),
  };
}

function pytorchSection(m: BenchMeasurements): BenchReport['pytorch'] {
  const p = m.pytorch;
  if (!p) return null;
  if (!p.available) {
    return {
      available: false,
      reason: p.reason,
      torch_version: null,
      threads: null,
      comparisons: [],
    };
  }
  const ours = new Map(
    (m.vicinalTiming?.timings ?? []).map((t) => [
      `${t.architecture}/${shapeKey(t.shape)}`,
      t,
    ]),
  );
  const key = (t: ModelTiming) => `${t.architecture}/${shapeKey(t.shape)}`;
  const others = p.otherThreads.map((o) => ({
    threads: o.threads,
    byKey: new Map(o.timings.map((t) => [key(t), t])),
  }));
  const comparisons: ComparisonReport[] = [];
  for (const theirs of p.timings) {
    const mine = ours.get(key(theirs));
    if (!mine) continue;
    const train = summarise(mine.trainStepMs);
    const infer = summarise(mine.inferenceMs);
    const torchTrain = summarise(theirs.trainStepMs);
    const torchInfer = summarise(theirs.inferenceMs);
    comparisons.push({
      architecture: theirs.architecture,
      shape: theirs.shape,
      parameters: { vicinal: mine.parameters, pytorch: theirs.parameters },
      train_step_ms: { vicinal: rounded(train), pytorch: rounded(torchTrain) },
      inference_ms: { vicinal: rounded(infer), pytorch: rounded(torchInfer) },
      train_step_ratio: roundedRatio(ratio(train, torchTrain)),
      inference_ratio: roundedRatio(ratio(infer, torchInfer)),
      fastest_ratio: {
        train_step: significant(train.min / torchTrain.min),
        inference: significant(infer.min / torchInfer.min),
      },
      other_threads: others.flatMap(({ threads, byKey }) => {
        const t = byKey.get(key(theirs));
        if (!t) return [];
        const otherTrain = summarise(t.trainStepMs);
        const otherInfer = summarise(t.inferenceMs);
        return [
          {
            threads,
            train_step_ms: rounded(otherTrain),
            inference_ms: rounded(otherInfer),
            train_step_ratio: roundedRatio(ratio(train, otherTrain)),
            inference_ratio: roundedRatio(ratio(infer, otherInfer)),
          },
        ];
      }),
    });
  }
  return {
    available: true,
    reason: null,
    torch_version: p.torchVersion,
    threads: p.threads,
    comparisons,
  };
}

/** Load average above which other work on the machine likely skews the figures. */
export const BUSY_LOAD_PER_CPU = 0.25;
/** Share of the machine's CPU time used by other processes that skews the figures. */
export const BUSY_OTHER_CPU_SHARE = 0.05;

/** What a reader of the figures should know before trusting them. */
export function benchWarnings(
  m: BenchMeasurements,
  pytorch: BenchReport['pytorch'],
): string[] {
  const out: string[] = [];
  const other = m.machine.otherCpuShare;
  const busy =
    'other work shares the cores (PyTorch with 2 threads suffers most); compare on a ' +
    'quiet machine';
  if (other !== null) {
    // Measured: the CPU time the bench and its children did not use. The
    // load average would count the bench's own processes.
    if (other > BUSY_OTHER_CPU_SHARE) {
      out.push(
        `machine busy: other processes used ${(100 * other).toFixed(1)} % of the ` +
          `${m.machine.cpus} CPUs' time while the bench ran; ${busy}`,
      );
    }
  } else {
    const load = Math.max(m.machine.loadAverageStart, m.machine.loadAverageEnd);
    if (load > BUSY_LOAD_PER_CPU * m.machine.cpus) {
      out.push(
        `machine busy: 1-minute load average ${m.machine.loadAverageStart} at the start, ` +
          `${m.machine.loadAverageEnd} at the end on ${m.machine.cpus} CPUs (the bench's ` +
          `own processes count too); ${busy}`,
      );
    }
  }
  if (!m.pinning.available) out.push(`not pinned: ${m.pinning.reason}`);
  const st = m.studentThroughput;
  if (st?.samplesPerSecond.remote && st.remoteSends !== 'rows') {
    out.push(
      "student: the teacher server did not hold the student's training split, so " +
        'mode remote sent images as remote-pixels does',
    );
  }
  if (pytorch && !pytorch.available) out.push(`no PyTorch comparison: ${pytorch.reason}`);
  if (m.manyStudents?.failovers) {
    out.push(
      `load: ${m.manyStudents.failovers} teacher switches on loopback; the retry ` +
        'count includes those, not only RESOURCE_EXHAUSTED',
    );
  }
  for (const c of pytorch?.comparisons ?? []) {
    if (c.parameters.vicinal !== c.parameters.pytorch) {
      out.push(
        `${c.architecture} ${c.shape.join('x')}: PyTorch model has ` +
          `${c.parameters.pytorch} weights, vicinal ${c.parameters.vicinal}`,
      );
    }
  }
  return out;
}

/** Summarises a run's measurements into the bench's JSON report. */
export function buildReport(m: BenchMeasurements): BenchReport {
  const student = studentSection(m);
  const server = serverSection(m);
  const wire = wireSection(m);
  const pytorch = pytorchSection(m);
  const headline = pytorch?.comparisons.find(
    (c) =>
      c.architecture === m.student.architecture && shapeKey(c.shape) === HEADLINE_SHAPE,
  );
  const serverHeadline = server?.server.find(
    (r) => r.batch === HEADLINE_SERVER.batch && r.clients === HEADLINE_SERVER.clients,
  );
  const wireHeadline = wire?.modes.find(
    (w) =>
      w.mode === 'uint8-mix' &&
      w.batch === HEADLINE_WIRE.batch &&
      shapeKey(w.shape) === HEADLINE_WIRE.shape,
  );
  // A --quick run's figures are measured but not judged (TargetCheck.met).
  const judged = m.settings.preset !== 'quick';
  const check = (value: number | null, target: string, ok: (v: number) => boolean) => ({
    target,
    value,
    met: value === null || !judged ? null : ok(value),
  });
  const report = {
    train_step_ratio_vs_pytorch: headline?.train_step_ratio.value ?? null,
    inference_ratio_vs_pytorch: headline?.inference_ratio.value ?? null,
    train_step_ratio_vs_pytorch_fastest: headline?.fastest_ratio.train_step ?? null,
    inference_ratio_vs_pytorch_fastest: headline?.fastest_ratio.inference ?? null,
    remote_vs_no_teacher: student?.ratios.remote_vs_no_teacher?.value ?? null,
    remote_vs_in_process: student?.ratios.remote_vs_in_process?.value ?? null,
    remote_vs_no_teacher_whole_run:
      student?.ratios.remote_vs_no_teacher_whole_run?.value ?? null,
    remote_pixels_vs_no_teacher:
      student?.ratios.remote_pixels_vs_no_teacher?.value ?? null,
    remote_per_step_vs_no_teacher:
      student?.ratios.remote_per_step_vs_no_teacher?.value ?? null,
    server_vs_raw_b128: serverHeadline?.vs_raw?.value ?? null,
    uint8_bytes_fraction: wireHeadline?.fraction_of_float32 ?? null,
  };
  return {
    ...report,
    targets: {
      train_step_ratio_vs_pytorch: check(
        report.train_step_ratio_vs_pytorch,
        '<= 2.0',
        (v) => v <= 2,
      ),
      inference_ratio_vs_pytorch: check(
        report.inference_ratio_vs_pytorch,
        '<= 1.5',
        (v) => v <= 1.5,
      ),
      remote_vs_no_teacher: check(
        report.remote_vs_no_teacher,
        '>= 0.95',
        (v) => v >= 0.95,
      ),
      remote_vs_in_process: check(report.remote_vs_in_process, '> 1.0', (v) => v > 1),
      server_vs_raw_b128: check(report.server_vs_raw_b128, '>= 0.9', (v) => v >= 0.9),
      uint8_bytes_fraction: check(
        report.uint8_bytes_fraction,
        '<= 0.30',
        (v) => v <= 0.3,
      ),
    },
    warnings: benchWarnings(m, pytorch),
    settings: m.settings,
    started_at: m.startedAt,
    duration_seconds: significant(m.durationSeconds),
    machine: { ...m.machine, pinning: m.pinning },
    backend: {
      name:
        m.vicinalTiming?.backend ??
        m.studentThroughput?.backend ??
        m.rawInference?.backend ??
        null,
      registered_kernels: m.vicinalTiming?.kernels ?? null,
      native: m.vicinalTiming?.native ?? null,
    },
    student_throughput: student,
    teacher_server: server,
    many_students: manyStudentsSection(m),
    wire,
    vicinal_timing:
      m.vicinalTiming?.timings
        .filter((t) => t.trainStepMs.length > 0)
        .map((t) => ({
          architecture: t.architecture,
          shape: t.shape,
          parameters: t.parameters,
          train_step_ms: rounded(summarise(t.trainStepMs)),
          inference_ms: rounded(summarise(t.inferenceMs)),
        })) ?? null,
    native_vs_wasm: nativeVsWasm(m),
    pytorch,
  };
}

function nativeVsWasm(m: BenchMeasurements): BenchReport['native_vs_wasm'] {
  const wasm = m.vicinalWasmTiming;
  if (!wasm || !m.vicinalTiming) return null;
  const key = (t: ModelTiming) => `${t.architecture}/${shapeKey(t.shape)}`;
  const byKey = new Map(wasm.timings.map((t) => [key(t), t]));
  return m.vicinalTiming.timings.flatMap((t) => {
    const w = byKey.get(key(t));
    if (!w || t.trainStepMs.length === 0 || w.trainStepMs.length === 0) return [];
    const train = summarise(t.trainStepMs);
    const infer = summarise(t.inferenceMs);
    const wasmTrain = summarise(w.trainStepMs);
    const wasmInfer = summarise(w.inferenceMs);
    return [
      {
        architecture: t.architecture,
        shape: t.shape,
        train_step_ms: { native: rounded(train), wasm: rounded(wasmTrain) },
        inference_ms: { native: rounded(infer), wasm: rounded(wasmInfer) },
        train_step_speedup: roundedRatio(ratio(wasmTrain, train)),
        inference_speedup: roundedRatio(ratio(wasmInfer, infer)),
      },
    ];
  });
}
