import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(benchDir, '..');

/** Whether child processes can be pinned to one core each, and how. */
export interface Pinning {
  available: boolean;
  /** The taskset binary used, when available. */
  tool: string | null;
  /** Why pinning is off, or which cores are used. */
  reason: string;
}

/** Finds a binary on PATH (or the usual util-linux places). */
function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/**
 * Checks that `taskset` (util-linux) exists and may pin to cores 0 and 1;
 * the bench then runs the teacher on core 0 and the student on core 1.
 */
export function detectPinning(): Pinning {
  const tool = findBinary('taskset');
  if (!tool) {
    return {
      available: false,
      tool: null,
      reason: 'taskset not found (install util-linux); processes are not pinned',
    };
  }
  if (cpus().length < 2) {
    return {
      available: false,
      tool,
      reason: `only ${cpus().length} CPU visible; processes are not pinned`,
    };
  }
  for (const core of [0, 1]) {
    const probe = spawnSync(tool, ['-c', String(core), 'true'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      return {
        available: false,
        tool,
        reason: `taskset -c ${core} failed (${(probe.stderr || probe.error?.message || '').trim()}); processes are not pinned`,
      };
    }
  }
  return {
    available: true,
    tool,
    reason: 'teacher on core 0, student/clients on core 1',
  };
}

/**
 * A long-running child: its first message ("ready"), and a request channel
 * (one JSON line to its stdin, its next JSON line back).
 */
export interface RunningChild<T> {
  name: string;
  ready: T;
  child: ChildProcess;
  request<R>(message: unknown, timeoutMs?: number): Promise<R>;
}

/** What to run: a TypeScript script in bench/ (via tsx) or any command line. */
export type ChildCommand =
  | { script: string; settings: unknown }
  | { name: string; argv: string[] };

interface Spawned {
  name: string;
  child: ChildProcess;
  exited: Promise<number | string>;
  /** Resolves with each JSON line the child prints, in order. */
  messages: AsyncIterator<string>;
  stderrTail: () => string;
}

/** Rejects after `ms` with `message`; `clear` cancels the timer. */
function deadline(
  ms: number,
  message: string,
): { promise: Promise<never>; clear(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  promise.catch(() => {});
  return { promise, clear: () => clearTimeout(timer) };
}

/**
 * Starts and tracks the bench's child processes: `node --import tsx` on a
 * script in bench/ (or another command), optionally pinned to one core with
 * taskset. stopAll() ends every child still running (SIGTERM, then SIGKILL),
 * and is meant for a finally block.
 */
export class ChildProcesses {
  private readonly running = new Set<Spawned>();

  constructor(
    readonly pinning: Pinning,
    private readonly onProgress: (line: string) => void = () => {},
  ) {}

  /** Runs `script` to completion and returns the result it printed. */
  async run<T>(
    script: string,
    settings: unknown,
    core: number | null,
    timeoutMs: number,
  ): Promise<T> {
    const spawned = this.spawn({ script, settings }, core);
    const timer = setTimeout(() => spawned.child.kill('SIGKILL'), timeoutMs);
    try {
      let last: string | null = null;
      for (;;) {
        const next = await spawned.messages.next();
        if (next.done) break;
        last = next.value;
      }
      const code = await spawned.exited;
      if (code !== 0 || last === null) {
        const why =
          code === 'SIGKILL' ? `timed out after ${timeoutMs} ms` : `exited with ${code}`;
        const tail = spawned.stderrTail();
        throw new Error(`${spawned.name} ${why}${tail ? `:\n${tail}` : ''}`);
      }
      return (JSON.parse(last) as { result: T }).result;
    } finally {
      clearTimeout(timer);
      await this.stop(spawned);
    }
  }

  /** Starts a long-running child and waits for its first message ("ready"). */
  async start<T>(
    command: ChildCommand,
    core: number | null,
    timeoutMs: number,
  ): Promise<RunningChild<T>> {
    const spawned = this.spawn(command, core);
    const next = async (ms: number, what: string): Promise<string> => {
      const limit = deadline(ms, `${spawned.name}: no ${what} within ${ms} ms`);
      try {
        const message = await Promise.race([spawned.messages.next(), limit.promise]);
        if (message.done) {
          const code = await spawned.exited;
          throw new Error(
            `${spawned.name} exited with ${code} before its ${what}:\n${spawned.stderrTail()}`,
          );
        }
        return message.value;
      } finally {
        limit.clear();
      }
    };
    try {
      const ready = JSON.parse(await next(timeoutMs, 'ready message')) as T;
      return {
        name: spawned.name,
        ready,
        child: spawned.child,
        request: async <R>(message: unknown, ms = 30 * 60_000): Promise<R> => {
          spawned.child.stdin?.write(`${JSON.stringify(message)}\n`);
          return JSON.parse(await next(ms, 'reply')) as R;
        },
      };
    } catch (err) {
      await this.stop(spawned);
      throw err;
    }
  }

  /** Stops every child still running. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((s) => this.stop(s)));
  }

  /** Number of children still tracked. */
  get count(): number {
    return this.running.size;
  }

  private spawn(command: ChildCommand, core: number | null): Spawned {
    let name: string;
    let args: string[];
    if ('script' in command) {
      name = command.script.replace(/\.ts$/, '');
      const tsx = import.meta.resolve('tsx');
      args = [
        process.execPath,
        '--import',
        tsx,
        join(benchDir, command.script),
        JSON.stringify(command.settings),
      ];
    } else {
      name = command.name;
      args = command.argv;
    }
    const pinned = core !== null && this.pinning.available && this.pinning.tool;
    const [program, ...rest] = pinned
      ? [this.pinning.tool as string, '-c', String(core), ...args]
      : args;
    const child = spawn(program, rest, {
      cwd: repoRoot,
      env: process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    createInterface({ input: child.stderr! }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      this.onProgress(`  [${name}] ${line}`);
    });
    const lines = createInterface({ input: child.stdout! });
    const messages = (async function* () {
      for await (const line of lines) {
        if (line.startsWith('{')) yield line;
      }
    })();
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
      child.once('error', (err) => resolve(`spawn error: ${err.message}`));
    });
    child.stdin?.on('error', () => {}); // a child that died is reported by `exited`
    const spawned: Spawned = {
      name,
      child,
      exited,
      messages,
      stderrTail: () => tail.join('\n'),
    };
    this.running.add(spawned);
    void exited.then(() => this.running.delete(spawned));
    return spawned;
  }

  private async stop(spawned: Spawned, graceMs = 5000): Promise<void> {
    const { child } = spawned;
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await spawned.exited;
      clearTimeout(timer);
    }
    this.running.delete(spawned);
  }
}
