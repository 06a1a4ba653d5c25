import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  type Bus,
  connectBus,
  type NatsServerHandle,
  startNatsServer,
} from '@vicinal/bus';
import { DEFAULT_STEPS_PER_QUERY } from '@vicinal/config';
import { TEACHER_SERVICE } from '@vicinal/wire';
import { type ServiceHandle, startService } from '../apps/cli/src/study/services.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';

// The three services as separate processes, as on a cluster: a coordinator
// (`vicinal study --nats URL --no-local-services`), a teacher-server and a
// student-trainer, all exporting over OTLP/HTTP to a receiver this test
// starts on loopback, each with a Prometheus /metrics port. After one small
// kd+mixup job: the spans of all three share trace ids where they should,
// and a scrape of /metrics counts exactly the samples that were trained.

const TRAIN_IMAGES = 256;
const EPOCHS = 2;
/** Samples the student trains on, and the teacher answers for it. */
const TRAINED = TRAIN_IMAGES * EPOCHS;
const BATCH = 64;
const PAIRS = 64;
const settings = `
name: telemetry
seed: 4
dataset:
  name: fashion-mnist
teacher:
  architecture: teacher-cnn
  epochs: 1
  batchSize: ${BATCH}
  learningRate: 0.002
  trainImages: ${TRAIN_IMAGES}
student:
  architecture: student-cnn
  epochs: ${EPOCHS}
  batchSize: ${BATCH}
  learningRate: 0.002
  trainImages: ${TRAIN_IMAGES}
arms: [kd+mixup]
loss: { beta: 0.8, temperature: 2, variant: plain }
mixup: { alpha: 1, p: 1 }
analysisPairs: ${PAIRS}
`;

const dir = mkdtempSync(join(tmpdir(), 'vicinal-telemetry-'));
const services: ServiceHandle[] = [];
let coordinator: ChildProcess | undefined;
let receiver: OtlpReceiver;
let nats: NatsServerHandle;
let bus: Bus;

before(async () => {
  receiver = await startOtlpReceiver();
  nats = await startNatsServer();
  bus = await connectBus(nats.url, { name: 'telemetry-e2e' });
});

