import { resolve } from 'node:path';
import { initBackend } from '@vicinal/backend';
import { expandExperiment } from '@vicinal/config';
import { Command } from 'commander';
import {
  connectCoordinator,
  loadDatasets,
  submitExperiment,
} from '../study/run-study.js';
import { checkCachedTeachers } from '../study/teachers.js';
import { backendOption, checkOutputDirectory, natsOption } from './options.js';
import { loadStudyFile } from './study.js';

/**
 * `vicinal submit CONFIG --nats URL`: puts a grid on an existing NATS and
 * returns. Jobs with a result in the results bucket are skipped; the teachers
 * the others need are taken from the local cache or from NATS (published there
 * by whoever trained them), else trained here, and published to the object
 * store; teacher servers and student trainers elsewhere do the rest.
 */
export function submitCommand(): Command {
  return new Command('submit')
    .description(
      'Put an experiment grid on an existing NATS: publish its teachers, store the grid ' +
        'for `vicinal status`, queue one JetStream job per unfinished cell, and return.',
    )
    .argument('<config>', 'experiment grid or single study (YAML)')
    .addOption(natsOption())
    .option('--cache-dir <dir>', 'where trained teachers are cached', '.vicinal/cache')
    .option('--retrain', 'train the teachers even if cached or published ones exist')
    .option(
      '--no-train',
      'fail instead of training a teacher that is neither cached nor published',
    )
    .addOption(backendOption('TensorFlow.js backend (for training teachers)'))
    .action(async (config: string, opts) => {
      const settings = loadStudyFile(config);
      const plan = expandExperiment(settings);
      const cacheDir = resolve(opts.cacheDir);
      checkOutputDirectory(cacheDir, '--cache-dir');
      checkCachedTeachers(plan.teachers, cacheDir, Boolean(opts.retrain));
      const print = (line: string) => process.stdout.write(`${line}\n`);
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort(new Error('interrupted')));
      await initBackend(opts.backend);
      const datasets = await loadDatasets(settings);
      const bus = await connectCoordinator(opts.nats);
      try {
        const { pending, teachers } = await submitExperiment({
          bus,
          settings,
          plan,
          datasets,
          out: null,
          cacheDir,
          retrain: Boolean(opts.retrain),
          train: opts.train !== false,
          print,
          signal: controller.signal,
        });
        const needed = teachers.filter((t) =>
          pending.some((j) => j.job.teacherModel === t.plan.model),
        );
        if (needed.length > 0) {
          print(
            `teacher servers must serve (VICINAL_TEACHER_MODEL): ${needed
              .map((t) => t.plan.model)
              .join(', ')}`,
          );
        }
        print(
          `follow with: vicinal status ${plan.studyId} --nats ${opts.nats}; collect the ` +
            `report with: vicinal study ${config} --nats ${opts.nats} --no-local-services`,
        );
      } finally {
        await bus.close();
      }
    });
}
