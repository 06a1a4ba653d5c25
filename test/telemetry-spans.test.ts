import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '@vicinal/backend';
import {
  type Bus,
  connectBus,
  consumeJobs,
  type NatsServerHandle,
  names,
  startNatsServer,
  submitJob,
} from '@vicinal/bus';
import type { TeacherServer } from '@vicinal/teacher-server';
import {
  createLogger,
  startTelemetry,
  type Telemetry,
  withSpan,
} from '@vicinal/telemetry';
import { RemoteTeacher, trainNetwork } from '@vicinal/training';
import { TEACHER_SERVICE } from '@vicinal/wire';
import { z } from 'zod';
import { startTinyTeacher, TINY, tinyMetadata } from './support/tiny-teacher.js';

// The span tree of one job, read from an in-memory exporter: a job submitted
// over a real nats-server (trace context in the message headers), pulled by
// the students' consumer, trained against a teacher server over loopback
// gRPC (trace context in the call metadata). Student, coordinator and teacher
// share this process so that one exporter sees every span; the OTLP test
// (telemetry-otlp.e2e.test.ts) covers the same across separate processes.

const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let nats: NatsServerHandle;
let bus: Bus;
let teacher: TeacherServer;

before(async () => {
  telemetry = await startTelemetry('telemetry-test', {
    env: {},
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  await initBackend('cpu');
  nats = await startNatsServer();
  bus = await connectBus(nats.url, { name: 'telemetry-test' });
  teacher = await startTinyTeacher({ maxBatch: 64, maxDelayMs: 1 });
});

after(async () => {
  await teacher?.stop(1000);
  await bus?.close();
  await nats?.stop();
  await telemetry?.shutdown();
});

const IMAGES = 96;
const BATCH = 16;

function tinySplit() {
  const pixels = TINY.h * TINY.w * TINY.c;
  const images = new Uint8Array(IMAGES * pixels);
  const labels = new Uint8Array(IMAGES);
  for (let i = 0; i < IMAGES; i++) {
    for (let p = 0; p < pixels; p++) images[i * pixels + p] = (i * 37 + p * 11) % 256;
    labels[i] = i % TINY.k;
  }
  return { images, labels, count: IMAGES };
}

const children = (spans: ReadableSpan[], parent: ReadableSpan) =>
  spans.filter(
    (s) =>
      s.parentSpanContext?.spanId === parent.spanContext().spanId &&
      s.spanContext().traceId === parent.spanContext().traceId,
  );

const only = (spans: ReadableSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  assert.equal(found.length, 1, `one ${name} span, got ${found.length}`);
  return found[0];
};

test('a job and its steps form followable traces across NATS and gRPC', async () => {
  const jobSchema = z.object({ jobId: z.string(), epochs: z.number().int() });
  const meta = tinyMetadata();
  await withSpan('vicinal study', {}, () =>
    submitJob(bus, names.distillSubject, 'trace-job-1', {
      jobId: 'trace-job-1',
      epochs: 1,
    }),
  );
  const stop = new AbortController();
  const handled = await consumeJobs(bus, {
    schema: jobSchema,
    log: createLogger('telemetry-test', 'silent'),
    pollMs: 200,
    signal: stop.signal,
    maxJobs: 1,
    handler: async (job) => {
      const remote = await RemoteTeacher.connect(teacher.address, meta.model);
      const model = tfl.sequential({
        layers: [
          tfl.layers.flatten({ inputShape: [TINY.h, TINY.w, TINY.c] }),
          tfl.layers.dense({ units: TINY.k }),
        ],
      });
      try {
        await trainNetwork({
          model,
          train: tinySplit(),
          spec: {
            shape: [TINY.h, TINY.w, TINY.c],
            numClasses: TINY.k,
            mean: [TINY.mean],
            std: [TINY.std],
          },
          recipe: {
            architecture: 'tiny',
            epochs: job.epochs,
            batchSize: BATCH,
            learningRate: 0.01,
            trainImages: IMAGES,
          },
          mixup: { alpha: 1, p: 1 },
          loss: { beta: 0.5, temperature: 2, variant: 'plain' },
          teacher: remote,
          seed: 7,
          attributes: { 'vicinal.role': 'student', 'vicinal.arm': 'kd+mixup' },
        });
      } finally {
        model.dispose();
        await remote.close();
      }
    },
  });
  assert.equal(handled, 1);
  await telemetry.forceFlush();
  const spans = exporter.getFinishedSpans();

  // The job trace: coordinator -> JetStream -> worker -> epoch.
  const study = only(spans, 'vicinal study');
  assert.equal(study.parentSpanContext, undefined);
  const publish = only(spans, `publish ${names.distillSubject}`);
  assert.equal(publish.kind, SpanKind.PRODUCER);
  assert.deepEqual(children(spans, study), [publish]);
  assert.equal(publish.attributes['messaging.system'], 'nats');
  assert.equal(publish.attributes['messaging.message.id'], 'trace-job-1');
  const processSpan = only(spans, `process ${names.distillSubject}`);
  assert.equal(processSpan.kind, SpanKind.CONSUMER);
  // Its parent came through the message headers, not the process's context.
  assert.equal(processSpan.parentSpanContext?.spanId, publish.spanContext().spanId);
  assert.equal(processSpan.spanContext().traceId, study.spanContext().traceId);
  assert.equal(processSpan.attributes['vicinal.job.delivery_count'], 1);
  const epoch = only(spans, 'vicinal.train.epoch');
  assert.deepEqual(children(spans, processSpan), [epoch]);
  assert.equal(epoch.attributes['vicinal.steps'], IMAGES / BATCH);

  // One trace per step, linked to its epoch.
  const steps = spans.filter((s) => s.name === 'vicinal.train.step');
  assert.equal(steps.length, IMAGES / BATCH);
  assert.equal(new Set(steps.map((s) => s.spanContext().traceId)).size, steps.length);
  assert.deepEqual(
    steps.map((s) => s.attributes['vicinal.step']).sort((a, b) => Number(a) - Number(b)),
    [1, 2, 3, 4, 5, 6],
  );
  for (const step of steps) {
    assert.equal(step.parentSpanContext, undefined, 'a step starts its own trace');
    assert.equal(step.links.length, 1);
    assert.equal(step.links[0].context.spanId, epoch.spanContext().spanId);
    assert.equal(step.attributes['vicinal.arm'], 'kd+mixup');
    assert.equal(step.attributes['vicinal.batch.size'], BATCH);
    assert.ok(Number.isFinite(step.attributes['vicinal.loss']));

    // Four steps' queries go as one (the default steps per query), in the
    // trace of the first of them: steps 1 and 5 hold the queries of 1-4 and 5-6.
    const number = Number(step.attributes['vicinal.step']);
    const first = number <= 4 ? 1 : 5;
    assert.equal(step.attributes['vicinal.teacher.query_step'], first);
    if (number !== first) {
      assert.deepEqual(children(spans, step), [], 'its query is in another step');
      continue;
    }
    const rows = BATCH * (first === 1 ? 4 : 2);
    // step -> teacher query (client) -> server span -> queue + inference.
    const [client] = children(spans, step);
    assert.ok(client, 'the step has its teacher query as a child');
    assert.equal(client.name, `${TEACHER_SERVICE}/SoftLabelsStream`);
    assert.equal(client.kind, SpanKind.CLIENT);
    assert.equal(client.attributes['rpc.system'], 'grpc');
    assert.equal(client.attributes['rpc.grpc.status_code'], 0);
    assert.equal(client.attributes['vicinal.batch.rows'], rows);
    assert.equal(client.attributes['vicinal.teacher.batches'], rows / BATCH);
    const [server] = children(spans, client);
    assert.ok(server, 'the server span joined the step trace via gRPC metadata');
    assert.equal(server.kind, SpanKind.SERVER);
    assert.equal(server.attributes['rpc.method'], 'SoftLabelsStream');
    assert.equal(server.attributes['rpc.service'], TEACHER_SERVICE);
    assert.equal(server.attributes['vicinal.request.rows'], rows);
    const batchSize = Number(server.attributes['vicinal.batch.size']);
    assert.ok(batchSize >= rows && batchSize <= 64, `batch size ${batchSize}`);
    assert.equal(server.attributes['vicinal.batch.fill'], batchSize / 64);
    assert.ok(Number(server.attributes['vicinal.teacher.queue_ms']) >= 0);
    const inner = children(spans, server).map((s) => s.name);
    assert.deepEqual(inner.sort(), [
      'vicinal.teacher.inference',
      'vicinal.teacher.queue',
    ]);
    // The client saw the timings the server reported.
    assert.equal(client.attributes['vicinal.batch.size'], batchSize);
  }
});
