import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  LOG_LEVEL_NAMES,
  type LogLevelName,
  logLevelOf,
  natsUrlProblem,
  SLUG,
  SLUG_RULE,
} from '@vicinal/config';
import { InvalidArgumentError, Option } from 'commander';

/** What --backend and VICINAL_BACKEND accept. */
export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/**
 * --backend, defaulting to VICINAL_BACKEND, then "auto". The variable is
 * checked against the same choices as the flag when the command line is
 * parsed, so a wrong value is refused (exit 1, naming the variable) before
 * the command does anything.
 */
export function backendOption(description: string): Option {
  return new Option('--backend <name>', description)
    .choices(BACKEND_CHOICES)
    .env('VICINAL_BACKEND')
    .default('auto');
}

/**
 * Checks a NATS URL (or comma-separated list of them) as the services check
 * VICINAL_NATS_URL (natsUrlProblem in libs/config).
 */
export function parseNatsUrl(value: string): string {
  const problem = natsUrlProblem(value);
  if (problem) throw new InvalidArgumentError(`${problem}.`);
  return value;
}

/**
 * `text` with the user and password of every URL in it (nats://user:pass@host)
 * replaced by ***: what the command line echoes back (commander repeats a
 * refused option value, a NATS client names the server) never shows them.
 */
export function redactUrlCredentials(text: string): string {
  return (
    text
      // scheme://user:pass@host, up to the last @ of the authority (a password
      // may hold an unescaped @)
      .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/'",]*@/gi, '$1***@')
      // user:pass@host without a scheme (the client takes nats:// for it)
      .replace(/(^|[\s'"=,])[^\s/'",:@*]+:[^\s/'",]*@/g, '$1***@')
  );
}

/** A study id argument: the name of a study file, so a slug. */
export function parseStudyId(value: string): string {
  if (!SLUG.test(value) || value.length > 40) {
    throw new InvalidArgumentError(
      `Expected a study id (the name in its settings file: ${SLUG_RULE}, at most 40).`,
    );
  }
  return value;
}

/**
 * --nats, defaulting to VICINAL_NATS_URL (checked like the flag when the
 * command line is parsed).
 */
export function natsOption(description = 'NATS server'): Option {
  return new Option('--nats <url>', description)
    .env('VICINAL_NATS_URL')
    .argParser(parseNatsUrl)
    .makeOptionMandatory();
}

/**
 * A directory option (--out, --cache-dir) must be a directory or a path that
 * can become one (nothing there, and no file on the way to it), and one this
 * process may write in: refused before anything starts, since otherwise the
 * command fails only when it first writes there (with a raw EEXIST, ENOTDIR
 * or EACCES), perhaps after training a teacher.
 */
export function checkOutputDirectory(out: string, option = '--out'): void {
  const path = resolve(out);
  if (existsSync(path) && !statSync(path).isDirectory()) {
    throw new ConfigError(option, [
      `${path}: expected a directory (or a path that does not exist yet), got a file`,
    ]);
  }
  let above = path;
  while (!existsSync(above) && dirname(above) !== above) above = dirname(above);
  if (!statSync(above).isDirectory()) {
    throw new ConfigError(option, [`${path}: cannot be a directory, ${above} is a file`]);
  }
  try {
    accessSync(above, constants.W_OK | constants.X_OK);
  } catch {
    throw new ConfigError(option, [
      `${path}: expected a directory this user may write in; ${above} is not writable`,
    ]);
  }
}

/**
 * Student trainers `vicinal study --workers` may start per CPU core. Each is
 * its own process running a training loop on the CPU, with its own copy of
 * the data sets and models, next to the teacher servers on the same cores.
 * Past a few per core they add no throughput, only memory and start-up time;
 * 4 leaves room for trainers that spend part of each step waiting for the
 * teacher. On a cluster, trainers are scaled as their own deployment.
 */
export const WORKERS_PER_CPU = 4;

/** The largest --workers on a machine with `cpus` cores. */
export function maxWorkers(cpus = availableParallelism()): number {
  return WORKERS_PER_CPU * cpus;
}

/** Parses --workers: a whole number from 1 to maxWorkers(). */
export function parseWorkers(value: string, max = maxWorkers()): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < 1 || n > max) {
    throw new ConfigError('--workers', [
      `expects an integer from 1 to ${max} (${WORKERS_PER_CPU} per CPU core), ` +
        `got "${value}"`,
    ]);
  }
  return n;
}

/**
 * VICINAL_LOG_LEVEL as the services it starts will read it: a known level
 * (any case) or unset. Checked before anything starts, since a service
 * refuses an unknown one only when it starts, after NATS and perhaps a
 * teacher's training. Returns the level to hand them.
 */
export function serviceLogLevel(setting = process.env.VICINAL_LOG_LEVEL): LogLevelName {
  const level = logLevelOf(setting);
  if (level === null) {
    throw new ConfigError('VICINAL_LOG_LEVEL', [
      `expected one of ${LOG_LEVEL_NAMES.join(', ')}, got ${JSON.stringify(setting)}`,
    ]);
  }
  return level ?? 'info';
}

/**
 * --no-local-services needs --nats: without it the study would start a NATS
 * of its own that no teacher server or student trainer elsewhere can reach,
 * and wait for results forever. It also starts no trainers here, so a
 * --workers given with it would be silently ignored. Both are refused
 * before anything starts.
 */
export function checkLocalServices(opts: {
  localServices: boolean;
  nats?: string;
  /** Whether --workers was on the command line (not its default). */
  workersGiven?: boolean;
}): void {
  if (!opts.localServices && opts.nats === undefined) {
    throw new ConfigError('--no-local-services', [
      'needs --nats URL, the NATS where the teacher servers and student trainers ' +
        'run; without it the study would start its own NATS, which they cannot reach',
    ]);
  }
  if (!opts.localServices && opts.workersGiven) {
    throw new ConfigError('--workers', [
      'has no effect with --no-local-services: no student trainers start here; ' +
        'scale the trainers where they run (e.g. the student-trainer Deployment)',
    ]);
  }
}
