import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ConfigError,
  defaultStudy,
  distillJobSchema,
  expandExperiment,
  parseExperiment,
  studyAsExperiment,
  teacherKey,
} from './index.js';

const recipe = (architecture: string) => ({
  architecture,
  epochs: 1,
  batchSize: 64,
  learningRate: 0.002,
  trainImages: 512,
});

const grid = {
  name: 'grid',
  datasets: [{ name: 'fashion-mnist' }],
  teachers: [
    { name: 'big', ...recipe('teacher-cnn') },
    { name: 'small', ...recipe('resnet8'), seed: 3 },
  ],
  students: [recipe('student-cnn')],
  arms: ['baseline', 'mixup', 'kd', 'kd+mixup'],
  temperatures: [1, 2, 4],
  seeds: [1, 2],
  loss: { beta: 0.9, variant: 'zscore' },
  mixup: { alpha: 0.4, p: 0.5 },
  analysisPairs: 64,
};

test('a grid expands to one job per dataset, student, seed, arm, teacher and temperature', () => {
  const plan = expandExperiment(parseExperiment(grid, 'grid.yaml'));
  assert.equal(plan.studyId, 'grid');
  assert.deepEqual(
    plan.teachers.map((t) => [t.name, t.seed, t.recipe.architecture]),
    [
      ['big', 1, 'teacher-cnn'],
      ['small', 3, 'resnet8'],
    ],
  );
  // Per seed: baseline and mixup once, kd and kd+mixup per teacher and temperature.
  assert.equal(plan.jobs.length, 2 * (2 + 2 * 2 * 3));
  const ids = plan.jobs.map((j) => j.job.jobId);
  assert.equal(new Set(ids).size, ids.length, 'job ids are unique');
  for (const { job, teacher, temperature } of plan.jobs) {
    assert.ok(distillJobSchema.safeParse(job).success, job.jobId);
    const kd = job.arm === 'kd' || job.arm === 'kd+mixup';
    assert.equal(teacher !== null, kd);
    assert.equal(temperature !== null, kd);
    if (kd) {
      const t = plan.teachers.find((x) => x.name === teacher);
      assert.equal(job.teacherModel, t?.model);
      assert.equal(job.loss.temperature, temperature);
      assert.equal(job.loss.beta, 0.9);
      assert.equal(job.loss.variant, 'zscore');
      assert.equal(job.analysisPairs, 64);
    } else {
      assert.equal(job.teacherModel, null);
      assert.equal(job.analysisPairs, 0);
    }
    assert.deepEqual(job.mixup, { alpha: 0.4, p: 0.5 });
  }
  const kd = plan.jobs.find(
    (j) => j.job.arm === 'kd+mixup' && j.teacher === 'small' && j.temperature === 4,
  );
  assert.match(kd?.job.jobId ?? '', /^kd-mixup-small-t4-s1-[0-9a-f]{8}$/);
});

test('job ids depend only on what shapes the job', () => {
  const base = expandExperiment(parseExperiment(grid, 'a'));
  const wider = expandExperiment(
    parseExperiment({ ...grid, temperatures: [1, 2, 4, 8], seeds: [1, 2, 3] }, 'b'),
  );
  const wideIds = new Set(wider.jobs.map((j) => j.job.jobId));
  // A grid extended by a temperature and a seed contains every job of the smaller one.
  for (const j of base.jobs) assert.ok(wideIds.has(j.job.jobId), j.job.jobId);
  assert.equal(wider.jobs.length, 3 * (2 + 2 * 2 * 4));
  // A changed student recipe changes every id; a changed mixup alpha the mixing arms'.
  const longer = expandExperiment(
    parseExperiment(
      { ...grid, students: [{ ...recipe('student-cnn'), epochs: 2 }] },
      'c',
    ),
  );
  assert.ok(longer.jobs.every((j) => !wideIds.has(j.job.jobId)));
  const alpha = expandExperiment(
    parseExperiment({ ...grid, mixup: { alpha: 1, p: 0.5 } }, 'd'),
  );
  const baseIds = new Set(base.jobs.map((j) => j.job.jobId));
  for (const j of alpha.jobs) {
    const mixes = j.job.arm === 'mixup' || j.job.arm === 'kd+mixup';
    assert.equal(baseIds.has(j.job.jobId), !mixes, j.job.jobId);
  }
});

