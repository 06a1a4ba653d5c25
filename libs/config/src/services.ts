import { z } from 'zod';
import {
  checkNatsClient,
  checkServerTls,
  checkTeacherClientTls,
  insecureFlag,
  natsClientEnv,
  natsClientFields,
  natsUrlProblem,
  SettingsFileError,
  serverTlsFields,
  teacherClientTlsFields,
} from './transport.js';
import { ConfigError, parseConfig } from './validate.js';

const backend = z.enum(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
/**
 * The levels VICINAL_LOG_LEVEL takes, any case, most verbose first. The
 * loggers (libs/telemetry) read the variable themselves; the services'
 * settings refuse a value that is none of these.
 */
export const LOG_LEVEL_NAMES = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];
const logLevel = z.enum(LOG_LEVEL_NAMES).optional();
/** A VICINAL_LOG_LEVEL setting as compared: trimmed, lower case; undefined when empty. */
const logLevelEnv = (v: string | undefined) => v?.trim().toLowerCase() || undefined;

/**
 * The level a VICINAL_LOG_LEVEL setting names (any case): undefined when it
 * is unset or empty, null when it names none of LOG_LEVEL_NAMES.
 */
export function logLevelOf(setting: string | undefined): LogLevelName | undefined | null {
  const wanted = logLevelEnv(setting);
  if (wanted === undefined) return undefined;
  return (LOG_LEVEL_NAMES as readonly string[]).includes(wanted)
    ? (wanted as LogLevelName)
    : null;
}

const natsUrl = z.string().superRefine((value, ctx) => {
  const problem = natsUrlProblem(value);
  // Echoed without any user:password@ it holds: each entry's part before
  // its last @ (after the scheme, if any) is masked.
  const shown = value
    .split(',')
    .map((entry) => {
      const at = entry.lastIndexOf('@');
      if (at < 0) return entry;
      const scheme = /^\s*[a-z][a-z0-9+.-]*:\/\//i.exec(entry)?.[0] ?? '';
      return `${scheme}***@${entry.slice(at + 1)}`;
    })
    .join(',');
  if (problem) ctx.addIssue({ code: 'custom', message: `${problem}, got "${shown}"` });
});

/** host:port with a port number in [0, 65535]. */
const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d+$/, 'host:port')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65_535, {
    message: 'host:port with a port in [0, 65535]',
  });

export const teacherServerConfigSchema = z
  .object({
    natsUrl,
    /** host:port to listen on; port 0 picks a free one. */
    listen: hostPort,
    /** host:port students should dial; defaults to the bound address. */
    advertise: hostPort.optional(),
    /** Object-store name of the teacher artifact to serve. */
    model: z.string().min(1),
    maxBatch: z.number().int().min(1).max(8192),
    maxDelayMs: z.number().min(0).max(1000),
    queueLimit: z.number().int().min(1),
    /** gRPC takes a 32-bit signed length, Describe reports it as uint32. */
    maxMessageBytes: z.number().int().min(1024).max(2_147_483_647),
    /** SoftLabelsStream calls open at once; more are refused (RESOURCE_EXHAUSTED). */
    maxStreams: z.number().int().min(1),
    /** Longest one request may take on the server, queueing included. */
    requestTimeoutMs: z.number().int().min(1),
    heartbeatMs: z.number().int().min(100),
    drainMs: z.number().int().min(0),
    backend,
    /**
     * Where the model runs: "worker", its own thread, so requests are read
     * and prepared while a batch runs; or "main", the event loop.
     */
    inferenceThread: z.enum(['worker', 'main']),
    /**
     * How far V8's old generation may grow past the live heap before a full
     * collection, in percent (0: V8 decides; see docs/operations.md).
     */
    heapGrowingPercent: z.number().int().min(0).max(1000),
    /**
     * A data set whose training split the server loads and holds, so
     * students training on it send row numbers instead of pixels.
     */
    holdDataset: z.string().min(1).optional(),
    /** Its directory (default: the loader's own). */
    holdDatasetDir: z.string().min(1).optional(),
    logLevel,
    ...natsClientFields,
    ...serverTlsFields,
  })
  .strict()
  .superRefine((value, ctx) => {
    checkNatsClient(value, ctx);
    checkServerTls(value, ctx);
    if (value.holdDatasetDir !== undefined && value.holdDataset === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['holdDatasetDir'],
        message: `a directory for VICINAL_HOLD_DATASET, which is not set, got "${value.holdDatasetDir}"`,
      });
    }
  });
