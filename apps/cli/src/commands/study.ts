import { existsSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  defaultStudy,
  type ExperimentSettings,
  isSingleStudy,
  parseExperiment,
  studyAsExperiment,
} from '@vicinal/config';
import { listModels } from '@vicinal/models';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { runStudy } from '../study/run-study.js';
import { summaryTable, writeResultsAndReport, writeSummary } from '../study/summary.js';
import {
  backendOption,
  checkLocalServices,
  checkOutputDirectory,
  maxWorkers,
  parseNatsUrl,
  parseWorkers,
  serviceLogLevel,
  WORKERS_PER_CPU,
} from './options.js';

/** `vicinal study [CONFIG]`: the main job, everything started locally. */
export function studyCommand(): Command {
  return new Command('study')
    .description(
      'Run an experiment grid end to end: train (or reuse) each teacher, serve each over ' +
        'gRPC, start student trainers, run every job over NATS JetStream (skipping jobs ' +
        'that already have results) and write summary, results and report.',
    )
    .argument(
      '[config]',
      'experiment grid or single study (YAML); default: the built-in default study',
    )
    .option('--full', 'the full-size study (all 60k training images, more epochs)')
    .option('--out <dir>', 'output directory', 'out/study')
    .option(
      '--workers <n>',
      `student trainer processes started here, 1 to ${maxWorkers()} ` +
        `(${WORKERS_PER_CPU} per CPU core)`,
      (v) => parseWorkers(v),
      2,
    )
    .option('--retrain', 'train the teachers even if ones with these settings are cached')
    .option(
      '--nats <url>',
      'use this NATS server instead of starting a local one',
      parseNatsUrl,
    )
    .option(
      '--no-local-services',
      'start no teacher server or student trainers here: they run elsewhere (e.g. a ' +
        'cluster) and take the jobs from the NATS given by --nats, which this needs',
    )
    .option('--cache-dir <dir>', 'where trained teachers are cached', '.vicinal/cache')
    .addOption(backendOption('TensorFlow.js backend'))
    .action(async (config: string | undefined, opts, command: Command) => {
      checkLocalServices({
        ...opts,
        workersGiven: command.getOptionValueSource('workers') === 'cli',
      });
      const serviceLogs = serviceLogLevel();
      const settings: ExperimentSettings = config
        ? loadStudyFile(config)
        : studyAsExperiment(defaultStudy(opts.full ? 'full' : 'default'));
      const controller = new AbortController();
      let stoppedBy: NodeJS.Signals | null = null;
      const interrupt = (signal: NodeJS.Signals) => {
        stoppedBy = signal;
        process.stderr.write(
          '\ninterrupted: stopping every process this study started\n',
        );
        controller.abort(new Error('interrupted'));
        // Everything this study started is stopped before runStudy settles; a
        // handle left open somewhere must not keep an interrupted study alive.
        setTimeout(() => process.exit(signalExitCode(signal)), 30_000).unref();
      };
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      const out = resolve(opts.out);
      checkOutputDirectory(out);
      checkOutputDirectory(opts.cacheDir, '--cache-dir');
      const { summary, outputs } = await runStudy({
        settings,
        out,
        workers: opts.workers,
        retrain: Boolean(opts.retrain),
        natsUrl: opts.nats,
        localServices: opts.localServices,
        cacheDir: resolve(opts.cacheDir),
        backend: opts.backend,
        serviceLogLevel: serviceLogs,
        print: (line) => process.stdout.write(`${line}\n`),
        signal: controller.signal,
      }).catch((err: unknown) => {
        throw stoppedBy ? new InterruptedError(stoppedBy) : err;
      });
      writeSummary(out, summary);
      const reports: string[] = [];
      for (const output of outputs) {
        reports.push(await writeResultsAndReport(join(out, output.dir), output.results));
      }
      process.stdout.write(`\n${summaryTable(summary)}\n\n`);
      process.stdout.write(
        `wrote ${out}/summary.json, summary.md, results.json and ${reports.join(', ')} ` +
          `with report.json and the CSV tables beside it (${summary.wall_seconds} s)\n`,
      );
    });
}

