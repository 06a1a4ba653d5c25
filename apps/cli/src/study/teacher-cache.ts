import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Recipe } from '@vicinal/config';
import type { ReliabilityBins } from '@vicinal/metrics';
import type { HeldOutTemperature } from '@vicinal/training';

/** What is known about a trained teacher besides its weights. */
export interface TeacherRecord {
  key: string;
  architecture: string;
  parameters: number;
  recipe: Recipe;
  seed: number;
  trainSeconds: number;
  /** Training throughput (absent in records from before it was kept). */
  samplesPerSecond?: number;
  test: {
    accuracy: number;
    ece: number;
    mce: number;
    overconfidence: number;
    nll: number;
    brier: number;
    adaptiveEce: number;
    reliability: ReliabilityBins;
  };
  /** Post-hoc temperature scaling on the test split (fit and judged on halves). */
  temperatureScaling?: HeldOutTemperature;
}

/** The cache key of a teacher (defined with the grid in @vicinal/config). */
export { teacherKey } from '@vicinal/config';

/** A local cache of trained teachers: `<dir>/<key>.model` and `<key>.json`. */
export class TeacherCache {
  constructor(readonly dir: string) {}

  load(key: string): { record: TeacherRecord; artifact: Uint8Array } | null {
    const model = join(this.dir, `${key}.model`);
    const meta = join(this.dir, `${key}.json`);
    if (!existsSync(model) || !existsSync(meta)) return null;
    const record = JSON.parse(readFileSync(meta, 'utf8')) as TeacherRecord;
    return { record, artifact: new Uint8Array(readFileSync(model)) };
  }

  /** Writes atomically (temp file + rename), so an interrupted run leaves no half file. */
  save(record: TeacherRecord, artifact: Uint8Array): void {
    mkdirSync(this.dir, { recursive: true });
    const model = join(this.dir, `${record.key}.model`);
    writeFileSync(`${model}.tmp`, artifact);
    renameSync(`${model}.tmp`, model);
    const meta = join(this.dir, `${record.key}.json`);
    writeFileSync(`${meta}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(`${meta}.tmp`, meta);
  }
}
