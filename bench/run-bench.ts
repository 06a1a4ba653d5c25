import { cpus, loadavg, totalmem } from 'node:os';
import { studentTrainerConfig } from '@vicinal/config';
import { seededRandom } from '@vicinal/data';
import { ChildProcesses, detectPinning } from './children.js';
import { comparePytorch } from './compare-pytorch.js';
import { compareServer } from './compare-server.js';
import { otherCpuShare, readCpuCounters } from './cpu-share.js';
import type { ManyStudentsResult, ManyStudentsSettings } from './many-students.js';
import type {
  BenchMeasurements,
  BenchSettings,
  MachineInfo,
  Section,
} from './measurements.js';
import { SECTIONS } from './measurements.js';
import { fashionMnistModel, type ModelSettings } from './models.js';
import type { ServeTeacherReady, ServeTeacherSettings } from './serve-teacher.js';
import { STUDENT_MODES } from './student-modes.js';
import type { StudentResult, StudentSettings } from './student-throughput.js';
import { measureWireSize, REQUEST_MODES, type WireSize } from './wire-bytes.js';

const TEACHER_CORE = 0;
const STUDENT_CORE = 1;
/** Safety net only: a child still running after this is killed. */
const CHILD_TIMEOUT_MS = 60 * 60 * 1000;
/** The teacher server's production defaults (libs/config services.ts). */
const SERVER_MAX_BATCH = 512;
const SERVER_MAX_DELAY_MS = 2;

export interface BenchOptions {
  quick?: boolean;
  /** Repetitions of every measurement (default 5, quick 3). */
  reps?: number;
  sections?: readonly Section[];
  /** Progress lines (stderr in the CLI). */
  progress?: (line: string) => void;
}

/** Sizes of each measurement for a preset. */
export function benchSettings(options: BenchOptions): BenchSettings {
  const quick = options.quick ?? false;
  const reps = options.reps ?? (quick ? 3 : 5);
  if (!Number.isInteger(reps) || reps < 1 || reps > 100) {
    throw new RangeError(`reps: expected an integer in [1, 100], got ${reps}`);
  }
  const sections = [...(options.sections ?? SECTIONS)];
  for (const s of sections) {
    if (!SECTIONS.includes(s)) {
      throw new RangeError(
        `sections: expected some of ${SECTIONS.join(', ')}, got "${s}"`,
      );
    }
  }
  return {
    preset: quick ? 'quick' : 'full',
    reps,
    sections,
    batch: 128,
    studentSteps: quick ? 4 : 20,
    studentEpochs: quick ? 1 : 3,
    serverBatches: [32, 128, 512],
    serverClients: [1, 2, 4],
    serverRowsPerRun: quick ? 1024 : 4096,
    load: {
      students: 16,
      batch: 32,
      requestsPerStudent: quick ? 8 : 24,
      // Room for 4 of the 16 students' queries: the rest are refused and retried.
      queueLimit: 128,
    },
    timingStepsPerRep: quick ? 1 : 3,
    pytorchThreads: [2, 1],
  };
}

function machineInfo(
  loadAverageStart: number,
  loadAverageEnd: number,
  otherCpuShare: number | null,
): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverageStart,
    loadAverageEnd,
    otherCpuShare,
  };
}

/** Wire sizes of every request mode at every server batch size, both shapes. */
export function measureWire(settings: BenchSettings): WireSize[] {
  const out: WireSize[] = [];
  const shapes: [number, number, number][] = [
    [28, 28, 1],
    [32, 32, 3],
  ];
  for (const [h, w, c] of shapes) {
    for (const batch of settings.serverBatches) {
      const random = seededRandom(batch);
      const images = Uint8Array.from({ length: batch * h * w * c }, () =>
        Math.floor(random() * 256),
      );
      const partner = Int32Array.from({ length: batch }, (_, i) => (i * 7 + 3) % batch);
      const lambda = Float32Array.from({ length: batch }, () => random());
      const mixed = Float32Array.from(images, (v) => (v / 255 - 0.5) / 0.25);
      // Rows spread over a 60,000-image split, named by a sha256 fingerprint.
      const rows = Uint32Array.from({ length: batch }, () =>
        Math.floor(random() * 60_000),
      );
      const sample = {
        images,
        shape: [batch, h, w, c] as [number, number, number, number],
        partner,
        lambda,
        rows,
        dataset: `sha256:${'0'.repeat(64)}`,
      };
      for (const mode of REQUEST_MODES)
        out.push(measureWireSize(mode, sample, mixed, 10));
    }
  }
  return out;
}

