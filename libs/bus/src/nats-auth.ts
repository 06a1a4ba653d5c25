import { names } from './names.js';

/** Who connects to NATS, and so which subjects it may use. */
export type BusRole = 'coordinator' | 'teacher' | 'student';

/** Subjects a role may publish to and subscribe to (nats-server wildcards). */
export interface SubjectPermissions {
  publish: string[];
  subscribe: string[];
}

/** One account of a secured nats-server. */
export interface NatsUser {
  user: string;
  password: string;
  role: BusRole;
}

const jsApi = '$JS.API';
const kvStream = (bucket: string) => `KV_${bucket}`;
const objStream = (store: string) => `OBJ_${store}`;

/**
 * What reading one JetStream stream takes: its info, single-message gets
 * (KV get, object meta) and the short-lived ordered consumers behind KV
 * `keys()` and object reads, with their flow-control replies.
 */
function readStream(stream: string): string[] {
  return [
    `${jsApi}.STREAM.INFO.${stream}`,
    `${jsApi}.STREAM.MSG.GET.${stream}`,
    `${jsApi}.CONSUMER.CREATE.${stream}.>`,
    `${jsApi}.CONSUMER.INFO.${stream}.>`,
    `${jsApi}.CONSUMER.DELETE.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/** Writing objects: chunks and meta, and purging the chunks an overwrite replaced. */
function writeObjects(store: string): string[] {
  return [`$O.${store}.>`, `${jsApi}.STREAM.PURGE.${objStream(store)}`];
}

/**
 * The subjects each role needs, read off a nats-server 2.9 protocol trace
 * of the services' bus calls (test/nats-auth.test.ts runs them). Replies always arrive on the
 * client's `_INBOX.>`; JetStream account info (`$JS.API.INFO`) is readable
 * by all.
 *
 * - teacher: reads its artifact from the object store, writes and deletes
 *   its own registration in the teachers bucket. It cannot touch jobs,
 *   results or events.
 * - student: pulls and acks jobs on the students' durable consumer,
 *   dead-letters poison jobs, publishes progress events, writes and reads
 *   results and job leases (a job already finished is not run again, one
 *   running elsewhere is not run twice), reads the teacher
 *   registry, reads and writes the object store (student
 *   artifacts and checkpoints). It cannot submit jobs nor register teachers.
 * - coordinator: everything (it creates the streams, buckets and consumer).
 */
export function rolePermissions(role: BusRole): SubjectPermissions {
  const teachers = kvStream(names.teachersBucket);
  const models = objStream(names.modelsStore);
  const common = [`${jsApi}.INFO`];
  switch (role) {
    case 'coordinator':
      return { publish: ['>'], subscribe: ['>'] };
    case 'teacher':
      return {
        publish: [
          ...common,
          `$KV.${names.teachersBucket}.teacher.>`,
          ...readStream(models),
        ],
        subscribe: ['_INBOX.>'],
      };
    case 'student': {
      const jobs = `${names.jobsStream}.${names.studentsConsumer}`;
      return {
        publish: [
          ...common,
          `${jsApi}.CONSUMER.INFO.${jobs}`,
          `${jsApi}.CONSUMER.MSG.NEXT.${jobs}`,
          `$JS.ACK.${jobs}.>`,
          names.deadLetterSubject,
          names.eventsSubject('>'),
          `$KV.${names.resultsBucket}.>`,
          ...readStream(kvStream(names.resultsBucket)),
          ...readStream(teachers),
          ...readStream(models),
          ...writeObjects(names.modelsStore),
        ],
        subscribe: ['_INBOX.>'],
      };
    }
  }
}

/** Reads a nats-server config value as a quoted string (no variable expansion). */
const quote = (s: string) => JSON.stringify(s);

/**
 * The `authorization` block of a nats-server config giving each user its
 * role's permissions (plain-text passwords: for tests and local use; real
 * deployments should store bcrypt hashes, which nats-server accepts in the
 * same field).
 */
export function authorizationBlock(users: readonly NatsUser[]): string {
  const list = (xs: string[]) => `[${xs.map(quote).join(', ')}]`;
  const entries = users.map((u) => {
    const p = rolePermissions(u.role);
    return (
      `    { user: ${quote(u.user)}, password: ${quote(u.password)}, permissions: {\n` +
      `      publish: { allow: ${list(p.publish)} },\n` +
      `      subscribe: { allow: ${list(p.subscribe)} } } }`
    );
  });
  return `authorization {\n  users: [\n${entries.join(',\n')}\n  ]\n}\n`;
}
