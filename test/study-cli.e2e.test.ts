import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

// The main job through the real CLI, sized down: a local nats-server, a
// teacher server and two student-trainer processes, the four arms over
// JetStream, on real Fashion-MNIST.

const dir = mkdtempSync(join(tmpdir(), 'vicinal-study-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const settings = `
name: tiny
seed: 2
dataset:
  name: fashion-mnist
teacher:
  architecture: teacher-cnn
  epochs: 1
  batchSize: 64
  learningRate: 0.002
  trainImages: 1024
student:
  architecture: student-cnn
  epochs: 1
  batchSize: 64
  learningRate: 0.002
  trainImages: 1024
arms: [baseline, mixup, kd, kd+mixup]
loss: { beta: 0.8, temperature: 2, variant: plain }
mixup: { alpha: 1, p: 1 }
analysisPairs: 256
`;

function vicinal(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, ['apps/cli/bin/vicinal.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, VICINAL_BACKEND: 'wasm', ...env },
    timeout: 600_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/**
 * `vicinal study NAME.yaml` with `text` as its settings, its own --out and
 * the shared cache: for settings refused before anything starts.
 */
function studyWith(name: string, text: string) {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, text);
  return {
    config,
    ...vicinal(['study', config, '--out', join(dir, `${name}-out`), '--cache-dir', dir]),
  };
}

test('vicinal study runs the four arms and writes summary.json and summary.md', () => {
  const config = join(dir, 'tiny.yaml');
  writeFileSync(config, settings);
  const out = join(dir, 'out');
  const cache = join(dir, 'cache');
  const first = vicinal(['study', config, '--out', out, '--cache-dir', cache]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.match(first.stdout, /training teacher teacher-cnn/);

  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.datasets, [
    { name: 'fashion-mnist', train_images: 60000, test_images: 10000 },
  ]);
  assert.equal(summary.backend, 'wasm');
  assert.equal(summary.teachers.length, 1);
  const teacher = summary.teachers[0];
  assert.equal(teacher.architecture, 'teacher-cnn');
  assert.equal(teacher.train_images, 1024);
  // One data set and one teacher: also as single objects, for readers of the
  // main job's summary.
  assert.deepEqual(summary.dataset, summary.datasets[0]);
  assert.deepEqual(summary.teacher, teacher);
  for (const key of ['architecture', 'parameters', 'accuracy', 'ece', 'mce']) {
    assert.ok(key in summary.teacher, key);
  }
  for (const key of ['overconfidence', 'nll', 'brier'])
    assert.ok(key in summary.teacher, key);
  assert.deepEqual(summary.jobs, { total: 4, run_here: 4, already_finished: 0 });
  assert.deepEqual(
    summary.students.map((s: { arm: string }) => s.arm),
    ['baseline', 'mixup', 'kd', 'kd+mixup'],
  );
  assert.deepEqual(
    summary.students.map((s: { temperature: number | null }) => s.temperature),
    [null, null, 2, 2],
  );
  assert.ok(teacher.parameters > 2 * summary.students[0].parameters);
  for (const row of [teacher, ...summary.students]) {
    // Far above chance (0.1) on 10k test images, after only 16 steps.
    assert.ok(row.accuracy > 0.15 && row.accuracy <= 1, JSON.stringify(row));
    for (const k of ['ece', 'mce', 'nll', 'brier']) assert.ok(row[k] >= 0, k);
    assert.ok(Math.abs(row.overconfidence) <= 1);
  }
  for (const s of summary.students) {
    assert.equal(s.train_images, 1024);
    assert.equal(s.steps, 16);
    assert.ok(s.samples_per_second > 0);
  }
  const md = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(
    md,
    /\| student student-cnn \(\d+ params\) \| teacher-cnn \| kd\+mixup \| 2 \| 2 \|/,
  );
  assert.match(first.stdout, /\| teacher teacher-cnn/);

  // results.json feeds the report: kd arms carry the vicinal analysis.
  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(results.teachers.length, 1);
  assert.equal(results.runs.length, 4);
  for (const run of results.runs) {
    const kd = run.arm === 'kd' || run.arm === 'kd+mixup';
    assert.equal(run.analysis !== undefined, kd, run.arm);
    if (kd) assert.equal(run.analysis.pairs, 256);
    assert.equal(
      run.reliability.counts.reduce((a: number, b: number) => a + b, 0),
      10000,
    );
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.ok((html.match(/<svg/g) ?? []).length >= 4, 'charts rendered as SVG');
  const kdMixup = summary.students.find((s: { arm: string }) => s.arm === 'kd+mixup');
  assert.ok(
    html.includes((100 * kdMixup.accuracy).toFixed(2)),
    'report shows the accuracy',
  );
  assert.doesNotMatch(html, /https?:\/\//);

  // Same settings again: the cached teacher is reused, not retrained, and the
  // finished jobs are not run again.
  const second = vicinal(['study', config, '--out', out, '--cache-dir', cache]);
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.match(second.stdout, /reused from cache/);
  assert.doesNotMatch(second.stdout, /training teacher/);
  assert.match(second.stdout, /4 of 4 jobs already have results; 0 to run/);
  assert.doesNotMatch(second.stdout, /student trainer\(s\) started/);
  const again = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(again.teachers[0].accuracy, teacher.accuracy);
  // The reused teacher's speed is the one measured when it was trained, and
  // says so.
  assert.equal(teacher.reused, false);
  assert.equal(again.teachers[0].reused, true);
  assert.equal(again.teachers[0].samples_per_second, teacher.samples_per_second);
  assert.match(second.stdout, /\| teacher teacher-cnn [^\n]* \(when trained\) \|/);
  assert.doesNotMatch(first.stdout, /\(when trained\)/);
  assert.deepEqual(again.jobs, { total: 4, run_here: 0, already_finished: 4 });
  assert.deepEqual(
    again.students.map((s: { accuracy: number }) => s.accuracy),
    summary.students.map((s: { accuracy: number }) => s.accuracy),
  );
});

test('a settings file with an unknown key is refused before anything starts', () => {
  const run = studyWith('bad', `${settings}\nepochz: 3\n`);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /epochz: unknown key/);
  assert.doesNotMatch(run.stdout, /nats-server/);
});

test("a bad setting of the study's own services is refused before anything starts", () => {
  const config = join(dir, 'service-settings.yaml');
  writeFileSync(config, settings);
  for (const [variable, value, field] of [
    ['VICINAL_STEPS_PER_QUERY', '0', 'stepsPerQuery'],
    ['VICINAL_PREFETCH', '99', 'prefetch'],
    ['VICINAL_MAX_BATCH', 'lots', 'maxBatch'],
  ]) {
    const out = join(dir, `service-settings-${field}`);
    const run = vicinal(['study', config, '--out', out, '--cache-dir', dir], {
      [variable]: value,
    });
    assert.equal(run.code, 2, `${variable}: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(`${field} \\(${variable}\\): `), variable);
    assert.doesNotMatch(run.stdout, /nats-server|training teacher|student trainer/);
    assert.equal(existsSync(join(out, 'nats')), false, 'no nats-server was started');
  }
});

