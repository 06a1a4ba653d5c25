import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { SECTIONS, type Section } from '../../../../bench/measurements.js';
import { buildReport } from '../../../../bench/report.js';
import { type BenchOptions, runBench } from '../../../../bench/run-bench.js';
import { formatTable } from '../../../../bench/table.js';
import { UsageError } from './io.js';

interface BenchFlags {
  json?: boolean;
  quick?: boolean;
  reps?: string;
  sections?: string;
  out?: string;
}

/** Parses --reps: a whole number of repetitions in [1, 100]. */
export function parseReps(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 100) {
    throw new UsageError(
      `--reps: expected an integer in [1, 100], got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Parses --sections: a comma-separated subset of the bench's sections. */
export function parseSections(value: string | undefined): Section[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const out: Section[] = [];
  for (const name of names) {
    const section = SECTIONS.find((s) => s === name);
    if (!section) {
      throw new UsageError(
        `--sections: expected a comma-separated list of ${SECTIONS.join(', ')}, ` +
          `got ${JSON.stringify(name)}`,
      );
    }
    out.push(section);
  }
  if (out.length === 0)
    throw new UsageError('--sections: expected at least one section, got none');
  return out;
}

/**
 * Checks --out before anything is measured: a file to (over)write in an
 * existing directory, not a directory.
 */
export function checkOutFile(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const path = resolve(value);
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new UsageError(
      `--out: expected a file to write the JSON report to, got a directory: ${value}`,
    );
  }
  const parent = dirname(path);
  if (!existsSync(parent) || !statSync(parent).isDirectory()) {
    throw new UsageError(
      `--out: expected a file in an existing directory, got ${value} (no directory ${parent})`,
    );
  }
  return path;
}

/**
 * `vicinal bench [--json] [--quick] [--reps N]`: measures, on this machine and
 * in one run, student throughput without / with an in-process / with a remote
 * teacher, teacher-server throughput against raw inference, bytes on the wire
 * per request mode, and vicinal against a PyTorch reference; prints the
 * ratios with medians and spreads. Progress goes to stderr, results to stdout.
 */
export function benchCommand(): Command {
  return new Command('bench')
    .description(
      'Measure training and serving speed on this machine: remote vs in-process ' +
        'teacher, server vs raw inference, wire bytes, and vicinal vs PyTorch.',
    )
    .option('--json', 'print one JSON object instead of a table')
    .option('--quick', 'short run (fewer steps and rows; for checking the bench works)')
    .option('--reps <n>', 'repetitions of every measurement (default 5, --quick 3)')
    .option(
      '--sections <list>',
      `run only these sections (comma-separated: ${SECTIONS.join(', ')})`,
    )
    .option('--out <file>', 'also write the JSON report to this file')
    .action(async (flags: BenchFlags) => {
      const out = checkOutFile(flags.out);
      const options: BenchOptions = {
        quick: flags.quick ?? false,
        reps: parseReps(flags.reps),
        sections: parseSections(flags.sections),
        progress: (line) => process.stderr.write(`${line}\n`),
      };
      const report = buildReport(await runBench(options));
      const json = `${JSON.stringify(report, null, 2)}\n`;
      if (out) writeFileSync(out, json);
      process.stdout.write(flags.json ? json : formatTable(report));
    });
}
