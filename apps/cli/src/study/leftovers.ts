import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The processes a local study started, recorded in `<out>/processes.json`
 * while it runs. A coordinator that dies (SIGKILL, OOM, lost shell) cannot
 * stop them; the next run on the same output directory finds the record,
 * sees the coordinator gone and stops what is left before starting over.
 */
export interface ProcessRecord {
  coordinator: number;
  processes: { name: string; pid: number; command: string }[];
}

const FILE = 'processes.json';

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process (Linux /proc), or null when unknown. */
function commandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

export class ProcessLedger {
  private readonly record: ProcessRecord = { coordinator: process.pid, processes: [] };

  constructor(private readonly out: string) {}

  private get file() {
    return join(this.out, FILE);
  }

  /**
   * Stops the processes a dead coordinator left behind in this output
   * directory (SIGTERM, then SIGKILL after `graceMs`). Only processes whose
   * command line still contains what was recorded are touched, so a reused pid
   * is left alone. Refuses to go on while that coordinator is alive.
   */
  async reclaim(print: (line: string) => void, graceMs = 15_000): Promise<void> {
    if (!existsSync(this.file)) return;
    let previous: ProcessRecord;
    try {
      previous = JSON.parse(readFileSync(this.file, 'utf8')) as ProcessRecord;
    } catch {
      rmSync(this.file, { force: true });
      return;
    }
    if (previous.coordinator !== process.pid && alive(previous.coordinator)) {
      throw new Error(
        `another coordinator (pid ${previous.coordinator}) is running a study in ` +
          `${this.out}; stop it or choose another --out`,
      );
    }
    const left = previous.processes.filter(
      (p) => alive(p.pid) && commandLine(p.pid)?.includes(p.command),
    );
    if (left.length > 0) {
      print(
        `the previous coordinator (pid ${previous.coordinator}) died; stopping what it ` +
          `left running: ${left.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`,
      );
    }
    // Workers first, so each hands its job back to the broker it uses; then NATS.
    const isNats = (p: { name: string }) => p.name === 'nats-server';
    for (const group of [left.filter((p) => !isNats(p)), left.filter(isNats)]) {
      for (const p of group) process.kill(p.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (group.some((p) => alive(p.pid)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const p of group) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
    }
    rmSync(this.file, { force: true });
  }

  /** Records a started process; `command` is a part of its command line. */
  add(name: string, pid: number | undefined, command: string): void {
    if (pid === undefined) return;
    this.record.processes.push({ name, pid, command });
    mkdirSync(dirname(this.file), { recursive: true });
    writeFileSync(this.file, `${JSON.stringify(this.record, null, 2)}\n`);
  }

  /** Called after every recorded process was stopped. */
  clear(): void {
    rmSync(this.file, { force: true });
  }
}
