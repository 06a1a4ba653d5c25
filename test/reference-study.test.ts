import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { expandExperiment, parseExperiment } from '@vicinal/config';
import { writeReport } from '@vicinal/report';
import { parse as parseYaml } from 'yaml';

// The committed reference result (docs/reference) is the run of the shipped
// grid, its report is what the report code makes of its results, and the
// README quotes it: each is checked against the others.
const root = fileURLToPath(new URL('..', import.meta.url));
const reference = join(root, 'docs', 'reference');
const configFile = join(root, 'configs', 'fashion-mnist-study.yaml');
const readJson = (file: string) =>
  JSON.parse(readFileSync(join(reference, file), 'utf8'));
const scratch = mkdtempSync(join(tmpdir(), 'vicinal-reference-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface SummaryStudent {
  job: string;
  teacher: string | null;
  arm: string;
  temperature: number | null;
  seed: number;
  accuracy: number;
  ece: number;
  overconfidence: number;
  nll: number;
  train_images: number;
  epochs: number;
}

test('the reference result holds one result per job of the shipped grid', () => {
  const grid = parseExperiment(parseYaml(readFileSync(configFile, 'utf8')), configFile);
  const plan = expandExperiment(grid);
  const expected = plan.jobs.map((j) => j.job.jobId).sort();
  assert.equal(expected.length, 54);
  const files = readdirSync(join(reference, 'runs'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
  assert.deepEqual(files, expected, 'runs/<job>.json');
  const summary = readJson('summary.json');
  assert.equal(summary.study, grid.name);
  assert.deepEqual(summary.jobs, { total: 54, run_here: 54, already_finished: 0 });
  assert.deepEqual(
    summary.students.map((s: SummaryStudent) => s.job).sort(),
    expected,
    'summary.json students',
  );
  for (const s of summary.students as SummaryStudent[]) {
    assert.equal(s.train_images, 60_000, `${s.job}: all training images`);
    assert.equal(s.epochs, 3, `${s.job}: epochs`);
  }
  assert.deepEqual(
    summary.teachers.map((t: { name: string; train_images: number; epochs: number }) => [
      t.name,
      t.train_images,
      t.epochs,
    ]),
    [
      ['cnn-large', 60_000, 5],
      ['resnet8', 60_000, 5],
    ],
  );
  const results = readJson('results.json');
  assert.equal(results.runs.length, 54);
  for (const run of results.runs) {
    const total = (run.reliability.counts as number[]).reduce((n, c) => n + c, 0);
    assert.equal(total, 10_000, 'every run evaluated on the 10,000 test images');
  }
});

test('the committed report is what the report code makes of the committed results', async () => {
  const files = await writeReport(readJson('results.json'), scratch);
  const again = JSON.parse(readFileSync(files.json, 'utf8'));
  assert.deepEqual(again, readJson('report.json'));
  assert.equal(
    readFileSync(files.html, 'utf8'),
    readFileSync(join(reference, 'report.html'), 'utf8'),
  );
});

test("the README's table of the reference students is the summary's means and stds", () => {
  const students = readJson('summary.json').students as SummaryStudent[];
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('`configs/fashion-mnist-study.yaml`: the reference study.'),
  );
  const rows = section
    .split('\n')
    .filter((line) =>
      /^\| (-|cnn-large|resnet8) \| (baseline|mixup|kd|kd\+mixup) \|/.test(line),
    );
  assert.equal(rows.length, 18, 'one row per arm, teacher and temperature');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = (xs: number[]) => {
    const m = mean(xs);
    return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  };
  for (const row of rows) {
    const [teacher, arm, t, accuracy, ece, over, nll] = row
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    const cell = students.filter(
      (s) =>
        (s.teacher ?? '-') === teacher &&
        s.arm === arm &&
        String(s.temperature ?? '-') === t,
    );
    assert.equal(cell.length, 3, `${row}: three seeds`);
    const acc = cell.map((s) => 100 * s.accuracy);
    const eces = cell.map((s) => s.ece);
    assert.equal(accuracy, `${mean(acc).toFixed(2)} ± ${std(acc).toFixed(2)}`, row);
    assert.equal(ece, `${mean(eces).toFixed(4)} ± ${std(eces).toFixed(4)}`, row);
    const o = mean(cell.map((s) => s.overconfidence));
    assert.equal(over, `${o >= 0 ? '+' : ''}${o.toFixed(4)}`, row);
    assert.equal(nll, mean(cell.map((s) => s.nll)).toFixed(3), row);
  }
});
