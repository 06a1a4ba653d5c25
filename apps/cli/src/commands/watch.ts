import {
  connectBus,
  listResults,
  names,
  type StudyEvent,
  watchEvents,
} from '@vicinal/bus';
import type { DistillResult } from '@vicinal/config';
import { Command } from 'commander';

const natsOption = ['--nats <url>', 'NATS server', process.env.VICINAL_NATS_URL] as const;

/** One human line for a progress event. */
export function describeEvent(ev: StudyEvent): string {
  switch (ev.type) {
    case 'job-started':
      return (
        `${ev.jobId}: started on ${ev.worker} (delivery ${ev.deliveryCount}` +
        `${ev.resumedAfterEpoch ? `, resuming after epoch ${ev.resumedAfterEpoch}` : ''})`
      );
    case 'epoch':
      return (
        `${ev.jobId}: epoch ${ev.epoch}/${ev.epochs} loss ${ev.loss.toFixed(4)} ` +
        `${ev.samplesPerSecond.toFixed(0)} samples/s`
      );
    case 'job-finished':
      return `${ev.jobId}: finished, accuracy ${(100 * ev.accuracy).toFixed(2)}%, ECE ${ev.ece.toFixed(4)}`;
    case 'job-failed':
      return `${ev.jobId}: failed: ${ev.error}`;
  }
}

/** `vicinal watch STUDY`: replays a study's progress events, then follows them. */
export function watchCommand(): Command {
  return new Command('watch')
    .description("print a study's progress events from the start, then follow new ones")
    .argument('<study>', 'study id (as printed by `vicinal study`)')
    .requiredOption(...natsOption)
    .option('--no-follow', 'stop after the events stored so far')
    .action(async (study: string, opts: { nats: string; follow: boolean }) => {
      const bus = await connectBus(opts.nats, { name: 'vicinal-watch' });
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      try {
        const info = await bus.jsm.streams.info(names.eventsStream);
        let remaining = info.state.messages;
        if (!opts.follow && remaining === 0) return;
        // Without --follow, stop once the stream's stored events are read.
        const idle = opts.follow ? null : setTimeout(() => stop.abort(), 2000);
        for await (const ev of watchEvents(bus, study, stop.signal)) {
          process.stdout.write(`${describeEvent(ev)}\n`);
          remaining -= 1;
          idle?.refresh();
        }
        if (idle) clearTimeout(idle);
      } finally {
        await bus.close();
      }
    });
}

/** `vicinal status STUDY`: finished jobs with their figures, and the queue. */
export function statusCommand(): Command {
  return new Command('status')
    .description('finished jobs of a study and the job queue')
    .argument('<study>', 'study id')
    .requiredOption(...natsOption)
    .option('--json', 'print JSON')
    .action(async (study: string, opts: { nats: string; json?: boolean }) => {
      const bus = await connectBus(opts.nats, { name: 'vicinal-status' });
      try {
        const results = await listResults<DistillResult>(bus, study);
        const consumer = await bus.jsm.consumers.info(
          names.jobsStream,
          names.studentsConsumer,
        );
        const status = {
          study,
          finished: results.size,
          queued: consumer.num_pending,
          running: consumer.num_ack_pending,
          results: [...results.values()].map((r) => ({
            job: r.jobId,
            arm: r.arm,
            temperature: r.temperature,
            seed: r.seed,
            accuracy: r.accuracy,
            ece: r.ece,
            worker: r.worker,
          })),
        };
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${study}: ${status.finished} finished, ${status.running} running, ` +
            `${status.queued} queued\n`,
        );
        for (const r of status.results) {
          process.stdout.write(
            `  ${r.job}: ${r.arm} T=${r.temperature ?? '-'} seed ${r.seed}: accuracy ` +
              `${(100 * r.accuracy).toFixed(2)}%, ECE ${r.ece.toFixed(4)} (${r.worker})\n`,
          );
        }
      } finally {
        await bus.close();
      }
    });
}
