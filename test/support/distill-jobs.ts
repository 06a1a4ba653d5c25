import type { Arm, DistillJob } from '@vicinal/config';

/**
 * A small distillation job for the end-to-end tests: student-cnn on a seeded
 * 1024-image subset of Fashion-MNIST, batch 64, the blended loss at T = 2.
 */
export function smallDistillJob(job: {
  studyId: string;
  jobId: string;
  arm: Arm;
  seed: number;
  epochs: number;
  analysisPairs?: number;
  teacherModel?: string | null;
  dataset?: DistillJob['dataset'];
}): DistillJob {
  return {
    kind: 'distill',
    studyId: job.studyId,
    jobId: job.jobId,
    arm: job.arm,
    seed: job.seed,
    dataset: job.dataset ?? { name: 'fashion-mnist' },
    student: {
      architecture: 'student-cnn',
      epochs: job.epochs,
      batchSize: 64,
      learningRate: 0.002,
      trainImages: 1024,
      schedule: 'linear',
    },
    loss: { beta: 0.8, temperature: 2, variant: 'plain' },
    mixup: { alpha: 1, p: 1 },
    analysisPairs: job.analysisPairs ?? 0,
    teacherModel: job.teacherModel ?? null,
  };
}
