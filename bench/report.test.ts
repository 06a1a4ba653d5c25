import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BenchMeasurements } from './measurements.js';
import { fashionMnistModel } from './models.js';
import { buildReport } from './report.js';
import { benchSettings } from './run-bench.js';
import { formatTable } from './table.js';

const timing = (architecture: string, shape: [number, number, number], ms: number) => ({
  architecture,
  shape,
  parameters: 100,
  trainStepMs: [ms, ms * 1.1, ms * 0.9],
  inferenceMs: [ms / 4, (ms / 4) * 1.1, (ms / 4) * 0.9],
});

/** Made-up measurements whose ratios are known in advance. */
function measurements(): BenchMeasurements {
  const settings = benchSettings({ quick: false });
  return {
    settings,
    startedAt: '2026-12-04T00:00:00.000Z',
    durationSeconds: 12.5,
    machine: {
      cpus: 2,
      cpuModel: 'Test CPU',
      platform: 'linux',
      arch: 'x64',
      node: 'v20',
      totalMemoryGiB: 4,
      loadAverageStart: 0.1,
      loadAverageEnd: 0.2,
      otherCpuShare: 0.01,
    },
    pinning: { available: true, reason: 'test' },
    teacher: fashionMnistModel('teacher-cnn', 1),
    student: fashionMnistModel('student-cnn', 2),
    wire: [
      {
        mode: 'float32',
        batch: 128,
        shape: [28, 28, 1],
        requestBytes: 4000,
        requestBytesPerSample: 31.25,
        responseBytes: 50,
      },
      {
        mode: 'uint8-mix',
        batch: 128,
        shape: [28, 28, 1],
        requestBytes: 1000,
        requestBytesPerSample: 7.8125,
        responseBytes: 50,
      },
    ],
    server: {
      port: 1,
      backend: 'wasm',
      maxBatch: 512,
      maxDelayMs: 2,
      inferenceThread: 'worker',
      heapGrowingPercent: 100,
      pid: 1,
      held: { name: 'fashion-mnist/train', fingerprint: 'sha256:ab', rows: 60000 },
    },
    studentThroughput: {
      backend: 'wasm',
      samplesPerSecond: {
        none: [500, 400, 600],
        'in-process': [250, 200, 300],
        remote: [450, 400, 500],
        'remote-pixels': [400, 350, 450],
        'remote-per-step': [425, 400, 450],
      },
      wholeRunSamplesPerSecond: {
        none: [480, 390, 590],
        'in-process': [240, 190, 290],
        remote: [420, 380, 470],
        'remote-pixels': [360, 300, 420],
        'remote-per-step': [400, 350, 450],
      },
      firstStepMs: {
        none: [40, 50, 45],
        'in-process': [90, 80, 85],
        remote: [70, 75, 80],
        'remote-pixels': [70, 75, 80],
        'remote-per-step': [60, 65, 70],
      },
      teacherLatencyMs: {
        'in-process': [10, 20, 30],
        remote: [40, 50, 60],
        'remote-pixels': [40, 50, 60],
        'remote-per-step': [30, 40, 50],
      },
      teacherWaitMsPerStep: {
        none: [0, 0, 0],
        'in-process': [9, 7, 8],
        remote: [3, 1, 2],
        'remote-pixels': [3, 1, 2],
        'remote-per-step': [2, 1, 2],
      },
      steps: 4,
      epochs: 1,
      batchSize: 128,
      trainImages: 512,
      prefetch: 2,
      stepsPerQuery: 4,
      remoteSends: 'rows',
    },
    rawInference: {
      backend: 'wasm',
      runs: [
        { batch: 128, calls: 8, samplesPerSecond: [1000, 1000, 1000], latencyMs: [1, 2] },
      ],
    },
    serverLoad: {
      runs: [
        {
          batch: 128,
          clients: 2,
          requestsPerClient: 4,
          samplesPerSecond: [800, 900, 850],
          latencyMs: [5, 6, 7],
          servedBatchRows: [128, 256, 256],
          serverQueueMs: [1, 2, 3],
          serverInferenceMs: [40, 50, 60],
        },
        {
          batch: 128,
          clients: 1,
          requestsPerClient: 8,
          samplesPerSecond: [700, 700, 700],
          latencyMs: [5],
          servedBatchRows: [128],
          serverQueueMs: [1],
          serverInferenceMs: [40],
        },
      ],
    },
    vicinalTiming: {
      backend: 'wasm',
      kernels: 7,
      timings: [
        timing('student-cnn', [28, 28, 1], 300),
        timing('student-cnn', [32, 32, 3], 400),
      ],
    },
    pytorch: {
      available: true,
      torchVersion: '1.13',
      threads: 2,
      batch: 128,
      timings: [
        timing('student-cnn', [28, 28, 1], 100),
        timing('student-cnn', [32, 32, 3], 100),
      ],
      otherThreads: [{ threads: 1, timings: [timing('student-cnn', [32, 32, 3], 200)] }],
    },
  };
}

