import { ConfigError } from '@vicinal/config';
import { DatasetError } from '@vicinal/data';
import { ResultsError } from '@vicinal/report';

/**
 * A bad flag or argument of a command (a value out of range, an unknown
 * choice, a file argument that does not exist): the CLI exits with code 2,
 * as for bad settings, instead of 1 for a failure while running.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Exit code 2 for bad settings or usage, a data set or results file that
 * does not read included; 1 for any other failure.
 */
export function failureExitCode(err: unknown): number {
  const bad =
    err instanceof UsageError ||
    err instanceof ConfigError ||
    err instanceof DatasetError ||
    err instanceof ResultsError;
  return bad ? 2 : 1;
}

/** Where a command writes and how it reports failure (tests pass their own). */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
}

/** The process's stdout, stderr and exit code. */
export const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};
