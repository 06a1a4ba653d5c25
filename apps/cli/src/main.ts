import { readFileSync } from 'node:fs';
import { startTelemetry, type Telemetry, withSpan } from '@vicinal/telemetry';
import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench.js';
import { checkVectorsCommand } from './commands/check-vectors.js';
import { datasetCommand } from './commands/dataset.js';
import { failureExitCode } from './commands/io.js';
import { redactUrlCredentials } from './commands/options.js';
import { reportCommand } from './commands/report.js';
import { InterruptedError, studyCommand } from './commands/study.js';
import { submitCommand } from './commands/submit.js';
import { statusCommand, watchCommand } from './commands/watch.js';

const { version } = JSON.parse(
  readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
) as { version: string };

// A reader that stops early (`vicinal status ... | head -1`) closes the pipe:
// stop quietly, as other command-line tools do, instead of an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** Printed after a usage error (an unknown command or option), not the whole help. */
const HELP_POINTER =
  '(vicinal --help lists the commands; vicinal COMMAND --help its options)';

const program = new Command('vicinal')
  .description('Online knowledge distillation with mixup: teachers, students, the study.')
  .version(version, '-V, --version', 'print the version of vicinal')
  .addCommand(studyCommand())
  .addCommand(submitCommand())
  .addCommand(checkVectorsCommand())
  .addCommand(datasetCommand())
  .addCommand(reportCommand())
  .addCommand(statusCommand())
  .addCommand(watchCommand())
  .addCommand(benchCommand());

// Usage errors (an unknown option, a bad option value) exit with code 2 like
// bad settings; commander has printed them already, URL credentials hidden.
// Help exits 0.
const overrideExits = (c: Command): void => {
  c.exitOverride();
  c.showHelpAfterError(HELP_POINTER);
  c.configureOutput({
    outputError: (text, write) => write(redactUrlCredentials(text)),
  });
  for (const sub of c.commands) overrideExits(sub);
};
overrideExits(program);

const command =
  process.argv[2] && !process.argv[2].startsWith('-') ? process.argv[2] : '';
let telemetry: Telemetry | undefined;
try {
  // Traces and metrics as the OTEL_* / VICINAL_METRICS_PORT variables say (off
  // when unset); a wrong value is refused here like any bad setting, in one
  // line. The command is the root span: `vicinal study` is the coordinator's trace.
  telemetry = await startTelemetry('vicinal-coordinator');
  await withSpan(`vicinal ${command}`.trim(), {}, () => program.parseAsync(process.argv));
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    reportFailure(err);
  }
} finally {
  await telemetry?.shutdown();
}

function reportFailure(err: unknown): void {
  // Expected failures get one clear line; exit 2 for bad settings, 128 + the
  // signal's number for a study stopped by Ctrl-C or SIGTERM, 1 otherwise.
  const message = redactUrlCredentials(err instanceof Error ? err.message : String(err));
  process.stderr.write(`vicinal: ${message}\n`);
  if (process.env.VICINAL_DEBUG && err instanceof Error)
    process.stderr.write(`${err.stack}\n`);
  process.exitCode =
    err instanceof InterruptedError ? err.exitCode : failureExitCode(err);
}
