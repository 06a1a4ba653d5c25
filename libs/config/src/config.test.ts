import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ConfigError,
  DEFAULT_STEPS_PER_QUERY,
  defaultStudy,
  distillJobSchema,
  envVariableOf,
  parseConfig,
  studentTrainerConfig,
  studentTrainerConfigSchema,
  studySchema,
  teacherServerConfig,
  teacherServerConfigSchema,
} from './index.js';

test('the default study validates and has the four arms', () => {
  const s = defaultStudy();
  assert.deepEqual(s.arms, ['baseline', 'mixup', 'kd', 'kd+mixup']);
  assert.equal(s.loss.beta, 0.8);
  assert.equal(s.loss.temperature, 2);
  assert.equal(s.mixup.alpha, 1);
  assert.equal(defaultStudy('full').student.trainImages, null);
});

test('unknown keys and bad values are rejected by name, every field listed', () => {
  const raw = {
    ...defaultStudy(),
    epochz: 3,
    loss: { beta: 1.5 },
    teacher: { ...defaultStudy().teacher, lr: 1 },
  };
  try {
    parseConfig(studySchema, raw, 'study.yaml');
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.source, 'study.yaml');
    assert.ok(err.issues.includes('epochz: unknown key'), err.message);
    assert.ok(err.issues.includes('teacher.lr: unknown key'), err.message);
    assert.ok(
      err.issues.some((i) => i.startsWith('loss.beta:')),
      err.message,
    );
    assert.match(err.message, /^invalid study\.yaml:/);
  }
});

test('a job with a bad arm or id is refused', () => {
  const job = {
    kind: 'distill',
    studyId: 's',
    jobId: 'bad id!',
    arm: 'kd+mixup',
    seed: 1,
    dataset: { name: 'fashion-mnist' },
    student: defaultStudy().student,
    loss: {},
    mixup: {},
    teacherModel: 't',
  };
  assert.equal(distillJobSchema.safeParse(job).success, false);
  assert.equal(distillJobSchema.safeParse({ ...job, jobId: 'ok-id' }).success, true);
  assert.equal(
    distillJobSchema.safeParse({ ...job, jobId: 'ok', arm: 'kd2' }).success,
    false,
  );
});

