import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { defaultStudy, expandExperiment, studyAsExperiment } from '@vicinal/config';
import { packArtifact } from '@vicinal/models';
import { runStudy } from './run-study.js';
import {
  type TeacherCache,
  TeacherCacheError,
  type TeacherRecord,
} from './teacher-cache.js';
import { checkCachedTeachers, teacherCache } from './teachers.js';

const root = mkdtempSync(join(tmpdir(), 'vicinal-teacher-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

const settings = studyAsExperiment(defaultStudy('default'));
const plan = expandExperiment(settings);
const key = plan.teachers[0].key;

/** A cache directory holding a well-formed teacher under the plan's key. */
function cacheWithTeacher(name: string): { cacheDir: string; cache: TeacherCache } {
  const cacheDir = join(root, name);
  const cache = teacherCache(cacheDir);
  const record = { key, test: { accuracy: 0.9 } } as TeacherRecord;
  const artifact = packArtifact({
    modelJson: JSON.stringify({ modelTopology: {} }),
    weights: new Uint8Array(1000).map((_, i) => i % 251),
  });
  cache.save(record, artifact);
  return { cacheDir, cache };
}

/** What loading the cached teacher throws, checked for what every such error says. */
function loadError(cache: TeacherCache, file: string): string {
  let message = '';
  assert.throws(
    () => cache.load(key),
    (err: Error) => {
      assert.ok(err instanceof TeacherCacheError);
      message = err.message;
      return true;
    },
  );
  assert.ok(message.startsWith(`cached teacher ${file} is unreadable or corrupt: `));
  assert.match(message, /Run again with --retrain to train the teacher again/);
  // Printable text only: no raw bytes of the file.
  assert.match(message, /^[\x20-\x7e]*$/);
  return message;
}

test('a well-formed cached teacher loads', () => {
  const { cache } = cacheWithTeacher('good');
  assert.equal(cache.load(key)?.record.test.accuracy, 0.9);
  assert.equal(cache.load('other-key'), null);
});

test('a truncated .model names the file and says --retrain', () => {
  const { cache } = cacheWithTeacher('truncated');
  const file = cache.modelFile(key);
  writeFileSync(file, readFileSync(file).subarray(0, 500));
  assert.match(loadError(cache, file), /truncated, expected \d+ bytes .*got 500/);
});

test('a .model of random bytes shows its magic bytes in hex', () => {
  const { cache } = cacheWithTeacher('random');
  const file = cache.modelFile(key);
  writeFileSync(file, Uint8Array.from([0x45, 0xf3, 0x4c, 0x9a, 1, 2, 3, 4, 5, 6]));
  assert.match(loadError(cache, file), /got bytes 45 f3 4c 9a \(hex\)/);
});

test('a truncated or foreign .json names the file and says --retrain', () => {
  const { cache } = cacheWithTeacher('json');
  const file = cache.recordFile(key);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.slice(0, text.length - 10));
  assert.match(loadError(cache, file), /JSON/);
  writeFileSync(file, JSON.stringify({ key: 'someone-else', test: { accuracy: 1 } }));
  assert.match(loadError(cache, file), new RegExp(`not the record of teacher ${key}`));
});

test('a corrupt cached teacher stops a study before it starts anything', async () => {
  const { cacheDir, cache } = cacheWithTeacher('study');
  writeFileSync(cache.modelFile(key), 'garbage');
  assert.throws(
    () => checkCachedTeachers(plan.teachers, cacheDir, false),
    TeacherCacheError,
  );
  // --retrain does not read the cache.
  checkCachedTeachers(plan.teachers, cacheDir, true);
  const out = join(root, 'study-out');
  const printed: string[] = [];
  await assert.rejects(
    runStudy({
      settings,
      out,
      workers: 1,
      retrain: false,
      cacheDir,
      backend: 'cpu',
      print: (line) => printed.push(line),
      signal: AbortSignal.timeout(60_000),
    }),
    TeacherCacheError,
  );
  assert.deepEqual(printed, [], 'nothing was started, so nothing was said');
  assert.equal(existsSync(out), false, 'the output directory was not created');
});