after(async () => {
  coordinator?.kill('SIGKILL');
  await Promise.all(services.map((s) => s.stop(5000)));
  await bus?.close();
  await nats?.stop();
  await receiver?.close();
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** The teacher the coordinator publishes, once both its objects are stored. */
async function publishedTeacher(exited: () => string | null): Promise<string> {
  for (;;) {
    const entries = await bus.models.list();
    const meta = entries.find((e) => /^teacher-.*\.meta\.json$/.test(e.name));
    if (meta) return meta.name.replace(/\.meta\.json$/, '');
    const output = exited();
    if (output !== null) {
      throw new Error(`the coordinator exited before publishing a teacher:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Parses the Prometheus text format into name{labels} -> value. */
async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Sum of the samples of `name` whose labels include every `labels` pair. */
function value(metrics: Map<string, number>, name: string, labels: string[] = []) {
  let sum = 0;
  let found = false;
  for (const [key, v] of metrics) {
    const brace = key.indexOf('{');
    const base = brace < 0 ? key : key.slice(0, brace);
    if (base !== name || !labels.every((l) => key.includes(l))) continue;
    sum += v;
    found = true;
  }
  assert.ok(found, `metric ${name}{${labels.join(',')}} is exposed`);
  return sum;
}

test('spans from all three services share trace ids; /metrics counts what was trained', async () => {
  const config = join(dir, 'telemetry.yaml');
  writeFileSync(config, settings);
  const otel = (protocol: string) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    // Pushed metrics go out once, at shutdown; traces in batches.
    OTEL_METRIC_EXPORT_INTERVAL: '600000',
    VICINAL_BACKEND: 'wasm',
  });
  let coordinatorExit: number | null | undefined;
  let coordinatorOutput = '';
  coordinator = spawn(
    process.execPath,
    [
      'apps/cli/bin/vicinal.mjs',
      'study',
      config,
      '--nats',
      nats.url,
      '--no-local-services',
      '--out',
      join(dir, 'out'),
      '--cache-dir',
      join(dir, 'cache'),
      '--backend',
      'wasm',
    ],
    {
      env: {
        ...process.env,
        ...otel('http/json'),
        OTEL_SERVICE_NAME: 'vicinal-coordinator',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  coordinator.stdout?.on('data', (d: Buffer) => {
    coordinatorOutput += d.toString();
  });
  coordinator.stderr?.on('data', (d: Buffer) => {
    coordinatorOutput += d.toString();
  });
  const coordinatorDone = new Promise<number | null>((resolve) =>
    coordinator?.once('exit', (code) => {
      coordinatorExit = code;
      resolve(code);
    }),
  );

  const model = await publishedTeacher(() =>
    coordinatorExit === undefined ? null : coordinatorOutput,
  );
  const [teacherPort, studentPort] = [await freePort(), await freePort()];
  const logDir = join(dir, 'logs');
  const teacher = startService(
    'teacher-server',
    'teacher',
    {
      ...otel('http/protobuf'),
      VICINAL_NATS_URL: nats.url,
      VICINAL_TEACHER_MODEL: model,
      VICINAL_LISTEN: '127.0.0.1:0',
      VICINAL_METRICS_PORT: String(teacherPort),
      VICINAL_METRICS_HOST: '127.0.0.1',
    },
    logDir,
  );
  const student = startService(
    'student-trainer',
    'student',
    {
      ...otel('http/protobuf'),
      VICINAL_NATS_URL: nats.url,
      VICINAL_WORKER_NAME: 'telemetry-student',
      VICINAL_METRICS_PORT: String(studentPort),
      VICINAL_METRICS_HOST: '127.0.0.1',
    },
    logDir,
  );
  services.push(teacher, student);
  assert.equal(await coordinatorDone, 0, coordinatorOutput);

  // /metrics after the run. The job is acked (and counted) just after its
  // result is stored, so wait for that count; everything else is final.
  const steps = TRAINED / BATCH;
  let studentMetrics = await scrape(studentPort);
  for (let i = 0; i < 300 && !studentMetrics.has(completedKey(studentMetrics)); i++) {
    await new Promise((r) => setTimeout(r, 100));
    studentMetrics = await scrape(studentPort);
  }
  const role = ['vicinal_role="student"', 'vicinal_arm="kd+mixup"'];
  assert.equal(value(studentMetrics, 'vicinal_train_samples_total', role), TRAINED);
  assert.equal(value(studentMetrics, 'vicinal_train_steps_total', role), steps);
  assert.equal(
    value(studentMetrics, 'vicinal_jobs_total', ['vicinal_job_state="started"']),
    1,
  );
  assert.equal(
    value(studentMetrics, 'vicinal_jobs_total', ['vicinal_job_state="completed"']),
    1,
  );
  // The gauges hold what the job stored as its result.
  const summary = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8'));
  const [result] = summary.students as { accuracy: number; ece: number }[];
  const last = ['vicinal_epoch="2"', 'vicinal_eval_images="10000"'];
  assert.equal(value(studentMetrics, 'vicinal_student_accuracy', last), result.accuracy);
  assert.equal(value(studentMetrics, 'vicinal_student_ece', last), result.ece);
  // After the first epoch: checked on a 1000-image subset of the test split.
  const first = ['vicinal_epoch="1"', 'vicinal_eval_images="1000"'];
  const early = value(studentMetrics, 'vicinal_student_accuracy', first);
  assert.ok(early > 0 && early <= 1 && early !== result.accuracy, `epoch 1: ${early}`);
  const earlyEce = value(studentMetrics, 'vicinal_student_ece', first);
  assert.ok(earlyEce >= 0 && earlyEce <= 1, `epoch 1 ECE: ${earlyEce}`);
  assert.ok(result.accuracy > 0 && result.accuracy <= 1);
  // The steps' teacher queries, four steps to a request (the default: 256
  // rows, within the teacher's max batch); one more for the analysis.
  const queries = Math.ceil(steps / DEFAULT_STEPS_PER_QUERY);
  assert.equal(queries, 2);
  const rpcClientCount = value(studentMetrics, 'rpc_client_duration_count', [
    'rpc_grpc_status_code="0"',
  ]);
  assert.equal(rpcClientCount, queries + 1);

  const teacherMetrics = await scrape(teacherPort);
  const ok = ['rpc_method="SoftLabelsStream"', 'rpc_grpc_status_code="0"'];
  assert.equal(value(teacherMetrics, 'vicinal_teacher_requests_total', ok), queries + 1);
  assert.equal(value(teacherMetrics, 'rpc_server_duration_count', ok), queries + 1);
  // Rows answered: the trained samples plus the analysis pairs.
  assert.equal(value(teacherMetrics, 'vicinal_teacher_samples_total'), TRAINED + PAIRS);
  const batches = value(teacherMetrics, 'vicinal_teacher_batch_size_count');
  assert.ok(batches >= 1 && batches <= queries + 1, `batches ${batches}`);
  // Each training batch is 64 rows, the analysis 128 (mixed + clean images).
  assert.equal(
    value(teacherMetrics, 'vicinal_teacher_batch_size_sum'),
    TRAINED + 2 * PAIRS,
  );
  const fillSum = value(teacherMetrics, 'vicinal_teacher_batch_fill_sum');
  assert.ok(fillSum > 0 && fillSum <= batches, `fill sum ${fillSum}`);
  assert.equal(value(teacherMetrics, 'vicinal_teacher_queue_depth'), 0);
  const requestBytes = value(teacherMetrics, 'rpc_server_request_size_sum', [
    'rpc_method="SoftLabelsStream"',
  ]);
  // "Mix on the teacher": the uint8 images (784 bytes a row) plus partner and
  // lambda, a few bytes a row more.
  const imageBytes = (TRAINED + PAIRS) * 784;
  assert.ok(
    requestBytes > imageBytes && requestBytes < imageBytes * 1.05,
    `request bytes ${requestBytes}`,
  );

  // Stopping flushes the spans and pushes the metrics once over OTLP.
  await Promise.all(services.map((s) => s.stop(10_000)));
  const spans = receiver.spans;
  const by = (service: string, name: string) =>
    spans.filter((s) => s.service === service && s.name === name);

  const [study] = by('vicinal-coordinator', 'vicinal study');
  assert.ok(study, 'the coordinator exported its root span');
  const [publish] = by('vicinal-coordinator', 'publish vicinal.jobs.distill');
  assert.ok(publish);
  assert.equal(publish.traceId, study.traceId);
  assert.equal(publish.kind, 4); // PRODUCER
  const [processSpan] = by('vicinal-student-trainer', 'process vicinal.jobs.distill');
  assert.ok(processSpan, 'the worker exported its job span');
  assert.equal(processSpan.traceId, study.traceId);
  assert.equal(processSpan.parentSpanId, publish.spanId);
  const epochs = by('vicinal-student-trainer', 'vicinal.train.epoch');
  assert.equal(epochs.length, EPOCHS);
  for (const epoch of epochs) assert.equal(epoch.parentSpanId, processSpan.spanId);

  const stepSpans = by('vicinal-student-trainer', 'vicinal.train.step');
  assert.equal(stepSpans.length, steps);
  const clients = by('vicinal-student-trainer', `${TEACHER_SERVICE}/SoftLabelsStream`);
  const servers = by('vicinal-teacher-server', `${TEACHER_SERVICE}/SoftLabelsStream`);
  for (const step of stepSpans) {
    assert.equal(step.parentSpanId, '');
    const epoch = epochs.find(
      (e) => e.attributes['vicinal.epoch'] === step.attributes['vicinal.epoch'],
    );
    assert.ok(epoch);
    assert.deepEqual(step.links, [{ traceId: epoch.traceId, spanId: epoch.spanId }]);
    // A query's four steps: the first holds it, the others name that step.
    const number = Number(step.attributes['vicinal.step']);
    const holder = number - ((number - 1) % DEFAULT_STEPS_PER_QUERY);
    assert.equal(step.attributes['vicinal.teacher.query_step'], holder);
    const client = clients.find((c) => c.parentSpanId === step.spanId);
    if (number !== holder) {
      assert.equal(client, undefined, `step ${number}: its query is in step ${holder}`);
      continue;
    }
    assert.ok(client, 'each first step of a query has the query');
    assert.equal(client.attributes['vicinal.teacher.batches'], DEFAULT_STEPS_PER_QUERY);
    assert.equal(client.traceId, step.traceId);
    const server = servers.find((s) => s.parentSpanId === client.spanId);
    assert.ok(server, 'the teacher process continued the step trace');
    assert.equal(server.traceId, step.traceId);
    assert.equal(server.kind, 2); // SERVER
    assert.equal(
      server.attributes['vicinal.request.rows'],
      BATCH * DEFAULT_STEPS_PER_QUERY,
    );
    const inner = by('vicinal-teacher-server', 'vicinal.teacher.inference');
    assert.ok(inner.some((s) => s.parentSpanId === server.spanId));
  }
  // The metrics went over OTLP too, from both services.
  const pushed = (service: string) =>
    new Set(receiver.metrics.filter((m) => m.service === service).map((m) => m.name));
  assert.ok(pushed('vicinal-student-trainer').has('vicinal.train.samples'));
  assert.ok(pushed('vicinal-teacher-server').has('rpc.server.duration'));
  assert.ok(pushed('vicinal-coordinator').has('vicinal.jobs'));
  assert.ok(
    receiver.requests.some(
      (r) => r.path === '/v1/traces' && r.contentType === 'application/x-protobuf',
    ),
  );
  assert.ok(
    receiver.requests.some(
      (r) => r.path === '/v1/traces' && r.contentType === 'application/json',
    ),
  );
});

function completedKey(metrics: Map<string, number>): string {
  for (const key of metrics.keys()) {
    if (key.startsWith('vicinal_jobs_total') && key.includes('"completed"')) return key;
  }
  return '';
}