test('unknown keys are refused by name, every problem listed', () => {
  const bad = {
    ...grid,
    temperature: 2,
    teachers: [{ ...grid.teachers[0], lr: 1 }, grid.teachers[0]],
    seeds: [1, 1],
    mixup: { alpha: 1, q: 1 },
  };
  try {
    parseExperiment(bad, 'bad.yaml');
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.source, 'bad.yaml');
    assert.ok(err.issues.includes('temperature: unknown key'), err.message);
    assert.ok(err.issues.includes('teachers.0.lr: unknown key'), err.message);
    assert.ok(err.issues.includes('mixup.q: unknown key'), err.message);
  }
  // Once the keys are right, duplicates are named too.
  const dup = { ...grid, teachers: [grid.teachers[0], grid.teachers[0]], seeds: [1, 1] };
  assert.throws(
    () => parseExperiment(dup, 'dup.yaml'),
    (err: Error) =>
      /teachers\.1: duplicate of teachers\[0\] \(big\)/.test(err.message) &&
      /seeds\.1: duplicate of seeds\[0\]/.test(err.message),
  );
  assert.throws(
    () => parseExperiment({ ...grid, teachers: [] }, 'none.yaml'),
    /teachers: arms kd, kd\+mixup distil from a teacher/,
  );
  // A file mixing the two forms is read as a grid: the single-form key is unknown.
  assert.throws(
    () => parseExperiment({ ...grid, seed: 1 }, 'mixed.yaml'),
    /seed: unknown key/,
  );
});

test('the single-study form is a grid of one teacher, temperature and seed', () => {
  const study = defaultStudy();
  const fromFile = parseExperiment(JSON.parse(JSON.stringify(study)), 'study.yaml');
  assert.deepEqual(fromFile, studyAsExperiment(study));
  const plan = expandExperiment(fromFile);
  assert.equal(plan.teachers.length, 1);
  // The teacher key is the one the single form always had.
  assert.equal(
    plan.teachers[0].key,
    teacherKey(study.dataset, study.teacher!, study.seed),
  );
  assert.deepEqual(
    plan.jobs.map((j) => [j.job.arm, j.temperature, j.job.seed]),
    [
      ['baseline', null, 1],
      ['mixup', null, 1],
      ['kd', 2, 1],
      ['kd+mixup', 2, 1],
    ],
  );
  assert.throws(
    () => parseExperiment({ ...study, epochz: 1 }, 'typo.yaml'),
    /epochz: unknown key/,
  );
});

test('the single-study form needs a teacher only for kd arms, and defaults loss and mixup', () => {
  const { teacher, loss, mixup, ...rest } = JSON.parse(JSON.stringify(defaultStudy()));
  assert.ok(teacher && loss && mixup);
  const baselines = parseExperiment(
    { ...rest, arms: ['baseline', 'mixup'] },
    'study.yaml',
  );
  assert.deepEqual(baselines.teachers, []);
  assert.deepEqual(baselines.mixup, { alpha: 1, p: 1 });
  assert.deepEqual(baselines.temperatures, [2]);
  assert.deepEqual(baselines.loss, { beta: 0.8, variant: 'plain' });
  const plan = expandExperiment(baselines);
  assert.equal(plan.teachers.length, 0);
  assert.deepEqual(
    plan.jobs.map((j) => j.job.arm),
    ['baseline', 'mixup'],
  );
  // The same study with loss and mixup written out is the same grid.
  assert.deepEqual(
    parseExperiment(
      { ...rest, arms: ['baseline', 'mixup'], loss: {}, mixup: {} },
      'study.yaml',
    ),
    baselines,
  );
  assert.throws(
    () => parseExperiment({ ...rest, arms: ['baseline', 'kd+mixup'] }, 'study.yaml'),
    /teacher: arms kd\+mixup distil from a teacher: give its recipe/,
  );
});
