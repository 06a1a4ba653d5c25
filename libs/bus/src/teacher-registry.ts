import { hostname } from 'node:os';
import type { Bus } from './connection.js';
import { names } from './names.js';

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

/**
 * Live teachers serving `model` (all live teachers when model is omitted).
 *
 * The keys come from the bucket's stream info (the subjects it holds now),
 * not from the KV `keys()` iterator: that one runs an ordered consumer which
 * was seen to wait forever, with no timer left, when an entry expired by
 * TTL between the consumer's creation and its delivery (a crashed
 * replica's registration). Stream info and the gets are requests with
 * timeouts.
 */
export async function findTeachers(
  bus: Bus,
  model?: string,
): Promise<TeacherRegistration[]> {
  const found: TeacherRegistration[] = [];
  const prefix = `$KV.${names.teachersBucket}.`;
  const info = await bus.jsm.streams.info(`KV_${names.teachersBucket}`, {
    subjects_filter: `${prefix}teacher.*`,
  });
  const keys = Object.keys(info.state.subjects ?? {})
    .map((subject) => subject.slice(prefix.length))
    .sort();
  for (const key of keys) {
    const entry = await bus.teachers.get(key);
    if (entry?.operation !== 'PUT') continue;
    const reg = entry.json<TeacherRegistration>();
    if (!model || reg.model === model) found.push(reg);
  }
  return found.sort((a, b) => a.instance.localeCompare(b.instance));
}

/** The registry's name for the teacher server process `pid` on this host. */
export function teacherInstance(pid: number = process.pid): string {
  return `${hostname()}-${pid}`;
}

/**
 * Waits (polling) until a teacher for `model` is registered: any, or the
 * one named `instance` (a process this caller started, teacherInstance).
 */
export async function waitForTeacher(
  bus: Bus,
  model: string,
  timeoutMs: number,
  signal?: AbortSignal,
  instance?: string,
): Promise<TeacherRegistration> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await findTeachers(bus, model)).filter(
      (t) => instance === undefined || t.instance === instance,
    );
    if (found.length) return found[Math.floor(Math.random() * found.length)];
    if (Date.now() > deadline || signal?.aborted) {
      throw new Error(
        `no teacher serving model "${model}" registered within ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
