import { type Bus, findTeachers } from '@vicinal/bus';
import type { ClientTransportSecurity } from '@vicinal/config';
import type { Logger } from '@vicinal/telemetry';
import { FailoverTeacher, RemoteTeacher, type TeacherResolver } from '@vicinal/training';

export interface TeacherConnectionOptions {
  /** Longest a query (or the first connection) waits for a live teacher. */
  waitSeconds: number;
  /** TLS towards the teachers, and the plaintext opt-in. */
  security: ClientTransportSecurity;
  /** Spreads students over replicas and de-synchronises their retries. */
  worker: string;
  signal: AbortSignal;
  log: Logger;
}

/** FNV-1a: a small stable hash of the worker name. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Resolves teachers of `model` from the registry: live entries only (a
 * stopped teacher deleted its entry; a crashed one expires by TTL), minus
 * the addresses that just failed. Each worker prefers a different replica.
 */
export function registryResolver(
  bus: Bus,
  model: string,
  worker: string,
): TeacherResolver {
  const preference = hash(worker);
  return async (exclude) => {
    const live = (await findTeachers(bus, model)).filter((t) => !exclude.has(t.address));
    return live.length ? live[preference % live.length].address : null;
  };
}

/**
 * The student's teacher: a FailoverTeacher over the registry, so a teacher
 * replica dying mid-run costs a reconnect, not the job.
 */
export function openTeacher(
  bus: Bus,
  model: string,
  options: TeacherConnectionOptions,
): Promise<FailoverTeacher> {
  return FailoverTeacher.open({
    model,
    resolve: registryResolver(bus, model, options.worker),
    connect: (address) =>
      RemoteTeacher.connect(address, model, {
        ...options.security,
        // A dead address fails at once; the failover moves on to the next.
        failFast: true,
        connectTimeoutMs: 5000,
        onForm: (form, why) =>
          options.log?.info(
            { model, address, form },
            form === 'rows'
              ? `teacher queries send row numbers: ${why}`
              : `teacher queries send images: ${why}`,
          ),
      }),
    deadlineMs: options.waitSeconds * 1000,
    jitterSeed: hash(options.worker),
    signal: options.signal,
    log: options.log,
  });
}