test('a bad service setting names the environment variable to fix', () => {
  assert.throws(
    () =>
      teacherServerConfig(
        {},
        {
          VICINAL_TEACHER_MODEL: 'm',
          VICINAL_INFERENCE_THREAD: 'gpu',
          VICINAL_MAX_BATCH: '0',
        },
      ),
    (err: Error) =>
      /inferenceThread \(VICINAL_INFERENCE_THREAD\): .*"worker"\|"main"/.test(
        err.message,
      ) && /maxBatch \(VICINAL_MAX_BATCH\): /.test(err.message),
  );
  assert.throws(
    () => teacherServerConfig({}, {}),
    /model \(VICINAL_TEACHER_MODEL\): required \(expected string\)/,
  );
  // A value out of range or of the wrong kind of number is repeated.
  assert.throws(
    () => teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_MAX_BATCH: '0' }),
    /maxBatch \(VICINAL_MAX_BATCH\): Too small: .*1 \(got 0\)/,
  );
  assert.throws(
    () =>
      parseConfig(
        studySchema,
        { ...defaultStudy(), student: { ...defaultStudy().student, epochs: 1.5 } },
        'study.yaml',
      ),
    /student\.epochs: .*expected int, received number \(got 1\.5\)/,
  );
  // A missing choice is required too, with its choices.
  assert.throws(
    () => parseConfig(studySchema, { ...defaultStudy(), dataset: {} }, 'study.yaml'),
    /dataset\.name: required \(expected one of "fashion-mnist", "cifar10", "cifar100", "image-folder"\)/,
  );
  // A study name longer than any id may be is refused with the schema.
  assert.throws(
    () =>
      parseConfig(studySchema, { ...defaultStudy(), name: 'a'.repeat(41) }, 'study.yaml'),
    /name: Too big: .*<=40 characters \(got "a+…\)/,
  );
  // A number variable that is not a number is echoed as given.
  assert.throws(
    () =>
      teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_MAX_BATCH: 'abc' }),
    /maxBatch \(VICINAL_MAX_BATCH\): .*expected number, received string \(got "abc"\)/,
  );
  assert.throws(
    () => studentTrainerConfig({}, { VICINAL_PREFETCH: '99' }),
    /prefetch \(VICINAL_PREFETCH\): /,
  );
  for (const bad of ['0', '65', '2.5', 'four']) {
    assert.throws(
      () => studentTrainerConfig({}, { VICINAL_STEPS_PER_QUERY: bad }),
      /stepsPerQuery \(VICINAL_STEPS_PER_QUERY\): /,
      bad,
    );
  }
  // NATS URLs are checked at start, as the CLI checks --nats, not at connect.
  for (const bad of ['not a url', 'http://127.0.0.1:4222', 'nats://', '']) {
    assert.throws(
      () => studentTrainerConfig({}, { VICINAL_NATS_URL: bad }),
      new RegExp(
        `natsUrl \\(VICINAL_NATS_URL\\): Expected a NATS URL such as nats://127\\.0\\.0\\.1:4222, got "${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`,
      ),
      bad,
    );
  }
  // VICINAL_LOG_LEVEL: any case of the loggers' levels, else refused.
  assert.equal(
    studentTrainerConfig({}, { VICINAL_LOG_LEVEL: ' Debug ' }).logLevel,
    'debug',
  );
  assert.equal(studentTrainerConfig({}, { VICINAL_LOG_LEVEL: '' }).logLevel, undefined);
  assert.throws(
    () =>
      teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_LOG_LEVEL: 'loud' }),
    /logLevel \(VICINAL_LOG_LEVEL\): .*"trace"\|"debug"\|"info"\|"warn"\|"error"\|"fatal"\|"silent"/,
  );
  // Credentials in a refused URL are not repeated, with or without a scheme,
  // whatever the password holds.
  for (const [bad, shown] of [
    ['http://svc:s3cret@nats:4222', 'http://***@nats:4222'],
    ['u:s3cret@host,http://x', '***@host,http://x'],
    ['ftp://u:pa/s3cret@host:4222', 'ftp://***@host:4222'],
  ]) {
    assert.throws(
      () => studentTrainerConfig({}, { VICINAL_NATS_URL: bad }),
      (err: Error) =>
        err.message.includes(`got "${shown}"`) && !err.message.includes('s3cret'),
      bad,
    );
  }
  // A name without a scheme (a host, a Kubernetes service) and lists are fine.
  for (const good of ['nats', 'nats-0.nats:4222', 'nats://a:4222,tls://b:4222']) {
    assert.equal(
      teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_NATS_URL: good })
        .natsUrl,
      good,
    );
  }
});

test('every service setting is read from the variable its errors name', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const sources = ['services.ts', 'transport.ts']
    .map((f) => readFileSync(join(here, f), 'utf8'))
    .join('\n');
  for (const schema of [teacherServerConfigSchema, studentTrainerConfigSchema]) {
    for (const field of Object.keys(schema.shape)) {
      const variable = envVariableOf(field);
      assert.ok(
        sources.includes(`env.${variable}`),
        `${field}: expected env.${variable} to be read`,
      );
    }
  }
});

