/**
 * Runs `vicinal bench` on its own, before (or without) the main CLI:
 *   node --import tsx bench/cli.ts [--json] [--quick] [--reps N]
 */
import { benchCommand } from '../apps/cli/src/commands/bench.js';

try {
  await benchCommand().name('vicinal bench').parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`vicinal bench: ${err instanceof Error ? err.message : err}\n`);
  process.exitCode = 1;
}
