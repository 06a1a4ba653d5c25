import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  defaultStudy,
  parseConfig,
  type StudySettings,
  studySchema,
} from '@vicinal/config';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { runStudy } from '../study/run-study.js';
import { summaryTable, writeResultsAndReport, writeSummary } from '../study/summary.js';

/** `vicinal study [CONFIG]`: the main job, everything started locally. */
export function studyCommand(): Command {
  return new Command('study')
    .description(
      'Train (or reuse) a teacher, serve it over gRPC, start student trainers, run the ' +
        'four-arm study over NATS JetStream and write summary.json / summary.md.',
    )
    .argument('[config]', 'study settings (YAML); default: the built-in default study')
    .option('--full', 'the full-size study (all 60k training images, more epochs)')
    .option('--out <dir>', 'output directory', 'out/study')
    .option(
      '--workers <n>',
      'student trainer processes',
      (v) => positiveInt(v, '--workers'),
      2,
    )
    .option('--retrain', 'train the teacher even if one with these settings is cached')
    .option('--nats <url>', 'use this NATS server instead of starting a local one')
    .option(
      '--no-local-services',
      'start no teacher server or student trainers here (they run on a cluster)',
    )
    .option('--cache-dir <dir>', 'where trained teachers are cached', '.vicinal/cache')
    .addOption(
      new Option('--backend <name>', 'TensorFlow.js backend')
        .choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'])
        .default(process.env.VICINAL_BACKEND ?? 'auto'),
    )
    .action(async (config: string | undefined, opts) => {
      const settings: StudySettings = config
        ? loadStudyFile(config)
        : defaultStudy(opts.full ? 'full' : 'default');
      const controller = new AbortController();
      const interrupt = () => {
        process.stderr.write(
          '\ninterrupted: stopping every process this study started\n',
        );
        controller.abort(new Error('interrupted'));
      };
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      const out = resolve(opts.out);
      const { summary, results } = await runStudy({
        settings,
        out,
        workers: opts.workers,
        retrain: Boolean(opts.retrain),
        natsUrl: opts.nats,
        localServices: opts.localServices,
        cacheDir: resolve(opts.cacheDir),
        backend: opts.backend,
        print: (line) => process.stdout.write(`${line}\n`),
        signal: controller.signal,
      });
      writeSummary(out, summary);
      const report = await writeResultsAndReport(out, results);
      process.stdout.write(`\n${summaryTable(summary)}\n\n`);
      process.stdout.write(
        `wrote ${out}/summary.json, summary.md, results.json and ${report} ` +
          `(${summary.wall_seconds} s)\n`,
      );
    });
}

/** Reads and validates a YAML study file; unknown keys are rejected by name. */
export function loadStudyFile(path: string): StudySettings {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read study settings ${path}: ${(err as Error).message}`);
  }
  return parseConfig(studySchema, raw, path);
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag} expects a positive integer, got "${value}"`);
  return n;
}
