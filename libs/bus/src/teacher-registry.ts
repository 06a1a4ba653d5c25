import type { Bus } from './connection.js';

/** What a teacher server announces about itself. */
export interface TeacherRegistration {
  instance: string;
  address: string;
  model: string;
  version: string;
  architecture: string;
  backend: string;
  startedAt: string;
}

/**
 * Registers a teacher and refreshes the entry every `heartbeatMs`; the
 * bucket's TTL removes it when the heartbeats stop (a crashed server).
 * Returns a function that stops the heartbeat and deletes the entry.
 */
export async function registerTeacher(
  bus: Bus,
  entry: TeacherRegistration,
  heartbeatMs: number,
  onError: (err: Error) => void,
): Promise<() => Promise<void>> {
  const key = `teacher.${entry.instance}`;
  const payload = JSON.stringify(entry);
  await bus.teachers.put(key, payload);
  const timer = setInterval(() => {
    bus.teachers.put(key, payload).catch(onError);
  }, heartbeatMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await bus.teachers.delete(key).catch(onError);
  };
}

/** Live teachers serving `model` (all live teachers when model is omitted). */
export async function findTeachers(
  bus: Bus,
  model?: string,
): Promise<TeacherRegistration[]> {
  const found: TeacherRegistration[] = [];
  const keys = await bus.teachers.keys('teacher.*');
  for await (const key of keys) {
    const entry = await bus.teachers.get(key);
    if (entry?.operation !== 'PUT') continue;
    const reg = entry.json<TeacherRegistration>();
    if (!model || reg.model === model) found.push(reg);
  }
  return found.sort((a, b) => a.instance.localeCompare(b.instance));
}

/** Waits (polling) until a teacher for `model` is registered. */
export async function waitForTeacher(
  bus: Bus,
  model: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<TeacherRegistration> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await findTeachers(bus, model);
    if (found.length) return found[Math.floor(Math.random() * found.length)];
    if (Date.now() > deadline || signal?.aborted) {
      throw new Error(
        `no teacher serving model "${model}" registered within ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
