import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** Entry points of the services, as the container images run them too. */
export const serviceEntryPoints = {
  'teacher-server': join(repoRoot, 'apps', 'teacher-server', 'src', 'main.ts'),
  'student-trainer': join(repoRoot, 'apps', 'student-trainer', 'src', 'main.ts'),
} as const;

let servicesStarted = 0;

/**
 * Telemetry settings of the `index`-th child service (1-based, in start
 * order): its own service name and instance id and, when the parent exposes
 * metrics on VICINAL_METRICS_PORT = P, the port P + index. The study starts
 * the teacher server first, so it gets P+1 and the student trainers P+2, ...
 */
export function serviceTelemetryEnv(
  kind: keyof typeof serviceEntryPoints,
  name: string,
  index: number,
  parent: Record<string, string | undefined>,
): Record<string, string> {
  const env: Record<string, string> = { OTEL_SERVICE_NAME: `vicinal-${kind}` };
  env.OTEL_RESOURCE_ATTRIBUTES = [
    parent.OTEL_RESOURCE_ATTRIBUTES,
    `service.instance.id=${name}`,
  ]
    .filter(Boolean)
    .join(',');
  const base = Number(parent.VICINAL_METRICS_PORT);
  if (Number.isInteger(base) && base > 0) {
    env.VICINAL_METRICS_PORT = String(base + index);
  }
  return env;
}

export interface ServiceHandle {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a service as a child process (node + tsx, same as in a container),
 * its stdout and stderr appended to `logDir/<name>.log`.
 */
export function startService(
  kind: keyof typeof serviceEntryPoints,
  name: string,
  env: Record<string, string>,
  logDir: string,
): ServiceHandle {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const tsx = import.meta.resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, serviceEntryPoints[kind]], {
    cwd: repoRoot,
    env: {
      ...process.env,
      ...serviceTelemetryEnv(kind, name, ++servicesStarted, process.env),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  // 'close' comes after the process's output has been read: the log is
  // complete when `exited` resolves.
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => {
      log.end(() => resolve(code ?? signal ?? 'unknown'));
    });
  });
  return {
    name,
    child,
    logFile,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last `count` non-empty lines of a service's log, for an error message. */
export function lastLogLines(logFile: string, count = 3): string {
  try {
    const lines = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    return lines.slice(-count).join('\n');
  } catch {
    return '';
  }
}

/**
 * Where to look after a service died: its log file, or, when the service
 * wrote nothing there (a SIGKILL leaves no last words), that it did not.
 */
export function logPointer(logFile: string): string {
  return lastLogLines(logFile, 1) ? `see ${logFile}` : `it wrote nothing to ${logFile}`;
}
