import * as grpc from '@grpc/grpc-js';
import { connectBus, fetchTeacher, registerTeacher, teacherInstance } from '@vicinal/bus';
import {
  ConfigError,
  exitOnUncaughtErrors,
  natsClientSecurity,
  serverTransportSecurity,
  serviceSettingsOrExit,
  startServiceOrExit,
  teacherServerConfig,
} from '@vicinal/config';
import { datasetNames, loadDataset } from '@vicinal/data';
import { createLogger, startTelemetry } from '@vicinal/telemetry';
import { checkPlaintextAllowed, serverCredentials } from '@vicinal/wire';
import { tuneServingHeap } from './heap.js';
import { loadTeacherRuntime } from './inference-thread.js';
import type { HeldSplit } from './request.js';
import { startTeacherServer } from './server.js';

/**
 * Teacher server process: fetches the teacher from the object store, serves
 * it over gRPC (TLS when VICINAL_TLS_CERT/KEY are set; plaintext only on
 * loopback or with VICINAL_INSECURE=1), registers in the teachers bucket
 * with a heartbeat, and on SIGTERM deregisters, finishes in-flight calls and
 * exits.
 */
exitOnUncaughtErrors('teacher-server');
const config = serviceSettingsOrExit('teacher-server', () => {
  const settings = teacherServerConfig();
  // A data set name is checked with the other settings (exit 2), before NATS.
  const held = settings.holdDataset;
  if (held !== undefined && !datasetNames().includes(held)) {
    throw new ConfigError('teacher-server settings', [
      `holdDataset (VICINAL_HOLD_DATASET): expected one of ${datasetNames().join(', ')}, ` +
        `got ${JSON.stringify(held)}`,
    ]);
  }
  return settings;
});
const security = settleTransport();
const natsSecurity = serviceSettingsOrExit('teacher-server', () =>
  natsClientSecurity(config),
);
const log = createLogger('teacher-server');
grpc.setLogger(grpcLogWithoutBindFailure());
// A failed step (NATS unreachable, the model not published, the port taken)
// ends the start with one line on stderr and exit code 1, after closing what
// the earlier steps opened.
const { telemetry, bus, runtime, server, deregister } = await startServiceOrExit(
  'teacher-server',
  async (closeOnFailure) => {
    // Traces and metrics as the OTEL_* / VICINAL_METRICS_PORT variables say (off when unset).
    const telemetry = await startTelemetry('vicinal-teacher-server');
    closeOnFailure(() => telemetry.shutdown());
    const bus = await connectBus(config.natsUrl, {
      name: `teacher-server-${process.pid}`,
      ...natsSecurity,
    });
    closeOnFailure(() => bus.close());
    const { meta, artifact } = await fetchTeacher(bus, config.model);
    const heldData = await loadHeldData(meta.inputShape);
    // Before the inference thread starts, so its heap is tuned too.
    tuneServingHeap(config.heapGrowingPercent);
    // The model on an inference thread of its own unless VICINAL_INFERENCE_THREAD=main.
    const runtime = await loadTeacherRuntime(artifact, config.inferenceThread, {
      backend: config.backend,
      logger: log,
    });
    closeOnFailure(() => runtime.close());
    const backend = runtime.backend;
    log.info(
      {
        backend: backend.name,
        native: backend.native.enabled,
        place: config.inferenceThread,
        heapGrowingPercent: config.heapGrowingPercent,
      },
      'teacher model loaded',
    );
    const server = await startTeacherServer({
      address: config.listen,
      model: runtime.infer,
      metadata: {
        model: meta.name,
        version: meta.version,
        architecture: meta.architecture,
        parameters: meta.parameters,
        inputShape: meta.inputShape,
        numClasses: meta.numClasses,
        classNames: meta.classNames,
        mean: meta.mean,
        std: meta.std,
        dataset: meta.dataset,
        backend: backend.name,
      },
      maxBatch: config.maxBatch,
      maxDelayMs: config.maxDelayMs,
      maxInFlight: runtime.maxInFlight,
      queueLimit: config.queueLimit,
      maxMessageBytes: config.maxMessageBytes,
      maxStreams: config.maxStreams,
      requestTimeoutMs: config.requestTimeoutMs,
      heldData,
      ...security,
    });
    closeOnFailure(() => server.stop(0));
    const advertise = config.advertise ?? `${config.listen.split(':')[0]}:${server.port}`;
    const deregister = await registerTeacher(
      bus,
      {
        instance: teacherInstance(),
        address: advertise,
        model: meta.name,
        version: meta.version,
        architecture: meta.architecture,
        backend: backend.name,
        startedAt: new Date().toISOString(),
      },
      config.heartbeatMs,
      (err) => log.warn({ err: err.message }, 'registry heartbeat failed'),
    );
    log.info(
      { address: advertise, model: meta.name, backend: backend.name },
      'teacher serving',
    );
    return { telemetry, bus, runtime, server, deregister };
  },
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  // What the server answered, by request form (rows: students named rows of
  // a held split; mix: they sent pixels).
  log.info({ signal, answered: server.stats().answered }, 'draining');
  await deregister();
  await server.stop(config.drainMs);
  await runtime.close();
  await bus.close().catch(() => {});
  await telemetry.shutdown();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

/**
 * The training split of VICINAL_HOLD_DATASET (from VICINAL_HOLD_DATASET_DIR,
 * else the loader's default place), which students training on the same
 * files then name by row number; none when it is unset. A data set that does
 * not load, or whose images are not the model's input shape, stops the start.
 */
async function loadHeldData(
  inputShape: readonly [number, number, number],
): Promise<HeldSplit[]> {
  if (!config.holdDataset) return [];
  const name = config.holdDataset;
  const where = `VICINAL_HOLD_DATASET=${name}`;
  const data = await loadDataset({ name, dir: config.holdDatasetDir }).catch(
    (err: Error) => {
      throw new Error(`${where}: ${err.message}`);
    },
  );
  if (data.shape.join('x') !== inputShape.join('x')) {
    throw new Error(
      `${where}: expected images of the model's input shape ${inputShape.join('x')}, ` +
        `got ${data.shape.join('x')}`,
    );
  }
  const { fingerprint } = data.train;
  log.info(
    { dataset: `${name}/train`, rows: data.train.count, fingerprint },
    'holding a data set for row-number queries',
  );
  return [
    {
      name: `${name}/train`,
      fingerprint,
      images: data.train.images,
      rows: data.train.count,
    },
  ];
}

/**
 * Transport security is settled before any other work: unreadable or
 * mismatched TLS files, or plaintext on a non-loopback address without
 * VICINAL_INSECURE=1, stop the start with the reason (exit code 2).
 */
function settleTransport() {
  try {
    const settled = serverTransportSecurity(config);
    if (settled.tls) serverCredentials(settled.tls);
    else checkPlaintextAllowed(config.listen, settled.insecure, 'listen on');
    return settled;
  } catch (err) {
    process.stderr.write(`teacher-server refuses to start: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

/**
 * grpc-js's own stderr lines, in its format, less its report of a failed
 * bind ("E No address added out of total 1 resolved"): the failed start
 * says what happened in its one line.
 */
function grpcLogWithoutBindFailure(): Partial<Console> {
  const print =
    (prefix: string) =>
    (message?: unknown, ...rest: unknown[]) =>
      console.error(`${prefix} ${message}`, ...rest);
  const error = print('E');
  return {
    error: (message?: unknown, ...rest: unknown[]) => {
      if (!String(message).startsWith('No address added out of total')) {
        error(message, ...rest);
      }
    },
    info: print('I'),
    debug: print('D'),
  };
}
