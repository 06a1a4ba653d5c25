import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcesses, RunningChild } from './children.js';
import type { PytorchResult } from './measurements.js';
import type {
  ModelTiming,
  ModelTimingResult,
  ModelTimingSettings,
  TimingConfig,
  TimingReady,
  TimingReply,
  TimingRequest,
} from './model-timing.js';

const benchDir = dirname(fileURLToPath(import.meta.url));

/** Debian's interpreter, which has python3-torch (VICINAL_BENCH_PYTHON overrides). */
export const PYTHON = process.env.VICINAL_BENCH_PYTHON || '/usr/bin/python3';

/** The four configurations of the comparison (issue 3, section 4). */
export const TIMING_CONFIGS: TimingConfig[] = [
  { architecture: 'student-cnn', shape: [28, 28, 1] },
  { architecture: 'student-cnn', shape: [32, 32, 3] },
  { architecture: 'teacher-cnn', shape: [28, 28, 1] },
  { architecture: 'teacher-cnn', shape: [32, 32, 3] },
];

interface PytorchReady {
  available: boolean;
  reason?: string;
  torchVersion: string;
  threads: number;
  batch: number;
  configs: (TimingConfig & { parameters: number })[];
}

export interface CompareOptions {
  reps: number;
  stepsPerRep: number;
  warmup: number;
  batch: number;
  /** PyTorch thread counts; the first is the headline (issue 3: 2). */
  threads: number[];
  progress: (line: string) => void;
}

function emptyTimings(ready: { configs: (TimingConfig & { parameters: number })[] }) {
  return ready.configs.map(
    (c): ModelTiming => ({ ...c, trainStepMs: [], inferenceMs: [] }),
  );
}

/**
 * vicinal against the PyTorch reference: one vicinal process and one
 * PyTorch process per thread count stay up, and every repetition of every
 * configuration is measured in each of them in turn (the order alternating),
 * so a busy moment on a shared machine falls on both sides alike.
 */
export async function comparePytorch(
  children: ChildProcesses,
  options: CompareOptions,
): Promise<{
  vicinal: ModelTimingResult;
  /** vicinal with its wasm kernels only, when the native ones are in use. */
  vicinalWasm: ModelTimingResult | null;
  pytorch: PytorchResult;
}> {
  const settings: ModelTimingSettings = {
    configs: TIMING_CONFIGS,
    numClasses: 10,
    batch: options.batch,
    beta: 0.8,
    temperature: 2,
    learningRate: 0.002,
    seed: 5,
  };
  const ours = await children.start<TimingReady>(
    { script: 'model-timing.ts', settings },
    null,
    300_000,
  );
  const vicinal: ModelTimingResult = {
    backend: ours.ready.backend,
    kernels: ours.ready.kernels,
    native: ours.ready.native,
    timings: emptyTimings(ours.ready),
  };
  // With native kernels in use, a second vicinal process on wasm kernels
  // alone takes its turn in every repetition too: the native speed-up
  // measured under the same load.
  const wasmOnly = ours.ready.native.startsWith('off')
    ? null
    : await children.start<TimingReady>(
        { script: 'model-timing.ts', settings: { ...settings, nativeKernels: false } },
        null,
        300_000,
      );
  const vicinalWasm: ModelTimingResult | null = wasmOnly
    ? {
        backend: wasmOnly.ready.backend,
        kernels: wasmOnly.ready.kernels,
        native: wasmOnly.ready.native,
        timings: emptyTimings(wasmOnly.ready),
      }
    : null;
  let unavailable: string | null = existsSync(PYTHON) ? null : `${PYTHON} not found`;
  const configs = TIMING_CONFIGS.map((c) => `${c.architecture}:${c.shape.join('x')}`);
  const theirs: RunningChild<PytorchReady>[] = [];
  for (const threads of unavailable ? [] : options.threads) {
    const child = await children.start<PytorchReady>(
      {
        name: `pytorch-${threads}t`,
        argv: [
          PYTHON,
          join(benchDir, 'pytorch_reference.py'),
          '--serve',
          '--batch',
          String(options.batch),
          '--threads',
          String(threads),
          '--configs',
          configs.join(','),
        ],
      },
      null,
      300_000,
    );
    if (!child.ready.available) {
      unavailable = child.ready.reason ?? 'torch unavailable';
      break;
    }
    theirs.push(child);
  }
  if (unavailable) {
    options.progress(
      `bench: PyTorch comparison skipped (${unavailable}); timing vicinal only`,
    );
    theirs.length = 0;
  }
  const sides = [
    { child: ours, timings: vicinal.timings, label: 'vicinal' },
    ...(wasmOnly && vicinalWasm
      ? [{ child: wasmOnly, timings: vicinalWasm.timings, label: 'vicinal-wasm' }]
      : []),
    ...theirs.map((child) => ({
      child,
      timings: emptyTimings(child.ready),
      label: `pytorch ${child.ready.threads}t`,
    })),
  ];
  for (let rep = 0; rep < options.reps; rep++) {
    for (let config = 0; config < TIMING_CONFIGS.length; config++) {
      const order = (rep + config) % 2 === 0 ? sides : [...sides].reverse();
      const line: string[] = [];
      for (const side of order) {
        const request: TimingRequest = {
          config,
          warmup: rep === 0 ? options.warmup : 0,
          steps: options.stepsPerRep,
        };
        const reply = await side.child.request<TimingReply>(request);
        side.timings[config].trainStepMs.push(reply.trainStepMs);
        side.timings[config].inferenceMs.push(reply.inferenceMs);
        line.push(
          `${side.label} ${reply.trainStepMs.toFixed(0)}/${reply.inferenceMs.toFixed(0)}`,
        );
      }
      const c = TIMING_CONFIGS[config];
      options.progress(
        `  rep ${rep + 1}/${options.reps} ${c.architecture} ${c.shape.join('x')} ` +
          `(train/infer ms): ${line.join(', ')}`,
      );
    }
  }
  const [main, ...others] = theirs;
  if (unavailable || !main) {
    return {
      vicinal,
      vicinalWasm,
      pytorch: { available: false, reason: unavailable ?? 'not run' },
    };
  }
  const torchSides = sides.slice(vicinalWasm ? 2 : 1);
  return {
    vicinal,
    vicinalWasm,
    pytorch: {
      available: true,
      torchVersion: main.ready.torchVersion,
      threads: main.ready.threads,
      batch: main.ready.batch,
      timings: torchSides[0].timings,
      otherThreads: others.map((child, i) => ({
        threads: child.ready.threads,
        timings: torchSides[1 + i].timings,
      })),
    },
  };
}