test('headline ratios come from the medians of the right runs', () => {
  const r = buildReport(measurements());
  assert.equal(r.remote_vs_no_teacher, 0.9);
  assert.equal(r.remote_vs_in_process, 1.8);
  assert.equal(r.server_vs_raw_b128, 0.85);
  assert.equal(r.uint8_bytes_fraction, 0.25);
  // Default student at 32x32x3 against PyTorch's first thread count.
  assert.equal(r.train_step_ratio_vs_pytorch, 4);
  assert.equal(r.inference_ratio_vs_pytorch, 4);
  assert.equal(r.train_step_ratio_vs_pytorch_fastest, 4);
  assert.equal(r.pytorch?.comparisons[1].other_threads[0].train_step_ratio.value, 2);
});

test('ratios carry bounds from the extremes and targets say whether they are met', () => {
  const r = buildReport(measurements());
  assert.deepEqual(r.student_throughput?.ratios.remote_vs_no_teacher, {
    value: 0.9,
    low: 0.6667, // 400 / 600 to 4 significant digits
    high: 500 / 400,
  });
  assert.deepEqual(r.targets.remote_vs_no_teacher, {
    target: '>= 0.95',
    value: 0.9,
    met: false,
  });
  assert.equal(r.targets.remote_vs_in_process.met, true);
  assert.equal(r.targets.uint8_bytes_fraction.met, true);
  assert.equal(r.targets.train_step_ratio_vs_pytorch.met, false);
  const run = r.teacher_server?.server.find((s) => s.clients === 2);
  assert.equal(run?.served_batch_rows_median, 256);
  assert.equal(run?.server_inference_ms_median, 50);
  assert.equal(run?.server_queue_ms_median, 2);
  assert.deepEqual(run?.latency_ms, { p50: 6, p99: 6.98, n: 3 });
  assert.equal(r.teacher_server?.heap_growing_percent, 100);
  assert.match(formatTable(r), /heap growing 100 %\) vs raw predict/);
  const modes = r.student_throughput?.modes;
  assert.equal(modes?.remote.teacher_wait_ms_per_step?.median, 2);
  assert.equal(modes?.['in-process'].teacher_wait_ms_per_step?.max, 9);
  assert.equal(modes?.none.teacher_wait_ms_per_step, null, 'no teacher, no wait column');
});