export type TeacherServerConfig = z.infer<typeof teacherServerConfigSchema>;

/**
 * A teacher server's V8 old generation may grow to twice its live size
 * between full collections. V8's own choice for a server holding tfjs and
 * gRPC (about 1.1x) ran a full collection about once a second under load;
 * with 100 the bench's teacher server / raw inference at batch 128 went from
 * 0.84 and 0.80 to 0.92 and 0.90 (README, Performance).
 */
export const DEFAULT_HEAP_GROWING_PERCENT = 100;

/**
 * Teacher queries a student keeps in flight ahead of its training step. With
 * 2, a query leaves one whole step before its answer is needed.
 */
export const DEFAULT_PREFETCH = 2;

/**
 * Training steps whose teacher queries a student sends as one request to a
 * remote teacher (fewer, larger gRPC messages: grpc-js's work per message on
 * the student's core is the cost of a remote teacher). A request never
 * exceeds what the teacher's Describe allows (max_batch, queue_limit).
 */
export const DEFAULT_STEPS_PER_QUERY = 4;

/** A teacher server's batching queue holds this many full batches unless told otherwise. */
export const DEFAULT_QUEUE_BATCHES = 8;

export const studentTrainerConfigSchema = z
  .object({
    natsUrl,
    /** Name of this worker in results and logs. */
    name: z.string().min(1),
    backend,
    /** How long a pull waits for a job before asking again. */
    pollMs: z.number().int().min(1000),
    /** Exit after this many jobs (0 = serve forever). */
    maxJobs: z.number().int().min(0),
    /** Teacher queries kept in flight ahead of the training step. */
    prefetch: z.number().int().min(1).max(16),
    /** Training steps whose teacher queries go in one request (remote teachers). */
    stepsPerQuery: z.number().int().min(1).max(64),
    /** Longest a job waits for a teacher, in one stretch, before it fails. */
    teacherWaitSeconds: z.number().min(1),
    logLevel,
    ...natsClientFields,
    ...teacherClientTlsFields,
  })
  .strict()
  .superRefine((value, ctx) => {
    checkNatsClient(value, ctx);
    checkTeacherClientTls(value, ctx);
  });
export type StudentTrainerConfig = z.infer<typeof studentTrainerConfigSchema>;

/**
 * A number variable, written in decimal; anything else (blanks, "0x10",
 * "lots") stays text, so the schema refuses it and echoes it.
 */
const num = (v: string | undefined): number | string | undefined => {
  if (v === undefined || v === '') return undefined;
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(v) ? Number(v) : v;
};

