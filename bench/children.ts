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
  return { available: true, tool, reason: 'teacher on core 0, student/clients on core 1' };
}

/** A long-running child (the teacher server) and its first message. */
export interface RunningChild<T> {
  name: string;
  ready: T;
  child: ChildProcess;
}

interface Spawned {
  name: string;
  child: ChildProcess;
  exited: Promise<number | string>;
  /** Resolves with each JSON line the child prints, in order. */
  messages: AsyncIterator<string>;
  stderrTail: () => string;
}

/**
 * Starts and tracks the bench's child processes: `node --import tsx` on a
 * script in bench/, optionally pinned to one core with taskset. stopAll()
 * ends every child still running (SIGTERM, then SIGKILL), and is meant for a
 * finally block.
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
    const spawned = this.spawn(script, settings, core);
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
        throw new Error(
          `${spawned.name} ${code === 'SIGKILL' ? `timed out after ${timeoutMs} ms` : `exited with ${code}`}` +
            `${spawned.stderrTail() ? `:\n${spawned.stderrTail()}` : ''}`,
        );
      }
      return (JSON.parse(last) as { result: T }).result;
    } finally {
      clearTimeout(timer);
      await this.stop(spawned);
    }
  }

  /** Starts a long-running child and waits for its first message ("ready"). */
  async start<T>(
    script: string,
    settings: unknown,
    core: number | null,
    timeoutMs: number,
  ): Promise<RunningChild<T>> {
    const spawned = this.spawn(script, settings, core);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${spawned.name}: not ready within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const first = await Promise.race([spawned.messages.next(), timeout]);
      if (first.done) {
        const code = await spawned.exited;
        throw new Error(
          `${spawned.name} exited with ${code} before it was ready:\n${spawned.stderrTail()}`,
        );
      }
      return {
        name: spawned.name,
        ready: JSON.parse(first.value) as T,
        child: spawned.child,
      };
    } catch (err) {
      await this.stop(spawned);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every child still running. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((s) => this.stop(s)));
  }

  /** Number of children still tracked (for tests and checks). */
  get count(): number {
    return this.running.size;
  }

  private spawn(script: string, settings: unknown, core: number | null): Spawned {
    const name = script.replace(/\.ts$/, '');
    const tsx = import.meta.resolve('tsx');
    const node = [process.execPath, '--import', tsx, join(benchDir, script)];
    const args = [...node, JSON.stringify(settings)];
    const pinned = core !== null && this.pinning.available && this.pinning.tool;
    const [command, ...rest] = pinned
      ? [this.pinning.tool as string, '-c', String(core), ...args]
      : args;
    const child = spawn(command, rest, {
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
