import {
  connectBus,
  findTeachers,
  names,
  type StudyEvent,
  watchEvents,
} from '@vicinal/bus';
import { Command } from 'commander';
import { getManifest, gridProgress, storedStudyEvents } from '../study/grid-state.js';
import { natsOption } from './options.js';

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
    .addOption(natsOption())
    .option('--no-follow', 'stop after the events stored so far')
    .action(async (study: string, opts: { nats: string; follow: boolean }) => {
      const bus = await connectBus(opts.nats, { name: 'vicinal-watch' });
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      try {
        const manifest = await getManifest(bus, study);
        const ids = new Set(manifest?.jobs.map((j) => j.jobId));
        if (manifest) {
          process.stdout.write(`${study}: ${manifest.jobs.length} jobs in the grid\n`);
        }
        const finished = new Set<string>();
        const show = (ev: StudyEvent) => {
          let total = '';
          if (ev.type === 'job-finished' && manifest && ids.has(ev.jobId)) {
            finished.add(ev.jobId);
            total = ` (${finished.size}/${manifest.jobs.length} finished)`;
          }
          process.stdout.write(`${describeEvent(ev)}${total}\n`);
        };
        // Without --follow: exactly the events stored so far.
        if (!opts.follow) {
          for (const ev of await storedStudyEvents(bus, study)) show(ev);
          return;
        }
        for await (const ev of watchEvents(bus, study, stop.signal)) show(ev);
      } finally {
        await bus.close();
      }
    });
}

/** `vicinal status STUDY`: where every job of the study's grid stands, and the queue. */
export function statusCommand(): Command {
  return new Command('status')
    .description("progress over a study's grid: finished, started and queued jobs")
    .argument('<study>', 'study id (the name in the experiment file)')
    .addOption(natsOption())
    .option('--json', 'print JSON')
    .action(async (study: string, opts: { nats: string; json?: boolean }) => {
      const bus = await connectBus(opts.nats, { name: 'vicinal-status' });
      try {
        const manifest = await getManifest(bus, study);
        if (!manifest) {
          throw new Error(
            `no study "${study}" on ${opts.nats}: submit it with vicinal submit or ` +
              'vicinal study',
          );
        }
        const jobs = await gridProgress(bus, manifest);
        const consumer = await bus.jsm.consumers.info(
          names.jobsStream,
          names.studentsConsumer,
        );
        const teachers = await findTeachers(bus);
        const count = (state: string) => jobs.filter((j) => j.state === state).length;
        const status = {
          study,
          submittedAt: manifest.submittedAt,
          jobs: manifest.jobs.length,
          finished: count('finished'),
          started: count('running'),
          queued: count('queued'),
          queue: { pending: consumer.num_pending, inProgress: consumer.num_ack_pending },
          teachers: manifest.teachers.map((t) => ({
            ...t,
            servers: teachers.filter((r) => r.model === t.model).map((r) => r.address),
          })),
          progress: jobs,
        };
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          `${study}: ${status.finished} of ${status.jobs} jobs finished, ` +
            `${status.started} started, ${status.queued} not started ` +
            `(queue: ${status.queue.pending} waiting, ${status.queue.inProgress} in progress)\n`,
        );
        for (const t of status.teachers) {
          process.stdout.write(
            `  teacher ${t.name} (${t.architecture}, ${t.model}): ` +
              `${t.servers.length ? `served at ${t.servers.join(', ')}` : 'no server registered'}\n`,
          );
        }
        for (const j of jobs) {
          const figures =
            j.accuracy === null
              ? ''
              : `: accuracy ${(100 * j.accuracy).toFixed(2)}%, ECE ${j.ece?.toFixed(4)}`;
          const where = j.worker ? ` (${j.worker})` : '';
          const state = j.state === 'running' ? 'started' : j.state;
          process.stdout.write(`  [${state}] ${j.label}${figures}${where}\n`);
        }
      } finally {
        await bus.close();
      }
    });
}