/** Teacher-server settings from VICINAL_* environment variables and overrides. */
export function teacherServerConfig(
  overrides: Partial<TeacherServerConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): TeacherServerConfig {
  const maxBatch = overrides.maxBatch ?? num(env.VICINAL_MAX_BATCH) ?? 512;
  return parseServiceConfig(
    teacherServerConfigSchema,
    dropUndefined({
      natsUrl: env.VICINAL_NATS_URL ?? 'nats://127.0.0.1:4222',
      listen: env.VICINAL_LISTEN ?? '127.0.0.1:0',
      advertise: env.VICINAL_ADVERTISE,
      model: env.VICINAL_TEACHER_MODEL,
      maxBatch,
      maxDelayMs: num(env.VICINAL_MAX_DELAY_MS) ?? 2,
      // As the server's own default: eight full batches (4096 rows at the
      // default max batch, or when the max batch is refused anyway).
      queueLimit:
        num(env.VICINAL_QUEUE_LIMIT) ??
        (typeof maxBatch === 'number' && Number.isInteger(maxBatch) && maxBatch > 0
          ? DEFAULT_QUEUE_BATCHES * maxBatch
          : 4096),
      maxMessageBytes: num(env.VICINAL_MAX_MESSAGE_BYTES) ?? 16 * 1024 * 1024,
      maxStreams: num(env.VICINAL_MAX_STREAMS) ?? 64,
      requestTimeoutMs: num(env.VICINAL_REQUEST_TIMEOUT_MS) ?? 30_000,
      heartbeatMs: num(env.VICINAL_HEARTBEAT_MS) ?? 2000,
      drainMs: num(env.VICINAL_DRAIN_MS) ?? 10000,
      backend: env.VICINAL_BACKEND ?? 'auto',
      inferenceThread: env.VICINAL_INFERENCE_THREAD || 'worker',
      heapGrowingPercent:
        num(env.VICINAL_HEAP_GROWING_PERCENT) ?? DEFAULT_HEAP_GROWING_PERCENT,
      holdDataset: env.VICINAL_HOLD_DATASET || undefined,
      holdDatasetDir: env.VICINAL_HOLD_DATASET_DIR || undefined,
      logLevel: logLevelEnv(env.VICINAL_LOG_LEVEL),
      ...natsClientEnv(env),
      tlsCert: env.VICINAL_TLS_CERT || undefined,
      tlsKey: env.VICINAL_TLS_KEY || undefined,
      tlsClientCa: env.VICINAL_TLS_CLIENT_CA || undefined,
      insecure: insecureFlag(env.VICINAL_INSECURE),
      ...dropUndefined(overrides),
    }),
    'teacher-server settings',
  );
}

/** Student-trainer settings from VICINAL_* environment variables and overrides. */
export function studentTrainerConfig(
  overrides: Partial<StudentTrainerConfig> = {},
  env: NodeJS.ProcessEnv = process.env,
): StudentTrainerConfig {
  return parseServiceConfig(
    studentTrainerConfigSchema,
    dropUndefined({
      natsUrl: env.VICINAL_NATS_URL ?? 'nats://127.0.0.1:4222',
      name: env.VICINAL_WORKER_NAME ?? `student-${process.pid}`,
      backend: env.VICINAL_BACKEND ?? 'auto',
      pollMs: num(env.VICINAL_POLL_MS) ?? 2000,
      maxJobs: num(env.VICINAL_MAX_JOBS) ?? 0,
      prefetch: num(env.VICINAL_PREFETCH) ?? DEFAULT_PREFETCH,
      stepsPerQuery: num(env.VICINAL_STEPS_PER_QUERY) ?? DEFAULT_STEPS_PER_QUERY,
      teacherWaitSeconds: num(env.VICINAL_TEACHER_WAIT_SECONDS) ?? 120,
      logLevel: logLevelEnv(env.VICINAL_LOG_LEVEL),
      ...natsClientEnv(env),
      teacherTlsCa: env.VICINAL_TEACHER_TLS_CA || undefined,
      teacherTlsCert: env.VICINAL_TEACHER_TLS_CERT || undefined,
      teacherTlsKey: env.VICINAL_TEACHER_TLS_KEY || undefined,
      teacherTlsServerName: env.VICINAL_TEACHER_TLS_SERVER_NAME || undefined,
      insecure: insecureFlag(env.VICINAL_INSECURE),
      ...dropUndefined(overrides),
    }),
    'student-trainer settings',
  );
}

/**
 * A service's settings, or, when they are bad (or a file they name cannot
 * be read), one line per problem on stderr ("<service> refuses to start:
 * ...", naming the variables) and exit code 2 instead of a stack trace.
 */
export function serviceSettingsOrExit<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof SettingsFileError)) throw err;
    process.stderr.write(`${service} refuses to start: ${err.message}\n`);
    process.exit(2);
  }
}

/** Registers how to close something a start-up opened, should a later step fail. */
export type CloseOnFailure = (close: () => unknown) => void;

/** Longest the closing after a failed start-up (or main loop) may take before the process exits. */
const FAILED_START_CLOSE_MS = 10_000;

