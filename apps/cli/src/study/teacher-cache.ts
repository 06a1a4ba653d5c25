import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Recipe } from '@vicinal/config';
import type { ReliabilityBins } from '@vicinal/metrics';
import { unpackArtifact } from '@vicinal/models';
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

/** A cached teacher that cannot be used: names the file and how to recover. */
export class TeacherCacheError extends Error {
  override readonly name = 'TeacherCacheError';
}

/** A local cache of trained teachers: `<dir>/<key>.model` and `<key>.json`. */
export class TeacherCache {
  constructor(readonly dir: string) {}

  modelFile(key: string): string {
    return join(this.dir, `${key}.model`);
  }

  recordFile(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /**
   * The cached teacher, or null when it is not cached. Both files are read
   * and checked (the record's JSON and key, the artifact's framing and
   * weights checksum); one that fails is a TeacherCacheError naming it.
   */
  load(key: string): { record: TeacherRecord; artifact: Uint8Array } | null {
    const model = this.modelFile(key);
    const meta = this.recordFile(key);
    if (!existsSync(model) || !existsSync(meta)) return null;
    const record = this.check(meta, () => {
      const parsed = JSON.parse(readFileSync(meta, 'utf8')) as TeacherRecord;
      if (parsed?.key !== key || typeof parsed.test?.accuracy !== 'number') {
        throw new Error(`not the record of teacher ${key}`);
      }
      return parsed;
    });
    const artifact = this.check(model, () => {
      const bytes = new Uint8Array(readFileSync(model));
      unpackArtifact(bytes);
      return bytes;
    });
    return { record, artifact };
  }

  /** Runs `read`; what it throws becomes corrupt(file, ...). */
  check<T>(file: string, read: () => T): T {
    try {
      return read();
    } catch (err) {
      throw this.corrupt(file, err);
    }
  }

  /** The error for a cache file that cannot be used, and how to recover. */
  corrupt(file: string, err: unknown): TeacherCacheError {
    const reason = err instanceof Error ? err.message : String(err);
    return new TeacherCacheError(
      `cached teacher ${file} is unreadable or corrupt: ${reason}. Run again with ` +
        '--retrain to train the teacher again (or delete the file to train only ' +
        'this one again)',
    );
  }

  /** Writes atomically (temp file + rename), so an interrupted run leaves no half file. */
  save(record: TeacherRecord, artifact: Uint8Array): void {
    mkdirSync(this.dir, { recursive: true });
    const model = this.modelFile(record.key);
    writeFileSync(`${model}.tmp`, artifact);
    renameSync(`${model}.tmp`, model);
    const meta = this.recordFile(record.key);
    writeFileSync(`${meta}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
    renameSync(`${meta}.tmp`, meta);
  }
}
