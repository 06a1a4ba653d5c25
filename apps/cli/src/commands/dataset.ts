import {
  type Dataset,
  type DatasetDescription,
  type DatasetOptions,
  describeDataset,
  loadDataset,
  SPLIT_NAMES,
  type SplitName,
} from '@vicinal/data';
import { Command } from 'commander';
import { type CommandIo, failureExitCode, processIo, UsageError } from './io.js';

/** The data set formats `vicinal dataset inspect` reads. */
export const INSPECT_FORMATS = [
  'fashion-mnist',
  'cifar10',
  'cifar100',
  'image-folder',
] as const;
export type InspectFormat = (typeof INSPECT_FORMATS)[number];

/** Raw option values as commander hands them over. */
interface InspectFlags {
  format?: string;
  json?: boolean;
  split: string;
  coarse?: boolean;
  size?: string;
  channels?: string;
  testFraction?: string;
  seed?: string;
}

/**
 * `vicinal dataset inspect --format F PATH [--json] [--split train|test|all]`:
 * loads a data set and prints its number of images, image shape and images
 * per class. Failures print one line on stderr and set exit code 2 for a bad
 * flag or a path that does not exist or does not read as the format, 1 for
 * anything else.
 */
export function datasetCommand(io: CommandIo = processIo): Command {
  const inspect = new Command('inspect')
    .description(
      'Load a data set and print its number of images, the image shape and the ' +
        'number of images per class.',
    )
    .argument('<path>', 'directory of the data set files')
    .option(
      '--format <format>',
      `data set format (required): ${INSPECT_FORMATS.join(', ')}`,
    )
    .option('--json', 'print {"images": n, "shape": [h, w, c], "class_counts": [...]}')
    .option(
      '--split <split>',
      `which images to count: ${SPLIT_NAMES.join(', ')} (every file is read and checked)`,
      'all',
    )
    .option('--coarse', 'cifar100: use the 20 coarse labels instead of the 100 fine ones')
    .option(
      '--size <HxW>',
      'image-folder: resize every image to H x W pixels (e.g. 32x32)',
    )
    .option('--channels <n>', 'image-folder: 1 (grey) or 3 (RGB); default from the files')
    .option(
      '--test-fraction <f>',
      'image-folder without train/ and test/: held-out share',
    )
    .option(
      '--seed <n>',
      'image-folder without train/ and test/: seed of the held-out choice',
    )
    .action(async (path: string, flags: InspectFlags) => {
      try {
        const format = parseFormat(flags.format);
        const split = parseSplit(flags.split);
        const options = parseOptions(format, flags);
        const dataset = await loadDataset({ name: format, dir: path, options });
        const description = describeDataset(dataset, split);
        io.out(
          flags.json
            ? `${descriptionJson(description)}\n`
            : describeText(format, path, split, dataset, description),
        );
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        io.err(`vicinal dataset inspect: ${message}\n`);
        io.setExitCode(failureExitCode(err));
      }
    });
  return new Command('dataset')
    .description('Inspect the data sets vicinal reads.')
    .addCommand(inspect);
}

/**
 * The description as one line of JSON, spaced as
 * `{"images": n, "shape": [h, w, c], "class_counts": [...]}`.
 */
export function descriptionJson(d: DatasetDescription): string {
  return (
    `{"images": ${d.images}, "shape": [${d.shape.join(', ')}], ` +
    `"class_counts": [${d.class_counts.join(', ')}]}`
  );
}

function describeText(
  format: InspectFormat,
  path: string,
  split: SplitName,
  dataset: Dataset,
  d: DatasetDescription,
): string {
  const [h, w, c] = d.shape;
  const index = String(dataset.numClasses - 1).length;
  const name = Math.max(...dataset.classNames.map((n) => n.length));
  const rows = d.class_counts.map(
    (count, k) =>
      `  ${String(k).padStart(index)}  ${dataset.classNames[k].padEnd(name)}  ${count}`,
  );
  return [
    `${format} at ${path} (split: ${split})`,
    `images: ${d.images}`,
    `shape: ${h}x${w}x${c} (height x width x channels)`,
    `classes: ${dataset.numClasses}`,
    ...rows,
    '',
  ].join('\n');
}

function parseFormat(value: string | undefined): InspectFormat {
  const format = INSPECT_FORMATS.find((f) => f === value);
  if (!format) {
    const got = value === undefined ? 'none' : JSON.stringify(value);
    throw new UsageError(
      `--format: expected one of ${INSPECT_FORMATS.join(', ')}, got ${got}`,
    );
  }
  return format;
}

function parseSplit(value: string): SplitName {
  const split = SPLIT_NAMES.find((s) => s === value);
  if (!split) {
    throw new UsageError(
      `--split: expected one of ${SPLIT_NAMES.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return split;
}

/** Loader options from the flags; a flag of another format is refused by name. */
function parseOptions(format: InspectFormat, flags: InspectFlags): DatasetOptions {
  const imageFolderFlags: [string, string | undefined][] = [
    ['--size', flags.size],
    ['--channels', flags.channels],
    ['--test-fraction', flags.testFraction],
    ['--seed', flags.seed],
  ];
  if (flags.coarse && format !== 'cifar100') {
    throw new UsageError(
      `--coarse: applies to --format cifar100 only, got --format ${format}`,
    );
  }
  for (const [flag, value] of imageFolderFlags) {
    if (value !== undefined && format !== 'image-folder') {
      throw new UsageError(
        `${flag}: applies to --format image-folder only, got --format ${format}`,
      );
    }
  }
  const options: DatasetOptions = {};
  if (flags.coarse) options.labels = 'coarse';
  if (flags.size !== undefined) options.size = parseSize(flags.size);
  if (flags.channels !== undefined) {
    if (flags.channels !== '1' && flags.channels !== '3') {
      throw new UsageError(
        `--channels: expected 1 or 3, got ${JSON.stringify(flags.channels)}`,
      );
    }
    options.channels = flags.channels === '1' ? 1 : 3;
  }
  if (flags.testFraction !== undefined) {
    options.testFraction = parseNumber('--test-fraction', flags.testFraction, false);
  }
  if (flags.seed !== undefined) options.seed = parseNumber('--seed', flags.seed, true);
  return options;
}

/** "32x24" -> [32, 24] (height, width); "32" -> [32, 32]. */
function parseSize(value: string): [number, number] {
  const match = /^(\d+)(?:x(\d+))?$/.exec(value.trim());
  const h = match ? Number(match[1]) : Number.NaN;
  const w = match?.[2] !== undefined ? Number(match[2]) : h;
  if (!(h >= 1 && w >= 1)) {
    throw new UsageError(
      `--size: expected HxW or one side in pixels (e.g. 32x32), got ${JSON.stringify(value)}`,
    );
  }
  return [h, w];
}

function parseNumber(flag: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    const kind = integer ? 'an integer' : 'a number';
    throw new UsageError(`${flag}: expected ${kind}, got ${JSON.stringify(value)}`);
  }
  return n;
}
