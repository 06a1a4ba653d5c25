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