test('--out naming a file is refused before anything starts', () => {
  const config = join(dir, 'out-is-a-file.yaml');
  writeFileSync(config, settings);
  const file = join(dir, 'not-a-directory');
  writeFileSync(file, 'keep me');
  const run = vicinal(['study', config, '--out', file, '--cache-dir', dir]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /--out:.*not-a-directory: expected a directory .*got a file/s);
  assert.doesNotMatch(run.stdout, /nats-server|training teacher/);
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
  // --cache-dir alike, before a teacher is trained (and lost).
  for (const command of ['study', 'submit']) {
    const cache = vicinal([
      command,
      config,
      ...(command === 'study' ? ['--out', join(dir, 'cache-is-a-file')] : []),
      ...(command === 'submit' ? ['--nats', 'nats://127.0.0.1:1'] : []),
      '--cache-dir',
      file,
    ]);
    assert.equal(cache.code, 2, `${command}: ${cache.stderr}`);
    assert.match(
      cache.stderr,
      /--cache-dir:.*not-a-directory: expected a directory .*got a file/s,
      command,
    );
    assert.doesNotMatch(cache.stdout, /nats-server|training teacher/);
  }
});

test('an unknown architecture is refused with the schema, before any teacher trains', () => {
  const run = studyWith(
    'bad-model',
    settings.replace('architecture: student-cnn', 'architecture: resnet9000'),
  );
  assert.equal(run.code, 2, run.stderr);
  // Named by the key of the file's own form: one student here.
  assert.match(
    run.stderr,
    /\n {2}student\.architecture: unknown model "resnet9000", expected one of .*resnet8/,
  );
  assert.doesNotMatch(run.stdout, /nats-server|training teacher/);
  // A grid names the entry of its list.
  const grid = studyWith(
    'bad-model-grid',
    [
      'name: grid',
      'datasets: [{ name: fashion-mnist }]',
      'students:',
      '  - { architecture: student-cnn, epochs: 1, batchSize: 64, learningRate: 0.002, trainImages: 64 }',
      '  - { architecture: resnet9000, epochs: 1, batchSize: 64, learningRate: 0.002, trainImages: 64 }',
      'arms: [baseline]',
      'seeds: [1]',
    ].join('\n'),
  );
  assert.equal(grid.code, 2, grid.stderr);
  assert.match(grid.stderr, /students\.1\.architecture: unknown model "resnet9000"/);
});