/**
 * Runs the whole bench: every measurement in child processes (teacher server
 * pinned to core 0, student and load clients to core 1 when taskset exists),
 * one section after the other. Every process it starts is stopped before it
 * returns or throws, and on SIGINT/SIGTERM.
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchMeasurements> {
  const settings = benchSettings(options);
  // Section 1's student queries its teacher as a deployed trainer would:
  // VICINAL_PREFETCH and VICINAL_STEPS_PER_QUERY, checked as the trainer checks them.
  const trainer = studentTrainerConfig({
    natsUrl: 'nats://127.0.0.1:4222',
    name: 'bench',
    backend: 'auto',
    logLevel: 'info',
  });
  const say = options.progress ?? (() => {});
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadStart = loadavg()[0];
  const cpuStart = readCpuCounters();
  const pinning = detectPinning();
  say(`bench: ${settings.preset}, ${settings.reps} reps; pinning: ${pinning.reason}`);
  const children = new ChildProcesses(pinning, say);
  const onSignal = (signal: NodeJS.Signals) => {
    say(`bench: ${signal}, stopping child processes`);
    void children.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const teacher: ModelSettings = fashionMnistModel('teacher-cnn', 11);
  const student: ModelSettings = fashionMnistModel('student-cnn', 12);
  const has = (s: Section) => settings.sections.includes(s);
  const m: BenchMeasurements = {
    settings,
    startedAt,
    durationSeconds: 0,
    machine: machineInfo(loadStart, loadStart, null),
    pinning: { available: pinning.available, reason: pinning.reason },
    teacher,
    student,
    wire: null,
    server: null,
    studentThroughput: null,
    rawInference: null,
    serverLoad: null,
    manyStudents: null,
    vicinalTiming: null,
    pytorch: null,
  };
  try {
    if (has('wire')) {
      say('bench: 3. bytes on the wire');
      m.wire = measureWire(settings);
    }
    if (has('student') || has('server')) {
      say('bench: starting the teacher server (core 0)');
      const serverSettings: ServeTeacherSettings = {
        model: teacher,
        name: 'bench-teacher',
        maxBatch: SERVER_MAX_BATCH,
        maxDelayMs: SERVER_MAX_DELAY_MS,
        // As a local study's teacher: it holds the training split, so
        // section 1's remote student sends row numbers (mode remote-pixels
        // sends the images).
        holdDataset: has('student') ? 'fashion-mnist' : undefined,
      };
      const server = await children.start<ServeTeacherReady>(
        { script: 'serve-teacher.ts', settings: serverSettings },
        TEACHER_CORE,
        120_000,
      );
      m.server = server.ready;
      const address = `127.0.0.1:${server.ready.port}`;
      if (has('student')) {
        say(
          'bench: 1. student throughput: no / in-process / remote (rows, pixels, rows ' +
            'one step per request) / free teacher (core 1)',
        );
        const studentSettings: StudentSettings = {
          student,
          teacher,
          teacherAddress: address,
          teacherName: serverSettings.name,
          heldFingerprint: server.ready.held?.fingerprint ?? null,
          modes: [...STUDENT_MODES],
          reps: settings.reps,
          stepsPerEpoch: settings.studentSteps,
          epochsPerRep: settings.studentEpochs,
          warmupSteps: 2,
          batchSize: settings.batch,
          prefetch: trainer.prefetch,
          stepsPerQuery: trainer.stepsPerQuery,
          seed: 7,
        };
        m.studentThroughput = await children.run<StudentResult>(
          'student-throughput.ts',
          studentSettings,
          STUDENT_CORE,
          CHILD_TIMEOUT_MS,
        );
      }
      if (has('server')) {
        say(
          'bench: 2. raw teacher inference (core 0) alternating with the teacher ' +
            'server under 1/2/4 clients (clients on core 1)',
        );
        const compared = await compareServer(children, {
          address,
          name: serverSettings.name,
          model: teacher,
          batches: settings.serverBatches,
          clients: settings.serverClients,
          reps: settings.reps,
          rowsPerRun: settings.serverRowsPerRun,
          minCalls: 2,
          serverCore: TEACHER_CORE,
          clientCore: STUDENT_CORE,
          progress: say,
        });
        m.rawInference = compared.raw;
        m.serverLoad = compared.load;
      }
      await children.stopAll();
    }
    if (has('load')) {
      const { load } = settings;
      say(
        `bench: 5. ${load.students} students on one teacher (queue limit ` +
          `${load.queueLimit} rows, core 0; students on core 1)`,
      );
      const serverSettings: ServeTeacherSettings = {
        model: teacher,
        name: 'bench-teacher',
        maxBatch: SERVER_MAX_BATCH,
        maxDelayMs: SERVER_MAX_DELAY_MS,
        queueLimit: load.queueLimit,
      };
      const server = await children.start<ServeTeacherReady>(
        { script: 'serve-teacher.ts', settings: serverSettings },
        TEACHER_CORE,
        120_000,
      );
      const studentsSettings: ManyStudentsSettings = {
        address: `127.0.0.1:${server.ready.port}`,
        name: serverSettings.name,
        shape: teacher.shape,
        students: load.students,
        batch: load.batch,
        requestsPerStudent: load.requestsPerStudent,
        reps: settings.reps,
        queueLimit: load.queueLimit,
        seed: 5,
      };
      m.manyStudents = await children.run<ManyStudentsResult>(
        'many-students.ts',
        studentsSettings,
        STUDENT_CORE,
        CHILD_TIMEOUT_MS,
      );
      await children.stopAll();
    }
    if (has('pytorch')) {
      say('bench: 4. vicinal vs PyTorch, alternating per repetition');
      const compared = await comparePytorch(children, {
        reps: settings.reps,
        stepsPerRep: settings.timingStepsPerRep,
        warmup: settings.preset === 'quick' ? 1 : 2,
        batch: settings.batch,
        threads: settings.pytorchThreads,
        progress: say,
      });
      m.vicinalTiming = compared.vicinal;
      m.vicinalWasmTiming = compared.vicinalWasm;
      m.pytorch = compared.pytorch;
      await children.stopAll();
    }
  } finally {
    await children.stopAll();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  m.durationSeconds = (performance.now() - started) / 1000;
  // Every child has exited and been reaped: their CPU time is in our own.
  m.machine = machineInfo(
    loadStart,
    loadavg()[0],
    otherCpuShare(cpuStart, readCpuCounters()),
  );
  return m;
}