test('steady state is the headline; whole runs and first steps are reported beside it', () => {
  const r = buildReport(measurements());
  const st = r.student_throughput;
  assert.equal(st?.modes.remote.samples_per_second.median, 450);
  assert.equal(st?.modes.remote.whole_run_samples_per_second.median, 420);
  assert.equal(st?.modes.remote.first_step_ms.median, 75);
  assert.equal(st?.modes.none.first_step_ms.max, 50);
  // 420 / 480 and 420 / 240, each from the whole-run medians.
  assert.equal(r.remote_vs_no_teacher_whole_run, 0.875);
  assert.equal(st?.ratios.remote_vs_no_teacher_whole_run?.value, 0.875);
  assert.equal(st?.ratios.remote_vs_in_process_whole_run?.value, 1.75);
  assert.equal(r.remote_vs_no_teacher, 0.9);
  const table = formatTable(r);
  assert.match(table, /over whole runs, first step included: 0\.875/);
  // The images sent instead of row numbers: 400 / 500, and 360 / 480 over whole runs.
  assert.equal(r.remote_pixels_vs_no_teacher, 0.8);
  assert.equal(st?.ratios.remote_pixels_vs_no_teacher_whole_run?.value, 0.75);
  assert.equal(st?.ratios.remote_vs_remote_pixels?.value, 1.125);
  assert.equal(st?.remote_sends, 'rows');
  assert.match(
    table,
    /the student sent row numbers of the training split the teacher server holds; sending the images instead: 0\.8/,
  );
  // One step per request instead of four: 425 / 500, and 450 / 425 remote over it.
  assert.equal(r.remote_per_step_vs_no_teacher, 0.85);
  assert.equal(st?.ratios.remote_vs_remote_per_step?.value, 1.059);
  // 400 / 480 over whole runs.
  assert.equal(st?.ratios.remote_per_step_vs_no_teacher_whole_run?.value, 0.8333);
  assert.equal(st?.steps_per_query, 4);
  assert.match(
    table,
    /remote_vs_no_teacher: 4 training steps per request; one step per request instead: 0\.85/,
  );
  assert.match(table, /2 queries of 4 steps in flight/);
  assert.deepEqual(r.warnings, []);
  assert.match(table, /remote\s+450 \(400-500\)\s+420\s+75\s+50 \/ 59\.8/);
});

test('a remote student that could not send row numbers is called out', () => {
  const m = measurements();
  if (m.studentThroughput) m.studentThroughput.remoteSends = 'pixels';
  const r = buildReport(m);
  assert.equal(r.student_throughput?.remote_sends, 'pixels');
  assert.match(r.warnings.join('\n'), /mode remote sent images as remote-pixels does/);
  assert.match(formatTable(r), /the student sent images \(the server held no split\)/);
});

test('without PyTorch the PyTorch ratios are null and the reason is kept', () => {
  const m = measurements();
  m.pytorch = { available: false, reason: 'import torch failed: no module' };
  const r = buildReport(m);
  assert.equal(r.train_step_ratio_vs_pytorch, null);
  assert.equal(r.inference_ratio_vs_pytorch, null);
  assert.equal(r.targets.train_step_ratio_vs_pytorch.met, null);
  assert.equal(r.pytorch?.reason, 'import torch failed: no module');
  assert.match(formatTable(r), /skipped: import torch failed/);
  // vicinal's own timings are still reported.
  assert.equal(r.vicinal_timing?.length, 2);
  assert.equal(r.vicinal_timing?.[1].train_step_ms.median, 400);
  assert.match(formatTable(r), /student-cnn\s+32x32x3\s+400 \(360-440\)/);
});

