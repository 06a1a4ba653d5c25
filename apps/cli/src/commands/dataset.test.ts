import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PNG } from 'pngjs';
import { datasetCommand } from './dataset.js';
import { runCaptured } from './testing/run-captured.js';

const root = await mkdtemp(join(tmpdir(), 'vicinal-cli-dataset-'));
after(() => rm(root, { recursive: true, force: true }));

/** Runs `vicinal dataset ARGS` in-process and captures what it prints. */
const run = (...args: string[]) => runCaptured(datasetCommand, args);

/** CIFAR records with the given labels (one or two label bytes each). */
function cifar(labels: number[][]): Uint8Array {
  const size = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * size);
  for (const [i, l] of labels.entries()) {
    out.set(l, i * size);
    out.fill(i + 1, i * size + l.length, (i + 1) * size);
  }
  return out;
}

test('fashion-mnist: the real data, all splits and one, JSON and text', async () => {
  const dir = '/usr/share/datasets/fashion-mnist';
  const all = await run('inspect', '--format', 'fashion-mnist', dir, '--json');
  assert.equal(all.err, '');
  assert.equal(all.exitCode, undefined);
  assert.equal(
    all.out,
    `{"images": 70000, "shape": [28, 28, 1], "class_counts": [${new Array(10).fill(7000).join(', ')}]}\n`,
  );
  assert.deepEqual(JSON.parse(all.out), {
    images: 70000,
    shape: [28, 28, 1],
    class_counts: new Array(10).fill(7000),
  });
  const test = await run('inspect', '--format', 'fashion-mnist', '--split', 'test', dir);
  assert.equal(test.exitCode, undefined);
  const lines = test.out.trimEnd().split('\n');
  assert.equal(lines[0], `fashion-mnist at ${dir} (split: test)`);
  assert.equal(lines[1], 'images: 10000');
  assert.equal(lines[2], 'shape: 28x28x1 (height x width x channels)');
  assert.equal(lines[3], 'classes: 10');
  assert.equal(lines.length, 14);
  assert.match(lines[4], /^ {2}0 {2}T-shirt\/top +1000$/);
  assert.match(lines[13], /^ {2}9 {2}Ankle boot +1000$/);
});

test('cifar10 and cifar100 (fine and coarse) in the binary format', async () => {
  const c10 = join(root, 'c10', 'cifar-10-batches-bin');
  await mkdir(c10, { recursive: true });
  for (let k = 1; k <= 5; k++) {
    await writeFile(join(c10, `data_batch_${k}.bin`), cifar([[k], [k + 1]]));
  }
  await writeFile(join(c10, 'test_batch.bin'), cifar([[0], [9], [9]]));
  const ten = await run('inspect', '--format', 'cifar10', join(root, 'c10'), '--json');
  assert.equal(ten.err, '');
  assert.deepEqual(JSON.parse(ten.out), {
    images: 13,
    shape: [32, 32, 3],
    class_counts: [1, 1, 2, 2, 2, 2, 1, 0, 0, 2],
  });
  const train = await run('inspect', '--format', 'cifar10', '--split', 'train', c10);
  assert.match(train.out, /^images: 10$/m);
  assert.match(train.out, /^ {2}1 {2}automobile +1$/m);

  const c100 = join(root, 'c100');
  await mkdir(c100);
  await writeFile(
    join(c100, 'train.bin'),
    cifar([
      [0, 99],
      [19, 5],
      [19, 99],
    ]),
  );
  await writeFile(join(c100, 'test.bin'), cifar([[3, 50]]));
  const fine = await run('inspect', '--format', 'cifar100', c100, '--json');
  const fineCounts = new Array(100).fill(0);
  fineCounts[99] = 2;
  fineCounts[5] = 1;
  fineCounts[50] = 1;
  assert.deepEqual(JSON.parse(fine.out), {
    images: 4,
    shape: [32, 32, 3],
    class_counts: fineCounts,
  });
  const coarse = await run('inspect', '--format', 'cifar100', '--coarse', c100, '--json');
  const coarseCounts = new Array(20).fill(0);
  coarseCounts[0] = 1;
  coarseCounts[19] = 2;
  coarseCounts[3] = 1;
  assert.deepEqual(JSON.parse(coarse.out).class_counts, coarseCounts);
});

