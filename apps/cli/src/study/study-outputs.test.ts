import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type DistillResult,
  expandExperiment,
  type PlannedJob,
  parseExperiment,
} from '@vicinal/config';
// Made-up but valid reliability bins: this test is about grouping, not figures.
import { syntheticReliability } from '../../../../libs/report/src/testing/synthetic-results.js';
import { finishedJobs, writeResultFile } from './grid-state.js';
import { studyOutputs } from './run-study.js';
import type { TeacherRecord } from './teacher-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'vicinal-outputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const recipe = (architecture: string) => ({
  architecture,
  epochs: 1,
  batchSize: 32,
  learningRate: 0.01,
  trainImages: null,
});

const grid = parseExperiment(
  {
    name: 'cells',
    datasets: [{ name: 'fashion-mnist' }, { name: 'cifar10', dir: '/data/cifar' }],
    teachers: [{ name: 'big', ...recipe('resnet20') }],
    students: [recipe('student-cnn'), recipe('resnet8')],
    arms: ['baseline', 'kd'],
    temperatures: [2],
    seeds: [1, 2],
  },
  'cells.yaml',
);

function fakeResult(j: PlannedJob, i: number): DistillResult {
  return {
    studyId: j.job.studyId,
    jobId: j.job.jobId,
    arm: j.job.arm,
    seed: j.job.seed,
    temperature: j.temperature,
    architecture: j.job.student.architecture,
    parameters: 1000,
    accuracy: 0.5 + i / 100,
    ece: 0.05,
    mce: 0.1,
    overconfidence: 0.01,
    nll: 1,
    brier: 0.6,
    adaptiveEce: 0.05,
    reliability: syntheticReliability(i),
    analysis: null,
    samplesPerSecond: 100,
    trainSeconds: 1,
    steps: 10,
    samples: 320,
    teacher: j.job.teacherModel
      ? { address: '127.0.0.1:1', model: j.job.teacherModel }
      : null,
    worker: 'w',
    backend: 'cpu',
    finishedAt: new Date(0).toISOString(),
  };
}

test('each dataset x student cell of a grid gets its own results, with its teachers', () => {
  const plan = expandExperiment(grid);
  // Per dataset, student and seed: baseline once, kd once per teacher and temperature.
  assert.equal(plan.jobs.length, 2 * 2 * 2 * 2);
  assert.equal(plan.teachers.length, 2, 'the teacher is trained on each dataset');
  assert.notEqual(plan.teachers[0].key, plan.teachers[1].key);
  const results = new Map(plan.jobs.map((j, i) => [j.job.jobId, fakeResult(j, i)]));
  const records = plan.teachers.map((t) => ({
    plan: t,
    record: {
      key: t.key,
      architecture: t.recipe.architecture,
      parameters: 5000,
      recipe: t.recipe,
      seed: t.seed,
      trainSeconds: 1,
      test: {
        accuracy: 0.8,
        ece: 0.02,
        mce: 0.1,
        overconfidence: 0.01,
        nll: 0.5,
        brier: 0.3,
        adaptiveEce: 0.02,
        reliability: syntheticReliability(99),
      },
    } satisfies TeacherRecord,
  }));
  const outputs = studyOutputs(grid, plan, records, results);
  const dirs = outputs.map((o) => o.dir);
  assert.deepEqual(dirs.slice(0, 2), [
    'fashion-mnist-student-cnn',
    'fashion-mnist-resnet8',
  ]);
  // Other datasets are labelled by name and a hash of where they live.
  assert.match(dirs[2], /^cifar10-[0-9a-f]{6}-student-cnn$/);
  assert.match(dirs[3], /^cifar10-[0-9a-f]{6}-resnet8$/);
  outputs.forEach((o, cell) => {
    const datasetIndex = Math.floor(cell / 2);
    const studentIndex = cell % 2;
    assert.equal(o.results.teachers.length, 1);
    assert.equal(o.results.runs.length, 4);
    const own = plan.jobs.filter(
      (j) => j.datasetIndex === datasetIndex && j.studentIndex === studentIndex,
    );
    assert.deepEqual(
      o.results.runs.map((r) => r.accuracy).sort(),
      own.map((j) => results.get(j.job.jobId)!.accuracy).sort(),
    );
    for (const r of o.results.runs)
      assert.equal(r.teacher, r.arm === 'kd' ? 'big' : null);
  });
});

test('finished jobs are found from the result files of the output directory', async () => {
  const plan = expandExperiment(grid);
  const out = join(dir, 'out');
  assert.equal((await finishedJobs(plan, null, out)).size, 0);
  const [a, b] = plan.jobs;
  writeResultFile(out, fakeResult(a, 1));
  writeResultFile(out, fakeResult(b, 2));
  const found = await finishedJobs(plan, null, out);
  assert.deepEqual([...found.keys()].sort(), [a.job.jobId, b.job.jobId].sort());
  assert.equal(found.get(b.job.jobId)?.accuracy, fakeResult(b, 2).accuracy);
});
