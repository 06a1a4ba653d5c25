import type { ReliabilityBins, VicinalAnalysis } from '@vicinal/metrics';
import { z } from 'zod';
import { ARMS, datasetSchema, lossSchema, mixupSchema, recipeSchema } from './study.js';

/** A distillation job: one student arm, one seed. One JetStream message. */
export const distillJobSchema = z
  .object({
    kind: z.literal('distill'),
    studyId: z.string().min(1),
    jobId: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -'),
    arm: z.enum(ARMS),
    seed: z.number().int().min(0),
    dataset: datasetSchema,
    student: recipeSchema,
    loss: lossSchema,
    mixup: mixupSchema,
    /** Training pairs of the vicinal analysis of kd arms (0: none). */
    analysisPairs: z.number().int().min(0).max(1_000_000).default(2048),
    /** Object-store name of the teacher artifact; required for kd arms. */
    teacherModel: z.string().min(1).nullable(),
  })
  .strict();

export type DistillJob = z.infer<typeof distillJobSchema>;

/** What a finished distillation job stores as its result. */
export interface DistillResult {
  studyId: string;
  jobId: string;
  arm: DistillJob['arm'];
  seed: number;
  temperature: number | null;
  architecture: string;
  parameters: number;
  accuracy: number;
  ece: number;
  mce: number;
  overconfidence: number;
  nll: number;
  brier: number;
  /** ECE with equal-mass bins. */
  adaptiveEce: number;
  /** Reliability diagram on the test split (15 equal-width bins). */
  reliability: ReliabilityBins;
  /** Post-hoc temperature scaling, fitted on half the test split, judged on the rest. */
  temperatureScaling?: {
    temperature: number;
    nllBefore: number;
    nllAfter: number;
    eceBefore: number;
    eceAfter: number;
  };
  /** Vicinal analysis against the teacher (kd arms), on training images. */
  analysis: VicinalAnalysis | null;
  samplesPerSecond: number;
  trainSeconds: number;
  steps: number;
  samples: number;
  teacher: { address: string; model: string } | null;
  worker: string;
  backend: string;
  finishedAt: string;
}