test('sections left out give nulls, and the report survives JSON', () => {
  const m = measurements();
  m.studentThroughput = null;
  m.serverLoad = null;
  m.wire = null;
  const r = buildReport(m);
  assert.equal(r.remote_vs_no_teacher, null);
  assert.equal(r.server_vs_raw_b128, null);
  assert.equal(r.uint8_bytes_fraction, null);
  assert.equal(r.teacher_server, null);
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

test('every top-level figure of issue 3 is present, and the table shows them', () => {
  const r = buildReport(measurements());
  for (const key of [
    'train_step_ratio_vs_pytorch',
    'inference_ratio_vs_pytorch',
    'remote_vs_no_teacher',
    'remote_vs_in_process',
    'server_vs_raw_b128',
    'uint8_bytes_fraction',
  ]) {
    assert.ok(key in r, key);
    assert.match(formatTable(r), new RegExp(key));
  }
  assert.equal(r.machine.cpuModel, 'Test CPU');
  assert.equal(r.backend.name, 'wasm');
});

test('bench settings: presets, repetitions and sections are checked', () => {
  assert.equal(benchSettings({}).reps, 5);
  assert.equal(benchSettings({ quick: true }).reps, 3);
  assert.equal(benchSettings({ reps: 7 }).reps, 7);
  assert.throws(() => benchSettings({ reps: 0 }), /reps: expected an integer/);
  assert.throws(
    () => benchSettings({ sections: ['gpu' as 'wire'] }),
    /sections: expected some of wire, student, server, load, pytorch, got "gpu"/,
  );
});

test('warnings: a busy machine, no pinning, no PyTorch, mismatched models', () => {
  const quiet = buildReport(measurements());
  assert.deepEqual(quiet.warnings, []);
  const m = measurements();
  // The bench's own processes raise the load average: measured CPU time decides.
  m.machine.loadAverageEnd = 3;
  assert.deepEqual(buildReport(m).warnings, []);
  m.machine.otherCpuShare = 0.3;
  m.pinning = { available: false, reason: 'taskset not found' };
  if (m.pytorch?.available) m.pytorch.timings[0].parameters = 99;
  const r = buildReport(m);
  assert.equal(r.warnings.length, 3);
  assert.match(
    r.warnings[0],
    /^machine busy: other processes used 30\.0 % of the 2 CPUs' time while the bench ran/,
  );
  assert.match(formatTable(r), /other processes 30\.0 % of CPU time/);
  // Without /proc the load average stands in.
  m.machine.otherCpuShare = null;
  assert.match(
    buildReport(m).warnings[0],
    /machine busy: .*0.1 at the start, 3 at the end on 2 CPUs \(the bench's own/,
  );
  assert.match(formatTable(buildReport(m)), /other processes not measured/);
  assert.equal(r.warnings[1], 'not pinned: taskset not found');
  assert.match(
    r.warnings[2],
    /student-cnn 28x28x1: PyTorch model has 99 weights, vicinal 100/,
  );
  assert.match(formatTable(r), /warning: not pinned: taskset not found/);
  m.pytorch = { available: false, reason: 'no torch' };
  assert.ok(buildReport(m).warnings.includes('no PyTorch comparison: no torch'));
});

test('the load section reports p50/p99, throughput and the RESOURCE_EXHAUSTED retries', () => {
  const m = measurements();
  assert.equal(buildReport(m).many_students, null);
  m.manyStudents = {
    students: 16,
    batch: 32,
    requestsPerStudent: 8,
    queueLimit: 128,
    samplesPerSecond: [3000, 2000, 4000],
    latencyMs: Array.from({ length: 100 }, (_, i) => i + 1),
    resourceExhaustedRetries: 57,
    failovers: 0,
  };
  const r = buildReport(m);
  assert.deepEqual(r.many_students, {
    students: 16,
    batch: 32,
    requests_per_student: 8,
    queue_limit: 128,
    samples_per_second: {
      n: 3,
      median: 3000,
      min: 2000,
      max: 4000,
      p25: 2500,
      p75: 3500,
    },
    latency_ms: { p50: 50.5, p99: 99.01, n: 100 },
    resource_exhausted_retries: 57,
    failovers: 0,
  });
  assert.deepEqual(r.warnings, []);
  const table = formatTable(r);
  assert.match(table, /5\. Many students on one teacher: 16 students, batch 32/);
  // The sections print in the order of their numbers.
  const starts = ['1', '2', '3', '4', '5'].map((n) => table.indexOf(`\n${n}. `));
  assert.ok(
    starts.every((at) => at > 0),
    `sections at ${starts}`,
  );
  assert.deepEqual(
    starts,
    [...starts].sort((a, b) => a - b),
  );
  // A quick run says its figures are not for the targets, and judges none;
  // a full run does.
  assert.doesNotMatch(table, /note: --quick/);
  const quick = buildReport({ ...m, settings: benchSettings({ quick: true }) });
  assert.match(
    formatTable(quick),
    /note: --quick runs a few steps and rows .* not judged against the targets/,
  );
  for (const [name, t] of Object.entries(quick.targets)) {
    assert.equal(t.met, null, name);
    assert.equal(t.value, buildReport(m).targets[name].value, name);
  }
  assert.match(formatTable(quick), /\nremote_vs_no_teacher\s+0\.9\s+>= 0\.95\s+-\n/);
  assert.match(table, /3000 \(2000-4000\)\s+50\.5\s+99\s+57\s+0\n/);
  m.manyStudents.failovers = 2;
  assert.match(buildReport(m).warnings.join('\n'), /load: 2 teacher switches/);
});