/**
 * Runs a service's start-up (after its settings were read). When a step
 * fails, as a running system can make it (NATS unreachable, the model not
 * published, the port taken), the process prints one line on stderr,
 * "<service>: <what failed>", closes what the start-up had opened (newest
 * first, through `closeOnFailure`) and exits with code 1: no stack trace,
 * and no uncaught error left for a library's handler (tfjs-backend-wasm
 * rethrows them) to report.
 */
export async function startServiceOrExit<T>(
  service: string,
  start: (closeOnFailure: CloseOnFailure) => Promise<T>,
): Promise<T> {
  const opened: (() => unknown)[] = [];
  try {
    return await start((close) => {
      opened.push(close);
    });
  } catch (err) {
    return exitAfterFailure(service, err, opened.reverse());
  }
}

/**
 * Runs a started service's main loop (e.g. a trainer's job loop). Should it
 * fail, the process ends as a failed start-up does: one line on stderr,
 * "<service>: <what failed>", `close` run in order (at most 10 s in all)
 * and exit code 1.
 */
export async function runServiceOrExit(
  service: string,
  run: () => Promise<void>,
  close: (() => unknown)[],
): Promise<void> {
  try {
    await run();
  } catch (err) {
    await exitAfterFailure(service, err, close);
  }
}

/**
 * From here on, an error nothing caught (a rejected promise nobody awaited,
 * an exception in a callback) ends the process with one line on stderr,
 * "<service>: unexpected error: <message>" (the stack follows when
 * VICINAL_LOG_LEVEL is debug or trace), and exit code 1. The handlers run
 * before any a library installed: tfjs-backend-wasm's rethrows the error,
 * which Node reports as exit code 7 with the backend's minified source.
 */
export function exitOnUncaughtErrors(service: string): void {
  const fail = (err: unknown) => {
    const level = process.env.VICINAL_LOG_LEVEL;
    const stack =
      (level === 'debug' || level === 'trace') && err instanceof Error && err.stack
        ? `${err.stack}\n`
        : '';
    process.stderr.write(`${service}: unexpected error: ${oneLine(err)}\n${stack}`);
    process.exit(1);
  };
  process.prependListener('uncaughtException', fail);
  process.prependListener('unhandledRejection', fail);
}

async function exitAfterFailure(
  service: string,
  err: unknown,
  close: (() => unknown)[],
): Promise<never> {
  process.stderr.write(`${service}: ${oneLine(err)}\n`);
  const closing = (async () => {
    for (const step of close) {
      try {
        await step();
      } catch {
        // Already failing; the first error is the one to report.
      }
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    closing,
    new Promise((resolve) => {
      timer = setTimeout(resolve, FAILED_START_CLOSE_MS);
    }),
  ]);
  clearTimeout(timer);
  process.exit(1);
}

/** An error's message on one line: a line after a colon follows it, others after "; ". */
function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (lines.length === 0)
    return `${err instanceof Error ? err.name : 'error'} (no message)`;
  return lines.reduce(
    (joined, line) => `${joined}${joined.endsWith(':') ? ' ' : '; '}${line}`,
  );
}

/** Variables whose names do not follow VICINAL_ + the field in upper snake case. */
const ENV_NAME_OF: Record<string, string> = {
  model: 'VICINAL_TEACHER_MODEL',
  name: 'VICINAL_WORKER_NAME',
};

/** The environment variable a service setting is read from. */
export function envVariableOf(field: string): string {
  return (
    ENV_NAME_OF[field] ??
    `VICINAL_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`
  );
}

/**
 * parseConfig for settings read from the environment: each problem also
 * names the variable to fix (`maxBatch (VICINAL_MAX_BATCH): ...`).
 */
function parseServiceConfig<S extends z.ZodType>(
  schema: S,
  value: unknown,
  source: string,
): z.output<S> {
  try {
    return parseConfig(schema, value, source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      source,
      err.issues.map((issue) => {
        const field = /^[a-zA-Z]+(?=[.:])/.exec(issue)?.[0];
        if (!field || issue.includes(envVariableOf(field))) return issue;
        return `${field} (${envVariableOf(field)})${issue.slice(field.length)}`;
      }),
    );
  }
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
