import { initBackend } from '@vicinal/backend';
import { connectBus, consumeJobs, publishEvent } from '@vicinal/bus';
import {
  distillJobSchema,
  exitOnUncaughtErrors,
  natsClientSecurity,
  runServiceOrExit,
  serviceSettingsOrExit,
  startServiceOrExit,
  studentTrainerConfig,
  teacherClientSecurity,
} from '@vicinal/config';
import { createLogger, startTelemetry } from '@vicinal/telemetry';
import { runDistillJob } from './distill-job.js';

/**
 * Student trainer process: pulls distillation jobs from JetStream one at a
 * time until stopped (SIGTERM/SIGINT hands the current job back).
 */
exitOnUncaughtErrors('student-trainer');
const config = serviceSettingsOrExit('student-trainer', () => studentTrainerConfig());
// TLS files are read before any work: a missing file stops the start (exit code 2).
const { teacherSecurity, natsSecurity } = serviceSettingsOrExit(
  'student-trainer',
  () => ({
    teacherSecurity: teacherClientSecurity(config),
    natsSecurity: natsClientSecurity(config),
  }),
);
const log = createLogger(`student-trainer:${config.name}`);
// A failed step (no backend, NATS unreachable) ends the start with one line on
// stderr and exit code 1, after closing what the earlier steps opened.
const { telemetry, backend, bus } = await startServiceOrExit(
  'student-trainer',
  async (closeOnFailure) => {
    // Traces and metrics as the OTEL_* / VICINAL_METRICS_PORT variables say (off when unset).
    const telemetry = await startTelemetry('vicinal-student-trainer');
    closeOnFailure(() => telemetry.shutdown());
    const backend = await initBackend(config.backend);
    const bus = await connectBus(config.natsUrl, { name: config.name, ...natsSecurity });
    return { telemetry, backend, bus };
  },
);
const stop = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    log.info({ signal: sig }, 'stopping: any job in hand goes back to the queue');
    stop.abort(new Error(`received ${sig}`));
  });
}
log.info({ backend: backend.name, nats: config.natsUrl }, 'student trainer ready');
// A job loop that fails (not a job: the loop itself, e.g. its consumer
// gone) ends the trainer with one line and exit code 1; JetStream
// redelivers the job it held.
await runServiceOrExit('student-trainer', async () => {
  await consumeJobs(bus, {
    schema: distillJobSchema,
    log,
    pollMs: config.pollMs,
    signal: stop.signal,
    maxJobs: config.maxJobs,
    worker: config.name,
    handler: async (job, ctx) => {
      try {
        await runDistillJob(job, ctx, {
          bus,
          worker: config.name,
          backend: backend.name,
          prefetch: config.prefetch,
          stepsPerQuery: config.stepsPerQuery,
          log,
          teacherWaitSeconds: config.teacherWaitSeconds,
          teacherSecurity,
        });
      } catch (err) {
        if (!ctx.signal.aborted) {
          await publishEvent(bus, job.studyId, {
            type: 'job-failed',
            jobId: job.jobId,
            error: (err as Error).message,
            deliveryCount: ctx.deliveryCount,
            jobSequence: ctx.jobSequence,
          }).catch(() => {});
        }
        throw err;
      }
    },
  });
}, [() => bus.close(), () => telemetry.shutdown()]);
await bus.close();
await telemetry.shutdown();
log.info('student trainer stopped');
