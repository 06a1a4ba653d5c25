import { z } from 'zod';

/** The arms of the study: what the student is trained on. */
export const ARMS = ['baseline', 'mixup', 'kd', 'kd+mixup'] as const;
export type Arm = (typeof ARMS)[number];

/** Whether an arm mixes its inputs and whether it queries a teacher. */
export function armUses(arm: Arm): { mixup: boolean; teacher: boolean } {
  return { mixup: arm === 'mixup' || arm === 'kd+mixup', teacher: arm.startsWith('kd') };
}

const datasetOptionsSchema = z
  .object({
    labels: z.enum(['fine', 'coarse']).optional(),
    size: z.tuple([z.number().int().min(1), z.number().int().min(1)]).optional(),
    channels: z.union([z.literal(1), z.literal(3)]).optional(),
    testFraction: z.number().gt(0).lt(1).optional(),
    seed: z.number().int().min(0).optional(),
  })
  .strict();

/** Which data set, where its files are, and loader options. */
export const datasetSchema = z
  .object({
    name: z.enum(['fashion-mnist', 'cifar10', 'cifar100', 'image-folder']),
    /** Directory of the files; Fashion-MNIST defaults to Debian's location. */
    dir: z.string().min(1).optional(),
    options: datasetOptionsSchema.optional(),
  })
  .strict()
  .refine((d) => d.name === 'fashion-mnist' || d.dir !== undefined, {
    message: 'dir is required for every data set but fashion-mnist',
    path: ['dir'],
  });

/** How one network is trained: architecture and optimisation recipe. */
export const recipeSchema = z
  .object({
    architecture: z.string().min(1),
    epochs: z.number().int().min(1).max(1000),
    batchSize: z.number().int().min(1).max(4096),
    learningRate: z.number().positive().max(10),
    /** Number of training images used (a seeded subset); null = all. */
    trainImages: z.number().int().min(1).nullable(),
    /** Learning-rate schedule: constant, or linear decay to 0 over the run. */
    schedule: z.enum(['constant', 'linear']).default('linear'),
    /** Adam (default), or SGD with Nesterov momentum 0.9. */
    optimizer: z.enum(['adam', 'sgd-momentum']).optional(),
  })
  .strict();

export const lossSchema = z
  .object({
    /** Weight of the distillation term; 0 = no teacher. */
    beta: z.number().min(0).max(1).default(0.8),
    temperature: z.number().positive().max(100).default(2),
    variant: z.enum(['plain', 'std', 'zscore']).default('plain'),
  })
  .strict();

export const mixupSchema = z
  .object({
    alpha: z.number().positive().max(100).default(1),
    /** Probability that a sample is mixed ("partial mixup"). */
    p: z.number().min(0).max(1).default(1),
  })
  .strict();

/** A study's or a teacher's name: what study ids, job ids and NATS keys are made of. */
export const SLUG = /^[a-z0-9][a-z0-9-]*$/;
export const SLUG_RULE = 'lowercase letters, digits and dashes';
export const slugSchema = z.string().regex(SLUG, SLUG_RULE).max(40);

export const studySchema = z
  .object({
    name: slugSchema,
    seed: z.number().int().min(0),
    dataset: datasetSchema,
    /** The teacher's recipe; needed only when an arm distils (kd, kd+mixup). */
    teacher: recipeSchema.optional(),
    student: recipeSchema,
    arms: z.array(z.enum(ARMS)).min(1),
    loss: lossSchema.default({ beta: 0.8, temperature: 2, variant: 'plain' }),
    mixup: mixupSchema.default({ alpha: 1, p: 1 }),
    /** Training pairs for the vicinal analysis of each kd arm (0: skip it). */
    analysisPairs: z.number().int().min(0).max(1_000_000).default(2048),
  })
  .strict()
  .superRefine((study, ctx) => {
    const kd = study.arms.filter((a) => armUses(a).teacher);
    if (kd.length > 0 && !study.teacher) {
      ctx.addIssue({
        code: 'custom',
        path: ['teacher'],
        message: `arms ${kd.join(', ')} distil from a teacher: give its recipe`,
      });
    }
  });

export type DatasetSettings = z.infer<typeof datasetSchema>;
export type Recipe = z.infer<typeof recipeSchema>;
export type LossSettings = z.infer<typeof lossSchema>;
export type MixupSettings = z.infer<typeof mixupSchema>;
export type StudySettings = z.infer<typeof studySchema>;

/**
 * The default study: sized to finish in well under 20 minutes on two CPU cores
 * with the wasm backend. `full` trains on all 60k images for more epochs.
 */
export function defaultStudy(size: 'default' | 'full' = 'default'): StudySettings {
  const full = size === 'full';
  return studySchema.parse({
    name: full ? 'fashion-mnist-full' : 'fashion-mnist-default',
    seed: 1,
    dataset: { name: 'fashion-mnist' },
    teacher: {
      architecture: 'teacher-cnn',
      epochs: full ? 10 : 3,
      batchSize: 128,
      learningRate: 0.002,
      trainImages: full ? null : 30000,
    },
    student: {
      architecture: 'student-cnn',
      epochs: full ? 10 : 3,
      batchSize: 128,
      learningRate: 0.002,
      trainImages: full ? null : 20000,
    },
    arms: [...ARMS],
    loss: {},
    mixup: {},
  });
}