test('image-folder: PNGs in class folders, resized by --size', async () => {
  const dir = join(root, 'folder');
  const sides: Record<string, number[]> = { cats: [4, 6, 4], dogs: [8] };
  for (const [name, list] of Object.entries(sides)) {
    await mkdir(join(dir, name), { recursive: true });
    for (const [i, side] of list.entries()) {
      const png = new PNG({ width: side, height: side });
      png.data.fill(200);
      await writeFile(join(dir, name, `${i}.png`), PNG.sync.write(png));
    }
  }
  const mixed = await run(
    'inspect',
    '--format',
    'image-folder',
    dir,
    '--test-fraction',
    '0',
  );
  // Files that do not read as the format: a bad argument, exit code 2.
  assert.equal(mixed.exitCode, 2);
  assert.equal(mixed.out, '');
  assert.match(
    mixed.err,
    /^vicinal dataset inspect: .*\/cats\/1\.png: expected 4x4 pixels/,
  );
  assert.match(mixed.err, /pass a size option/);
  const sized = await run(
    'inspect',
    '--format',
    'image-folder',
    dir,
    '--size',
    '2x3',
    '--json',
  );
  assert.equal(sized.err, '');
  assert.equal(sized.out, '{"images": 4, "shape": [2, 3, 3], "class_counts": [3, 1]}\n');
  const text = await run('inspect', '--format', 'image-folder', dir, '--size', '5');
  assert.match(text.out, /^shape: 5x5x3 /m);
  assert.match(text.out, /^ {2}0 {2}cats +3\n {2}1 {2}dogs +1\n$/m);
  // The held-out share: round(3 * 0.4) = 1 cat in test, the one dog stays in training.
  const held = await run(
    'inspect',
    '--format',
    'image-folder',
    dir,
    '--size=4',
    '--test-fraction',
    '0.4',
    '--seed',
    '3',
    '--split',
    'test',
    '--json',
  );
  assert.equal(held.out, '{"images": 1, "shape": [4, 4, 3], "class_counts": [1, 0]}\n');
});

test('errors go to stderr with exit code 2: a bad flag, a missing path, files that do not read', async () => {
  const cases: [string[], RegExp, number][] = [
    [
      ['inspect', root],
      /--format: expected one of fashion-mnist, cifar10, cifar100, image-folder, got none$/,
      2,
    ],
    [
      ['inspect', '--format', 'mnist', root],
      /--format: expected one of .*, got "mnist"$/,
      2,
    ],
    [
      ['inspect', '--format', 'cifar10', '--split', 'val', root],
      /--split: expected one of train, test, all, got "val"$/,
      2,
    ],
    [
      ['inspect', '--format', 'cifar10', '--size', '3', root],
      /--size: applies to --format image-folder only/,
      2,
    ],
    [
      ['inspect', '--format', 'cifar10', '--coarse', root],
      /--coarse: applies to --format cifar100 only/,
      2,
    ],
    [
      ['inspect', '--format', 'image-folder', '--size', '3y4', root],
      /--size: expected HxW/,
      2,
    ],
    [
      ['inspect', '--format', 'image-folder', '--channels', '2', root],
      /--channels: expected 1 or 3, got "2"$/,
      2,
    ],
    [
      ['inspect', '--format', 'image-folder', '--seed', 'x', root],
      /--seed: expected an integer, got "x"$/,
      2,
    ],
    [
      ['inspect', '--format', 'cifar10', join(root, 'nothing')],
      /nothing: expected a directory of CIFAR batch files, found none$/,
      2,
    ],
    [
      ['inspect', '--format', 'fashion-mnist', join(root, 'nothing')],
      /nothing: expected the Fashion-MNIST directory, found none: no such directory$/,
      2,
    ],
    // A file where the directory is expected is called a file.
    [
      ['inspect', '--format', 'fashion-mnist', join(root, 'a-file')],
      /a-file: expected the Fashion-MNIST directory, got a file: pass the directory/,
      2,
    ],
    [
      ['inspect', '--format', 'cifar10', join(root, 'a-file')],
      /a-file: expected a directory of CIFAR batch files, got a file$/,
      2,
    ],
    [
      ['inspect', '--format', 'image-folder', join(root, 'a-file')],
      /a-file: expected an image-folder directory, got a file$/,
      2,
    ],
  ];
  await writeFile(join(root, 'a-file'), 'not a directory');
  for (const [args, pattern, code] of cases) {
    const result = await run(...args);
    assert.equal(result.exitCode, code, args.join(' '));
    assert.equal(result.out, '');
    assert.match(result.err, /^vicinal dataset inspect: /);
    assert.match(result.err.trimEnd(), pattern);
    assert.equal(result.err.split('\n').length, 2, 'one line');
  }
});
