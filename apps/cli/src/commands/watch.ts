import {
  connectBus,
  deliveryNote,
  findTeachers,
  names,
  reapExhaustedJobs,
  type StudyEvent,
  storedEvents,
  watchEvents,
} from '@vicinal/bus';
import { natsClientEnv, natsClientSecurity } from '@vicinal/config';
import { Command } from 'commander';
import { getManifest, gridProgress, type StudyManifest } from '../study/grid-state.js';
import { type CommandIo, processIo } from './io.js';
import { natsOption, parseStudyId } from './options.js';

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
    case 'job-failed': {
      const delivery = deliveryNote(ev);
      return `${ev.jobId}: failed${delivery ? ` (${delivery})` : ''}: ${ev.error}`;
    }
  }
}

/** Why a study is not on NATS, as `status` and `watch` both say it. */
export function noStudy(study: string, nats: string): string {
  return `no study "${study}" on ${nats}: submit it with vicinal submit or vicinal study`;
}

/**
 * `vicinal watch STUDY`: replays a study's progress events, then follows
 * them. A study that is not on NATS is an error with --no-follow; when
 * following, it may just not be submitted yet, so watch says so once and
 * waits for it. `stop` ends the following (tests; Ctrl-C otherwise).
 */
export function watchCommand(io: CommandIo = processIo, stop?: AbortSignal): Command {
  return new Command('watch')
    .description(
      "Print a study's progress events from the start, then follow new ones; a study " +
        'not submitted yet is waited for (with --no-follow it is an error). While ' +
        'following, jobs that ran out of deliveries with every worker killed are ' +
        'dead-lettered and reported, as vicinal study does.',
    )
    .argument('<study>', 'study id (as printed by `vicinal study`)', parseStudyId)
    .addOption(natsOption())
    .option('--no-follow', 'stop after the events stored so far')
    .action(async (study: string, opts: { nats: string; follow: boolean }) => {
      const bus = await connectReader(opts.nats, 'vicinal-watch');
      const interrupted = new AbortController();
      const interrupt = () => interrupted.abort();
      process.once('SIGINT', interrupt);
      const signal = stop
        ? AbortSignal.any([stop, interrupted.signal])
        : interrupted.signal;
      const done = new AbortController();
      // While following, watch also turns nats-server's announcements of jobs
      // out of deliveries (every worker killed) into dead letters and
      // failure events, as a waiting `vicinal study` does: after `vicinal
      // submit` no coordinator waits, and such a job would go unreported.
      const reaping = opts.follow
        ? reapExhaustedJobs(bus, {
            signal: AbortSignal.any([signal, done.signal]),
            follow: true,
            pollMs: 1000,
            onWarning: (message) => io.err(`warning: ${message}\n`),
          }).catch((err: Error) => {
            io.err(
              'warning: jobs whose workers were all killed are not dead-lettered by ' +
                `this watch: ${err.message}\n`,
            );
          })
        : null;
      try {
        let manifest = await getManifest(bus, study);
        if (!manifest && !opts.follow) throw new Error(noStudy(study, opts.nats));
        const grid = (found: StudyManifest) => {
          io.out(
            `${study}: ${found.jobs.length} job${found.jobs.length === 1 ? '' : 's'} in the grid\n`,
          );
          return new Set(found.jobs.map((j) => j.jobId));
        };
        let ids = manifest ? grid(manifest) : new Set<string>();
        if (!manifest) {
          io.err(
            `no study "${study}" on ${opts.nats} yet: waiting for it to be submitted ` +
              '(vicinal study or vicinal submit); Ctrl-C to stop\n',
          );
        }
        const finished = new Set<string>();
        const show = async (ev: StudyEvent) => {
          // A study submitted while watch waits: its grid comes before its
          // events. A job not in the grid: the grid was extended (submitted
          // again with more cells), so it is read again.
          if (!ids.has(ev.jobId)) {
            const latest = await getManifest(bus, study);
            if (latest && (!manifest || latest.jobs.some((j) => j.jobId === ev.jobId))) {
              manifest = latest;
              ids = grid(latest);
            }
          }
          let total = '';
          if (ev.type === 'job-finished' && manifest && ids.has(ev.jobId)) {
            finished.add(ev.jobId);
            total = ` (${finished.size}/${manifest.jobs.length} finished)`;
          }
          io.out(`${describeEvent(ev)}${total}\n`);
        };
        // Without --follow: exactly the events stored so far.
        if (!opts.follow) {
          for (const ev of await storedEvents(bus, study)) await show(ev);
          return;
        }
        for await (const ev of watchEvents(bus, study, signal)) await show(ev);
      } finally {
        process.removeListener('SIGINT', interrupt);
        done.abort();
        await reaping;
        await bus.close();
      }
    });
}

/** `vicinal status STUDY`: where every job of the study's grid stands, and the queue. */
export function statusCommand(): Command {
  return new Command('status')
    .description(
      "Progress over a study's grid: finished, started, queued and dead-lettered jobs.",
    )
    .argument('<study>', 'study id (the name in the experiment file)', parseStudyId)
    .addOption(natsOption())
    .option('--json', 'print JSON')
    .action(async (study: string, opts: { nats: string; json?: boolean }) => {
      const bus = await connectReader(opts.nats, 'vicinal-status');
      try {
        const manifest = await getManifest(bus, study);
        if (!manifest) throw new Error(noStudy(study, opts.nats));
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
          resubmittedAt: manifest.resubmittedAt ?? null,
          jobs: manifest.jobs.length,
          finished: count('finished'),
          started: count('running'),
          queued: count('queued'),
          deadLettered: count('dead-lettered'),
          // The students' queue as a whole: every study's jobs on this NATS.
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
            `${status.started} started, ${status.queued} queued` +
            (status.deadLettered
              ? `, ${status.deadLettered} dead-lettered (run the study again to retry)`
              : '') +
            ` (queue of all studies: ${status.queue.pending} waiting, ` +
            `${status.queue.inProgress} in progress)\n`,
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
          const where = j.worker && j.state !== 'dead-lettered' ? ` (${j.worker})` : '';
          const error = j.state === 'dead-lettered' ? `: ${j.lastError}` : '';
          const state = j.state === 'running' ? 'started' : j.state;
          process.stdout.write(`  [${state}] ${j.label}${figures}${error}${where}\n`);
        }
      } finally {
        await bus.close();
      }
    });
}

/**
 * A connection for reading a study's progress, with the NATS credentials and
 * TLS of VICINAL_NATS_* as the other commands use them (topology "bind" when
 * credentials are given, so a read-only user is enough).
 */
function connectReader(url: string, name: string) {
  const env = natsClientEnv(process.env);
  const natsTopology = env.natsTopology === 'bind' ? 'bind' : 'create';
  return connectBus(url, { name, ...natsClientSecurity({ ...env, natsTopology }) });
}
