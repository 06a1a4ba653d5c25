import { stat } from 'node:fs/promises';

/**
 * A data set file or directory that cannot be used: missing, truncated, of the
 * wrong kind or inconsistent. `file` names the offending file (or directory).
 */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';
  readonly file: string;

  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.file = file;
  }
}

/**
 * Throws a DatasetError unless `dir` is a directory: "expected <what>, found
 * none" when nothing is there, "got a file" when a file is.
 */
export async function requireDirectory(dir: string, what: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new DatasetError(dir, `expected ${what}, found none`);
  if (!info.isDirectory()) {
    throw new DatasetError(dir, `expected ${what}, got a file`);
  }
}
