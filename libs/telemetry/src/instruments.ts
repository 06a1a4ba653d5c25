import {
  type Counter,
  type Gauge,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableGauge,
} from '@opentelemetry/api';

/**
 * Every metric vicinal records, in one place. Names follow the OpenTelemetry
 * semantic conventions where one exists (rpc.*, in ms as in the RPC
 * conventions before v1.26); the rest carry the `vicinal.` prefix.
 * In Prometheus dots become underscores and units/`_total` are appended,
 * e.g. vicinal.train.samples -> vicinal_train_samples_total.
 */
export interface Instruments {
  /** Server side of a teacher call, ms, by rpc.method and rpc.grpc.status_code. */
  rpcServerDuration: Histogram;
  /** Request message bytes received by the teacher server. */
  rpcServerRequestSize: Histogram;
  /** Response message bytes sent by the teacher server. */
  rpcServerResponseSize: Histogram;
  /** A student's teacher query end to end (encode, wire, queue, inference), ms. */
  rpcClientDuration: Histogram;
  teacherRequests: Counter;
  /** Rows (images) the teacher answered. */
  teacherSamples: Counter;
  /** Time a request waited in the batching queue, ms. */
  teacherQueueDuration: Histogram;
  /** Rows of one coalesced batch. */
  teacherBatchSize: Histogram;
  /** Rows of one batch / max batch. */
  teacherBatchFill: Histogram;
  /** One batch's inference, ms. */
  teacherInferenceDuration: Histogram;
  /** Rows waiting in the batching queue (observed at collection). */
  teacherQueueDepth: ObservableGauge;
  /**
   * Samples trained on, by vicinal.role (student or teacher) and vicinal.arm;
   * rate() of it is samples/s.
   */
  trainSamples: Counter;
  trainSteps: Counter;
  /** Compute time of one training step, ms. */
  trainStepDuration: Histogram;
  /** How long a step waited for its soft labels after its turn came, ms. */
  trainTeacherWait: Histogram;
  /** Mean training loss of the last finished epoch. */
  trainLoss: Gauge;
  /** Test accuracy of a student, labelled with the epoch it was measured after. */
  studentAccuracy: Gauge;
  /** Expected calibration error of a student, as accuracy. */
  studentEce: Gauge;
  /** Jobs by vicinal.job.state (submitted, started, completed, failed, ...). */
  jobs: Counter;
}

const MS_BUCKETS = [
  0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000,
];
const BYTE_BUCKETS = [
  1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216,
];
const ROW_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const FILL_BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

const cache = new WeakMap<MeterProvider, Instruments>();

/**
 * The instruments of the current meter provider. Call after startTelemetry
 * (before it, or without it, they are no-ops).
 */
export function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  let made = cache.get(provider);
  if (!made) {
    made = create(provider.getMeter('vicinal'));
    cache.set(provider, made);
  }
  return made;
}

function create(meter: Meter): Instruments {
  const ms = (name: string, description: string) =>
    meter.createHistogram(name, {
      description,
      unit: 'ms',
      advice: { explicitBucketBoundaries: MS_BUCKETS },
    });
  const bytes = (name: string, description: string) =>
    meter.createHistogram(name, {
      description,
      unit: 'By',
      advice: { explicitBucketBoundaries: BYTE_BUCKETS },
    });
  const counter = (name: string, description: string, unit: string) =>
    meter.createCounter(name, { description, unit });
  const gauge = (name: string, description: string, unit?: string) =>
    meter.createGauge(name, { description, unit });
  return {
    rpcServerDuration: ms('rpc.server.duration', 'Duration of inbound RPCs'),
    rpcServerRequestSize: bytes(
      'rpc.server.request.size',
      'Inbound request message size',
    ),
    rpcServerResponseSize: bytes('rpc.server.response.size', 'Outbound response size'),
    rpcClientDuration: ms('rpc.client.duration', 'Duration of outbound RPCs'),
    teacherRequests: counter(
      'vicinal.teacher.requests',
      'Soft-label requests answered or refused by the teacher',
      '{request}',
    ),
    teacherSamples: counter(
      'vicinal.teacher.samples',
      'Rows the teacher returned soft labels for',
      '{sample}',
    ),
    teacherQueueDuration: ms(
      'vicinal.teacher.queue.duration',
      'Wait in the batching queue',
    ),
    teacherBatchSize: meter.createHistogram('vicinal.teacher.batch.size', {
      description: 'Rows per coalesced inference batch',
      unit: '{sample}',
      advice: { explicitBucketBoundaries: ROW_BUCKETS },
    }),
    teacherBatchFill: meter.createHistogram('vicinal.teacher.batch.fill', {
      description: 'Rows per batch as a fraction of the maximum batch',
      unit: '1',
      advice: { explicitBucketBoundaries: FILL_BUCKETS },
    }),
    teacherInferenceDuration: ms('vicinal.teacher.inference.duration', 'Batch inference'),
    teacherQueueDepth: meter.createObservableGauge('vicinal.teacher.queue.depth', {
      description: 'Rows waiting in the batching queue',
      unit: '{sample}',
    }),
    trainSamples: counter('vicinal.train.samples', 'Samples trained on', '{sample}'),
    trainSteps: counter('vicinal.train.steps', 'Training steps taken', '{step}'),
    trainStepDuration: ms('vicinal.train.step.duration', 'Compute time of a step'),
    trainTeacherWait: ms(
      'vicinal.train.teacher.wait',
      'Time a step waited for its soft labels',
    ),
    trainLoss: gauge(
      'vicinal.train.loss',
      'Mean training loss of the last finished epoch',
    ),
    studentAccuracy: gauge(
      'vicinal.student.accuracy',
      'Test accuracy of the student',
      '1',
    ),
    studentEce: gauge(
      'vicinal.student.ece',
      'Expected calibration error of the student on the test split',
      '1',
    ),
    jobs: counter('vicinal.jobs', 'Jobs by state transition', '{job}'),
  };
}
