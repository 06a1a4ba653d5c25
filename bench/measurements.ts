import type { ManyStudentsResult } from './many-students.js';
import type { ModelTiming, ModelTimingResult } from './model-timing.js';
import type { ModelSettings } from './models.js';
import type { RawInferenceResult } from './raw-inference.js';
import type { ServeTeacherReady } from './serve-teacher.js';
import type { ServerLoadResult } from './server-load.js';
import type { StudentResult } from './student-throughput.js';
import type { WireSize } from './wire-bytes.js';

/** The machine a bench ran on. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  platform: string;
  arch: string;
  node: string;
  totalMemoryGiB: number;
  /** 1-minute load average when the bench started and when it ended. */
  loadAverageStart: number;
  loadAverageEnd: number;
  /**
   * Share of all CPUs' time during the run that other processes used (not
   * the bench and its children): see cpu-share.ts. Null without /proc.
   */
  otherCpuShare: number | null;
}

/** What the PyTorch reference measured (or why it could not run). */
export type PytorchResult =
  | {
      available: true;
      torchVersion: string;
      /** torch.set_num_threads of the headline figures. */
      threads: number;
      batch: number;
      timings: ModelTiming[];
      /** The same at other thread counts (supplementary). */
      otherThreads: { threads: number; timings: ModelTiming[] }[];
    }
  | { available: false; reason: string };

/** The bench's sections; each can be left out while developing. */
export const SECTIONS = ['wire', 'student', 'server', 'load', 'pytorch'] as const;
export type Section = (typeof SECTIONS)[number];

/** How a run was configured. */
export interface BenchSettings {
  preset: 'full' | 'quick';
  reps: number;
  sections: Section[];
  batch: number;
  /** Section 1: steps per epoch, and epochs per repetition (one training run). */
  studentSteps: number;
  studentEpochs: number;
  serverBatches: number[];
  serverClients: number[];
  serverRowsPerRun: number;
  /** Section "load": students on one teacher with a small queue. */
  load: {
    students: number;
    batch: number;
    requestsPerStudent: number;
    /** The server's queue limit in rows, small on purpose (back-pressure). */
    queueLimit: number;
  };
  timingStepsPerRep: number;
  /** PyTorch thread counts; the first gives the headline ratios. */
  pytorchThreads: number[];
}

/** Everything a bench run measured, before summarising. */
export interface BenchMeasurements {
  settings: BenchSettings;
  startedAt: string;
  durationSeconds: number;
  machine: MachineInfo;
  pinning: { available: boolean; reason: string };
  teacher: ModelSettings;
  student: ModelSettings;
  wire: WireSize[] | null;
  server: ServeTeacherReady | null;
  studentThroughput: StudentResult | null;
  rawInference: RawInferenceResult | null;
  serverLoad: ServerLoadResult | null;
  /** Section "load"; absent in reports of benches without it. */
  manyStudents?: ManyStudentsResult | null;
  vicinalTiming: ModelTimingResult | null;
  /** Section 4 again on vicinal's wasm kernels only (when native ones are in use). */
  vicinalWasmTiming?: ModelTimingResult | null;
  pytorch: PytorchResult | null;
}
