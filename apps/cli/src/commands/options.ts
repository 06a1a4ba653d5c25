import { existsSync, statSync } from 'node:fs';
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
 * Checks a NATS URL (or comma-separated list of them, as the client takes)
 * for what the client would refuse only when connecting: an empty value, or
 * one that is not a URL. A name without a scheme is taken as nats://NAME.
 */
export function parseNatsUrl(value: string): string {
  for (const server of value.split(',')) {
    const withScheme = server.includes('://') ? server.trim() : `nats://${server.trim()}`;
    if (!URL.canParse(withScheme) || !new URL(withScheme).hostname) {
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
