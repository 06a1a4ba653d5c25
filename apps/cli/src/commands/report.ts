import { dirname, resolve } from 'node:path';
import { readResults, writeReport } from '@vicinal/report';
import { Command } from 'commander';
import { type CommandIo, failureExitCode, processIo } from './io.js';
import { checkOutputDirectory } from './options.js';

/**
 * `vicinal report RESULTS [--out DIR]`: reads a study's results.json (the
 * file, or a directory holding it), writes report.html, report.json and the
 * CSV tables into DIR (default: the directory of the results file) and prints
 * the path of report.html. Failures print one line on stderr and set exit
 * code 2 for a bad argument (a results path that does not exist, results
 * that do not read or check, a bad --out), 1 for a failure writing.
 */
export function reportCommand(io: CommandIo = processIo): Command {
  return new Command('report')
    .description(
      'Write the study report (self-contained HTML with charts, plus the JSON and ' +
        'CSV tables behind it) from a results.json.',
    )
    .argument('<results>', 'a results.json file or a directory that holds one')
    .option('--out <dir>', 'where to write the report (default: next to the results)')
    .action(async (path: string, flags: { out?: string }) => {
      try {
        if (flags.out !== undefined) checkOutputDirectory(flags.out);
        const { results, file } = await readResults(path);
        const files = await writeReport(results, flags.out ?? dirname(file));
        io.out(`${resolve(files.html)}\n`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        io.err(`vicinal report: ${message}\n`);
        io.setExitCode(failureExitCode(err));
      }
    });
}