test('a data set directory that does not exist is refused before anything starts', () => {
  const missing = join(dir, 'no-such-data');
  const run = studyWith(
    'bad-dir',
    settings.replace('  name: fashion-mnist', `  name: fashion-mnist\n  dir: ${missing}`),
  );
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    new RegExp(
      `dataset\\.dir: expected a directory of fashion-mnist files, found nothing at ${missing}`,
    ),
  );
  assert.doesNotMatch(run.stdout, /backend|nats-server|training teacher/);
  // The coordinator reads the data sets itself also when the student
  // trainers run elsewhere: checked there too, before connecting to NATS.
  const elsewhere = vicinal([
    'study',
    run.config,
    '--out',
    join(dir, 'bad-dir-out'),
    '--no-local-services',
    '--nats',
    'nats://127.0.0.1:9',
  ]);
  assert.equal(elsewhere.code, 2, elsewhere.stderr);
  assert.match(
    elsewhere.stderr,
    /dataset\.dir: expected a directory of fashion-mnist files/,
  );
});

test('a study of the arms without a teacher needs no teacher, loss or mixup settings', () => {
  const noTeacher = settings
    .replace(/teacher:\n( {2}.*\n)+/, '')
    .replace(/^(loss|mixup|analysisPairs):.*\n/gm, '')
    .replace('arms: [baseline, mixup, kd, kd+mixup]', 'arms: [baseline, mixup]');
  assert.doesNotMatch(noTeacher, /teacher|loss|alpha/);
  const run = studyWith('no-teacher', noTeacher);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(
    run.stdout,
    /study tiny: 0 teacher\(s\), 2 jobs \(1 seed\(s\), no kd arm\)/,
  );
  assert.doesNotMatch(run.stdout, /training teacher|teacher server/);
  const out = join(dir, 'no-teacher-out');
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.teachers, []);
  assert.deepEqual(
    summary.students.map((s: { arm: string }) => s.arm),
    ['baseline', 'mixup'],
  );
  for (const s of summary.students) assert.ok(s.accuracy > 0.15, JSON.stringify(s));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /the comparison is made per teacher, and this run trained none/);
  // A teacher no arm uses is trained all the same, with a warning.
  const unused = studyWith(
    'unused-teacher',
    settings.replace('arms: [baseline, mixup, kd, kd+mixup]', 'arms: [baseline]'),
  );
  assert.equal(unused.code, 0, unused.stderr + unused.stdout);
  assert.match(
    unused.stdout,
    /warning: teacher teacher-cnn: no arm distils from it \(arms: baseline\); it is trained and reported all the same/,
  );
  // A kd arm without a teacher is refused by name before anything starts.
  const kd = studyWith(
    'kd-no-teacher',
    noTeacher.replace('[baseline, mixup]', '[baseline, kd]'),
  );
  assert.equal(kd.code, 2, kd.stderr);
  assert.match(kd.stderr, /teacher: arms kd distil from a teacher: give its recipe/);
});

test('an empty settings file and a wrong-typed value are named as such', () => {
  const run = studyWith('empty', '# nothing yet\n');
  assert.equal(run.code, 2, run.stderr);
  assert.match(
    run.stderr,
    /empty\.yaml:\n {2}the file holds no settings \(empty, or only comments\)/,
  );
  const bad = studyWith('typed', settings.replace('epochs: 1', 'epochs: three'));
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(
    bad.stderr,
    /teacher\.epochs: .*expected number, received string \(got "three"\)/,
  );
});

test('output into a pipe its reader closed (| head) ends quietly with code 0', async () => {
  const child = spawn(
    process.execPath,
    [
      'apps/cli/bin/vicinal.mjs',
      'dataset',
      'inspect',
      '--format',
      'fashion-mnist',
      '/usr/share/datasets/fashion-mnist',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('bad flags of the other commands exit with code 2; --version prints the version', () => {
  const cases: [string[], RegExp][] = [
    [['bench', '--reps', '-1'], /--reps: expected an integer in \[1, 100\], got "-1"/],
    [['bench', '--sections', 'foo'], /--sections: expected a comma-separated list/],
    [['dataset', 'inspect', dir], /--format: expected one of .*, got none/],
    [['report', join(dir, 'absent.json')], /absent\.json: no such file or directory/],
    [['report', dir], /results\.json: no results\.json in this directory/],
    [['dataset', 'inspect', '--format', 'cifar10', join(dir, 'none')], /none: expected/],
    [['status', 's', '--nats', 'ftp://127.0.0.1:4222'], /Expected a NATS URL/],
    // A study id is a slug, checked before any connection.
    [['status', 'Bad Name', '--nats', 'nats://127.0.0.1:1'], /Expected a study id/],
    [['watch', 'a.b', '--nats', 'nats://127.0.0.1:1'], /Expected a study id/],
    [['frobnicate'], /unknown command 'frobnicate'\n\(vicinal --help lists the commands/],
  ];
  for (const [args, pattern] of cases) {
    const run = vicinal(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
    assert.equal(run.stdout, '');
  }
  const pkg = JSON.parse(readFileSync('apps/cli/package.json', 'utf8'));
  const version = vicinal(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `${pkg.version}\n`);
});
