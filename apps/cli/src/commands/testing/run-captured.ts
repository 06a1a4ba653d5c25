import type { Command } from 'commander';
import type { CommandIo } from '../io.js';

export interface CapturedRun {
  out: string;
  err: string;
  exitCode: number | undefined;
}

/** Runs a command in-process with ARGS and captures what it prints. */
export async function runCaptured(
  makeCommand: (io: CommandIo) => Command,
  args: string[],
): Promise<CapturedRun> {
  const result: CapturedRun = { out: '', err: '', exitCode: undefined };
  const command = makeCommand({
    out: (text) => {
      result.out += text;
    },
    err: (text) => {
      result.err += text;
    },
    setExitCode: (code) => {
      result.exitCode = code;
    },
  });
  await command.parseAsync(args, { from: 'user' });
  return result;
}
