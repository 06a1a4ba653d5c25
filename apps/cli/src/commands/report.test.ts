import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkOutputDirectory } from './options.js';
import { reportCommand } from './report.js';
import { runCaptured } from './testing/run-captured.js';

const root = await mkdtemp(join(tmpdir(), 'vicinal-cli-report-'));
after(() => rm(root, { recursive: true, force: true }));

/** Runs `vicinal report ARGS` in-process and captures what it prints. */
const run = (...args: string[]) => runCaptured(reportCommand, args);

const metrics = {
  accuracy: 0.9,
  ece: 0.02,
  mce: 0.1,
  overconfidence: 0.01,
  nll: 0.3,
  brier: 0.15,
};
const reliability = {
  lower: [0, 0.5],
  upper: [0.5, 1],
  counts: [2, 8],
  accuracy: [0.5, 0.9],
  confidence: [0.4, 0.85],
};
const results = {
  study: { name: 'cli-test', seeds: 2 },
  teachers: [
    {
      name: 'tc',
      architecture: 'cnn',
      parameters: 100,
      test: { ...metrics, reliability },
    },
  ],
  runs: [0, 1].flatMap((seed) => [
    {
      teacher: null,
      arm: 'baseline',
      temperature: null,
      seed,
      ...metrics,
      samplesPerSecond: 9,
    },
    {
      teacher: 'tc',
      arm: 'kd+mixup',
      temperature: 2,
      seed,
      ...metrics,
      accuracy: 0.91 + 0.01 * seed,
      samplesPerSecond: 8,
    },
  ]),
};

test('a directory: the report is written next to results.json', async () => {
  const dir = join(root, 'study');
  await mkdir(dir);
  await writeFile(join(dir, 'results.json'), JSON.stringify(results));
  const r = await run(dir);
  assert.equal(r.err, '');
  assert.equal(r.exitCode, undefined);
  assert.equal(r.out, `${join(dir, 'report.html')}\n`);
  const html = await readFile(join(dir, 'report.html'), 'utf8');
  assert.match(html, /<h1>vicinal report: cli-test<\/h1>/);
  assert.match(html, /kd\+mixup T=2 − baseline accuracy: \+1\.50 pts/);
  assert.ok((await stat(join(dir, 'report.json'))).size > 0);
});

test('a file and --out', async () => {
  const file = join(root, 'my-results.json');
  await writeFile(file, JSON.stringify(results));
  const out = join(root, 'elsewhere');
  const r = await run(file, '--out', out);
  assert.equal(r.exitCode, undefined, r.err);
  assert.equal(r.out, `${join(out, 'report.html')}\n`);
  assert.ok((await stat(join(out, 'students.csv'))).size > 0);
});

test('a malformed results file: one line on stderr, exit code 2 (a bad argument)', async () => {
  const file = join(root, 'bad.json');
  const bad = structuredClone(results) as { runs: Record<string, unknown>[] };
  bad.runs[1].temperature = 'two';
  await writeFile(file, JSON.stringify(bad));
  const r = await run(file);
  assert.equal(r.out, '');
  assert.equal(r.exitCode, 2);
  assert.equal(
    r.err,
    `vicinal report: ${file}: runs[1].temperature: expected number, got "two"\n`,
  );
  // A results path that does not exist is a usage error, as in `vicinal study`.
  const missing = await run(join(root, 'absent.json'));
  assert.equal(missing.exitCode, 2);
  assert.equal(
    missing.err,
    `vicinal report: ${join(root, 'absent.json')}: no such file or directory\n`,
  );
});

test('--out naming a file is refused as `vicinal study` refuses it, before reading', async () => {
  const file = join(root, 'taken');
  await writeFile(file, 'not a directory');
  for (const out of [file, join(file, 'sub')]) {
    // The results need not exist: --out is checked first.
    const r = await run(join(root, 'absent.json'), '--out', out);
    assert.equal(r.out, '');
    assert.equal(r.exitCode, 2);
    let expected = '';
    try {
      checkOutputDirectory(out);
    } catch (err) {
      expected = (err as Error).message;
    }
    assert.match(expected, /^invalid --out:\n {2}/);
    assert.equal(r.err, `vicinal report: ${expected}\n`);
  }
  assert.equal(await readFile(file, 'utf8'), 'not a directory');
});
