import { initBackend } from '@vicinal/backend';
import { connectBus, consumeJobs, publishEvent } from '@vicinal/bus';
import {
  distillJobSchema,
  natsClientSecurity,
  serviceSettingsOrExit,
  studentTrainerConfig,
  teacherClientSecurity,
} from '@vicinal/config';
import { createLogger, startTelemetry } from '@vicinal/telemetry';
import { runDistillJob } from './distill-job.js';

/**
 * Student trainer process: pulls distillation jobs from JetStream one at a
 * time until stopped (SIGTERM/SIGINT hands the current job back).
 */
// Traces and metrics as the OTEL_* / VICINAL_METRICS_PORT variables say (off when unset).
const telemetry = await startTelemetry('vicinal-student-trainer');
const config = serviceSettingsOrExit('student-trainer', () => studentTrainerConfig());
const log = createLogger(`student-trainer:${config.name}`);
const backend = await initBackend(config.backend);
// TLS files are read before any work: a missing file stops the start.
const teacherSecurity = teacherClientSecurity(config);
const bus = await connectBus(config.natsUrl, {
  name: config.name,
  ...natsClientSecurity(config),
});
const stop = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    log.info({ signal: sig }, 'stopping: the job in hand goes back to the queue');
    stop.abort(new Error(`received ${sig}`));
  });
}
log.info({ backend: backend.name, nats: config.natsUrl }, 'student trainer ready');
await consumeJobs(bus, {
  schema: distillJobSchema,
  log,
  pollMs: config.pollMs,
  signal: stop.signal,
  maxJobs: config.maxJobs,
  handler: async (job, ctx) => {
    try {
      await runDistillJob(job, ctx, {
        bus,
        worker: config.name,
        backend: backend.name,
        prefetch: config.prefetch,
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
        }).catch(() => {});
      }
      throw err;
    }
  },
});
await bus.close();
await telemetry.shutdown();
log.info('student trainer stopped');
