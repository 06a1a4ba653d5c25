import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '@vicinal/config';
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
 * The URL schemes taken for a NATS server. The client reads only host and
 * port from either: TLS comes from the TLS options (VICINAL_NATS_CA and the
 * rest), not from tls://.
 */
const NATS_SCHEMES = ['nats:', 'tls:'];

/**
 * Checks a NATS URL (or comma-separated list of them, as the client takes)
 * for what the client would refuse only when connecting: an empty value, one
 * that is not a URL, or one of another scheme (http://, ftp://). A name
 * without a scheme is taken as nats://NAME.
 */
export function parseNatsUrl(value: string): string {
  for (const server of value.split(',')) {
    const withScheme = server.includes('://') ? server.trim() : `nats://${server.trim()}`;
    if (
      !URL.canParse(withScheme) ||
      !new URL(withScheme).hostname ||
      !NATS_SCHEMES.includes(new URL(withScheme).protocol)
    ) {
      throw new InvalidArgumentError(
        'Expected a NATS URL such as nats://127.0.0.1:4222.',
      );
    }
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
 * --out must be a directory or a path that can become one (nothing there, and
 * no file on the way to it): refused before anything starts, since a file
 * there would fail the command only when it first writes (with a raw EEXIST
 * or ENOTDIR). `vicinal study` and `vicinal report` say so alike.
 */
export function checkOutputDirectory(out: string): void {
  const path = resolve(out);
  if (existsSync(path) && !statSync(path).isDirectory()) {
    throw new ConfigError('--out', [
      `${path}: expected a directory (or a path that does not exist yet), got a file`,
    ]);
  }
  let above = dirname(path);
  while (!existsSync(above) && dirname(above) !== above) above = dirname(above);
  if (!statSync(above).isDirectory()) {
    throw new ConfigError('--out', [
      `${path}: cannot be a directory, ${above} is a file`,
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