/** A study stopped by a signal; the CLI exits with 128 + the signal's number. */
export class InterruptedError extends Error {
  readonly exitCode: number;
  constructor(readonly signal: NodeJS.Signals) {
    super(
      `study interrupted by ${signal}; every process it started was stopped ` +
        '(run the same command again to resume)',
    );
    this.name = 'InterruptedError';
    this.exitCode = signalExitCode(signal);
  }
}

/** The shell's exit status for a process ended by `signal`: 128 + its number. */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/**
 * Reads and validates a YAML experiment file (a grid, or the single-study
 * form); unknown keys are rejected by name before anything runs, and the
 * data set directories it names must exist.
 */
export function loadStudyFile(path: string): ExperimentSettings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    // A study file that is missing or unreadable is a usage error (exit code 2).
    throw new ConfigError(path, [
      `cannot read the study settings: ${(err as Error).message}`,
    ]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    // A syntax error is a bad setting like any other (exit code 2). The
    // parser's message is a line ending in ':', a blank line, the lines up to
    // the place (the last may be empty: the end of the file) and a caret
    // under it. Blank lines inside stay, or the caret would move up a line.
    const [first, ...rest] = (err as Error).message.split('\n');
    const blank = (line: string | undefined) => line !== undefined && line.trim() === '';
    while (blank(rest[0])) rest.shift();
    while (blank(rest.at(-1))) rest.pop();
    throw new ConfigError(path, [
      `not valid YAML: ${first.replace(/:\s*$/, '')}` +
        rest.map((line) => `\n${`    ${line}`.trimEnd()}`).join(''),
    ]);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError(path, [
      'the file holds no settings (empty, or only comments): expected a study or ' +
        'an experiment grid as a YAML mapping',
    ]);
  }
  const settings = parseExperiment(raw, path);
  // Problems are named by the keys of the file's own form.
  const single = isSingleStudy(raw);
  checkArchitectures(settings, path, single);
  // The coordinator reads every data set itself (teachers, the summary),
  // also when the student trainers run elsewhere.
  checkDatasetDirs(settings, path, single);
  return settings;
}

/**
 * Every data set directory the settings name must exist: checked with the
 * schema, before any teacher trains (the loaders check the files in it).
 * Relative paths are taken from the working directory, as the loaders do.
 */
export function checkDatasetDirs(
  settings: ExperimentSettings,
  source: string,
  single: boolean,
): void {
  const issues: string[] = [];
  settings.datasets.forEach((dataset, i) => {
    if (dataset.dir === undefined) return;
    const field = single ? 'dataset.dir' : `datasets.${i}.dir`;
    const path = resolve(dataset.dir);
    if (!existsSync(path)) {
      issues.push(
        `${field}: expected a directory of ${dataset.name} files, found nothing at ${path}`,
      );
    } else if (!statSync(path).isDirectory()) {
      issues.push(
        `${field}: expected a directory of ${dataset.name} files, got a file: ${path}`,
      );
    }
  });
  if (issues.length > 0) throw new ConfigError(source, issues);
}

/**
 * Every architecture the grid names must be a registered model: checked with
 * the schema, before any teacher trains.
 */
export function checkArchitectures(
  settings: ExperimentSettings,
  source: string,
  single: boolean,
): void {
  const known = new Set(listModels());
  const field = (key: 'teacher' | 'student', i: number) =>
    single ? `${key}.architecture` : `${key}s.${i}.architecture`;
  const named = [
    ...settings.teachers.map((t, i) => [field('teacher', i), t.architecture]),
    ...settings.students.map((s, i) => [field('student', i), s.architecture]),
  ];
  const issues = named
    .filter(([, name]) => !known.has(name))
    .map(
      ([field, name]) =>
        `${field}: unknown model "${name}", expected one of ${[...known].join(', ')}`,
    );
  if (issues.length > 0) throw new ConfigError(source, issues);
}
