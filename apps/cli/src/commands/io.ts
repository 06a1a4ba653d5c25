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
