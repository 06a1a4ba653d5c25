import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '@vicinal/backend';
import {
  type Bus,
  connectBus,
  findTeachers,
  getArtifact,
  getResult,
  type NatsServerHandle,
  names,
  publishTeacher,
  startNatsServer,
  studentArtifact,
  submitJob,
  waitForTeacher,
} from '@vicinal/bus';
import { type DistillResult, defaultStudy } from '@vicinal/config';
import { loadDataset, subset } from '@vicinal/data';
import {
  buildModel,
  countParameters,
  decodeArtifact,
  encodeArtifact,
} from '@vicinal/models';
import { trainNetwork } from '@vicinal/training';
import { type ServiceHandle, startService } from '../apps/cli/src/study/services.js';
import { smallDistillJob } from './support/distill-jobs.js';
import { stopStarted } from './support/stop-started.js';
import { storedEvents } from './support/study-events.js';

// One real distillation job through every hop: nats-server, the object store,
// a teacher-server process over loopback gRPC, a student-trainer process
// pulling from JetStream, real Fashion-MNIST images.

let nats: NatsServerHandle;
let bus: Bus;
const services: ServiceHandle[] = [];
const logDir = mkdtempSync(join(tmpdir(), 'vicinal-e2e-'));

before(async () => {
  await initBackend('wasm');
  nats = await startNatsServer();
  bus = await connectBus(nats.url, { name: 'e2e-test' });
});

after(() => stopStarted({ services, bus, nats, dirs: [logDir] }));

test('a kd+mixup job runs end to end and its result is stored before the ack', async () => {
  const data = await loadDataset({ name: 'fashion-mnist' });
  const spec = {
    shape: data.shape,
    numClasses: data.numClasses,
    mean: data.mean,
    std: data.std,
  };
  // A quickly trained teacher: the pipeline is under test here, not its accuracy.
  const teacherModel = buildModel('teacher-cnn', {
    inputShape: data.shape,
    numClasses: 10,
    seed: 5,
  });
  await trainNetwork({
    model: teacherModel,
    train: subset(data.train, 512, 5),
    spec,
    recipe: {
      architecture: 'teacher-cnn',
      epochs: 1,
      batchSize: 64,
      learningRate: 0.002,
      trainImages: 512,
    },
    mixup: null,
    loss: defaultStudy().loss,
    teacher: null,
    seed: 5,
  });
  await publishTeacher(
    bus,
    {
      name: 'teacher-e2e',
      version: 'e2e',
      architecture: 'teacher-cnn',
      parameters: countParameters(teacherModel),
      inputShape: data.shape,
      numClasses: 10,
      classNames: data.classNames,
      mean: data.mean,
      std: data.std,
      dataset: 'fashion-mnist',
    },
    await encodeArtifact(teacherModel),
  );

  const env = { VICINAL_NATS_URL: nats.url, VICINAL_BACKEND: 'wasm' };
  const server = startService(
    'teacher-server',
    'teacher',
    { ...env, VICINAL_TEACHER_MODEL: 'teacher-e2e', VICINAL_LISTEN: '127.0.0.1:0' },
    logDir,
  );
  services.push(server);
  const registration = await waitForTeacher(bus, 'teacher-e2e', 60_000);
  assert.match(registration.address, /^127\.0\.0\.1:\d+$/);

  const job = smallDistillJob({
    studyId: 'e2e',
    jobId: 'e2e-kd-mixup',
    arm: 'kd+mixup',
    seed: 3,
    epochs: 1,
    dataset: { name: 'fashion-mnist', dir: '/usr/share/datasets/fashion-mnist' },
    analysisPairs: 256,
    teacherModel: 'teacher-e2e',
  });
  await submitJob(bus, names.distillSubject, job.jobId, job);
  const worker = startService(
    'student-trainer',
    'student',
    {
      ...env,
      VICINAL_WORKER_NAME: 'e2e-student',
      VICINAL_MAX_JOBS: '1',
      VICINAL_LOG_LEVEL: 'info',
    },
    logDir,
  );
  services.push(worker);

  const exit = await worker.exited;
  assert.equal(exit, 0, `student trainer failed; log: ${worker.logFile}`);
  const result = await getResult<DistillResult>(bus, 'e2e', job.jobId);
  assert.ok(result, 'the result is stored');
  assert.equal(result.arm, 'kd+mixup');
  assert.equal(result.temperature, 2);
  assert.equal(result.steps, 16); // 1024 images / batch 64, one epoch
  assert.equal(result.samples, 1024);
  assert.deepEqual(result.teacher, {
    address: registration.address,
    model: 'teacher-e2e',
  });
  assert.equal(result.backend, 'wasm');
  // An operator following the worker's log at "info" sees the job begin and end.
  const logged = readFileSync(worker.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const started = logged.find((l) => l.msg === 'job started');
  assert.deepEqual(
    [started?.job, started?.study, started?.arm, started?.delivery],
    [job.jobId, 'e2e', 'kd+mixup', 1],
  );
  const finished = logged.find((l) => l.msg === 'job finished');
  assert.equal(finished?.accuracy, result.accuracy);
  assert.equal(finished?.ece, result.ece);
  // Evaluated on the whole 10k test split: accuracy is a multiple of 1e-4.
  assert.ok(
    Math.abs(result.accuracy * 10000 - Math.round(result.accuracy * 10000)) < 1e-6,
  );
  assert.ok(
    result.accuracy > 0.15,
    `accuracy ${result.accuracy}: expected well above chance (0.1)`,
  );
  for (const k of ['ece', 'mce', 'nll', 'brier'] as const) {
    assert.ok(Number.isFinite(result[k]) && result[k] >= 0, `${k} = ${result[k]}`);
  }
  assert.ok(result.ece <= result.mce);
  assert.equal(
    result.reliability.counts.reduce((a, b) => a + b, 0),
    10000,
  );
  assert.ok(result.adaptiveEce >= 0 && result.adaptiveEce <= 1);
  // The vicinal analysis ran against the served teacher (mixed + clean logits).
  assert.ok(result.analysis, 'kd arms carry the vicinal analysis');
  assert.equal(result.analysis.pairs, 256);
  assert.equal(result.analysis.bins.count.length, 20);
  assert.equal(
    result.analysis.bins.count.reduce((a, b) => a + b, 0),
    256,
  );

  // The student was stored and loads.
  const stored = await getArtifact(bus, studentArtifact(job.studyId, job.jobId));
  assert.ok(stored);
  const student = await decodeArtifact(stored);
  assert.equal(countParameters(student), result.parameters);

  // The job was acked: nothing pending or waiting on the consumer.
  const info = await bus.jsm.consumers.info(names.jobsStream, names.studentsConsumer);
  assert.equal(info.num_pending, 0);
  assert.equal(info.num_ack_pending, 0);

  // Progress events were published in order.
  const events = await storedEvents(bus);
  assert.deepEqual(
    events.map((e) => e.type),
    ['job-started', 'epoch', 'job-finished'],
  );

  // The teacher deregisters when it is stopped.
  await server.stop();
  assert.deepEqual(await findTeachers(bus, 'teacher-e2e'), []);
});