test('service settings come from the environment and are validated', () => {
  const t = teacherServerConfig(
    {},
    { VICINAL_TEACHER_MODEL: 'm', VICINAL_MAX_BATCH: '64' },
  );
  assert.equal(t.model, 'm');
  assert.equal(t.maxBatch, 64);
  // The queue holds eight full batches unless told otherwise, as the server's default.
  assert.equal(t.queueLimit, 512);
  assert.equal(teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm' }).queueLimit, 4096);
  assert.equal(
    teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_QUEUE_LIMIT: '100' })
      .queueLimit,
    100,
  );
  assert.throws(
    () =>
      teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_MAX_BATCH: 'lots' }),
    (err: Error) => /maxBatch/.test(err.message) && !/queueLimit/.test(err.message),
  );
  assert.throws(() => teacherServerConfig({}, {}), /model/);
  assert.equal(t.inferenceThread, 'worker');
  assert.equal(t.heapGrowingPercent, 100);
  const heap = { VICINAL_TEACHER_MODEL: 'm', VICINAL_HEAP_GROWING_PERCENT: '0' };
  assert.equal(teacherServerConfig({}, heap).heapGrowingPercent, 0);
  for (const bad of ['-5', '2.5', 'lots', '5000']) {
    assert.throws(
      () =>
        teacherServerConfig(
          {},
          { VICINAL_TEACHER_MODEL: 'm', VICINAL_HEAP_GROWING_PERCENT: bad },
        ),
      /heapGrowingPercent/,
      bad,
    );
  }
  assert.equal(t.holdDataset, undefined);
  // Ports past 65535, and numbers not written in decimal, are refused and echoed.
  assert.throws(
    () =>
      teacherServerConfig(
        {},
        { VICINAL_TEACHER_MODEL: 'm', VICINAL_LISTEN: '127.0.0.1:99999' },
      ),
    /listen \(VICINAL_LISTEN\): host:port with a port in \[0, 65535\]/,
  );
  assert.equal(
    teacherServerConfig(
      {},
      { VICINAL_TEACHER_MODEL: 'm', VICINAL_LISTEN: '0.0.0.0:65535' },
    ).listen,
    '0.0.0.0:65535',
  );
  for (const bad of [' ', '0x10', '1_000', '12abc']) {
    assert.throws(
      () =>
        teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_MAX_BATCH: bad }),
      new RegExp(
        `maxBatch \\(VICINAL_MAX_BATCH\\).*${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`,
      ),
      bad,
    );
  }
  for (const [text, value] of [
    ['64', 64],
    [' 64 ', 64],
    ['6.4e1', 64],
  ] as const) {
    assert.equal(
      teacherServerConfig({}, { VICINAL_TEACHER_MODEL: 'm', VICINAL_MAX_BATCH: text })
        .maxBatch,
      value,
    );
  }
  const hold = {
    VICINAL_TEACHER_MODEL: 'm',
    VICINAL_HOLD_DATASET: 'fashion-mnist',
    VICINAL_HOLD_DATASET_DIR: '/data/fm',
  };
  assert.equal(teacherServerConfig({}, hold).holdDataset, 'fashion-mnist');
  assert.equal(teacherServerConfig({}, hold).holdDatasetDir, '/data/fm');
  assert.throws(
    () =>
      teacherServerConfig(
        {},
        { VICINAL_TEACHER_MODEL: 'm', VICINAL_HOLD_DATASET_DIR: '/data/fm' },
      ),
    /holdDatasetDir \(VICINAL_HOLD_DATASET_DIR\): a directory for VICINAL_HOLD_DATASET, which is not set, got "\/data\/fm"/,
  );
  const onLoop = { VICINAL_TEACHER_MODEL: 'm', VICINAL_INFERENCE_THREAD: 'main' };
  assert.equal(teacherServerConfig({}, onLoop).inferenceThread, 'main');
  assert.throws(
    () =>
      teacherServerConfig(
        {},
        { VICINAL_TEACHER_MODEL: 'm', VICINAL_INFERENCE_THREAD: 'gpu' },
      ),
    /inferenceThread/,
  );
  const s = studentTrainerConfig(
    {},
    { VICINAL_WORKER_NAME: 'w1', VICINAL_PREFETCH: '3' },
  );
  assert.equal(s.name, 'w1');
  assert.equal(s.prefetch, 3);
  assert.equal(s.stepsPerQuery, DEFAULT_STEPS_PER_QUERY);
  assert.equal(
    studentTrainerConfig({}, { VICINAL_STEPS_PER_QUERY: '1' }).stepsPerQuery,
    1,
  );
  assert.throws(() => studentTrainerConfig({}, { VICINAL_BACKEND: 'gpu9' }), /backend/);
});
