import type { Bus } from './connection.js';

const key = (studyId: string, jobId: string) => `result.${studyId}.${jobId}`;

/** Stores a job's result; idempotent per job, so a redelivered job overwrites. */
export async function putResult(
  bus: Bus,
  studyId: string,
  jobId: string,
  result: unknown,
) {
  await bus.results.put(key(studyId, jobId), JSON.stringify(result));
}

/** The stored result of one job, or null. */
export async function getResult<T>(
  bus: Bus,
  studyId: string,
  jobId: string,
): Promise<T | null> {
  const entry = await bus.results.get(key(studyId, jobId));
  return entry && entry.operation === 'PUT' ? entry.json<T>() : null;
}

/** Every stored result of a study, by job id. */
export async function listResults<T>(bus: Bus, studyId: string): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  const prefix = `result.${studyId}.`;
  for await (const k of await bus.results.keys(`${prefix}*`)) {
    const entry = await bus.results.get(k);
    if (entry?.operation === 'PUT') found.set(k.slice(prefix.length), entry.json<T>());
  }
  return found;
}
