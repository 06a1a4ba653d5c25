import { readFileSync } from 'node:fs';

/** CPU time counters, in clock ticks, at one moment. */
export interface CpuCounters {
  /** Busy time of all CPUs together (user, nice, system, irq, softirq, steal). */
  busy: number;
  /** Busy plus idle and iowait: the CPU time that passed, all CPUs together. */
  total: number;
  /** This process's CPU time plus that of its children it has reaped. */
  own: number;
}

/**
 * The machine's CPU counters (/proc/stat) and this process's own
 * (/proc/self/stat: utime, stime, cutime, cstime). Null where /proc is
 * missing or unreadable (not Linux).
 */
export function readCpuCounters(): CpuCounters | null {
  try {
    return parseCpuCounters(
      readFileSync('/proc/stat', 'utf8'),
      readFileSync('/proc/self/stat', 'utf8'),
    );
  } catch {
    return null;
  }
}

/** parseCpuCounters from the two files' text (exported for tests). */
export function parseCpuCounters(procStat: string, selfStat: string): CpuCounters {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat: expected a "cpu " line, found none');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 8 || f.some((v) => !Number.isFinite(v))) {
    throw new Error(
      `/proc/stat: expected at least 8 numbers on the cpu line, got "${line}"`,
    );
  }
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f;
  const busy = user + nice + system + irq + softirq + steal;
  // Fields after the command name, which may hold spaces and parentheses.
  const rest = selfStat.slice(selfStat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime are fields 14-17 of stat(5); rest[0] is field 3.
  const own = [11, 12, 13, 14].reduce((sum, i) => sum + Number(rest[i]), 0);
  if (!Number.isFinite(own)) {
    throw new Error('/proc/self/stat: expected utime, stime, cutime and cstime');
  }
  return { busy, total: busy + idle + iowait, own };
}

/**
 * The share of all CPUs' time between `start` and `end` that went to work
 * other than this process and its reaped children: 0 on an otherwise idle
 * machine, 0.5 when something else kept one of two cores busy throughout.
 * Call `end` after every child has exited. Null without counters.
 */
export function otherCpuShare(
  start: CpuCounters | null,
  end: CpuCounters | null,
): number | null {
  if (!start || !end) return null;
  const total = end.total - start.total;
  if (!(total > 0)) return null;
  const other = end.busy - start.busy - (end.own - start.own);
  return Math.min(1, Math.max(0, other / total));
}
