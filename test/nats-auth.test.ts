import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  type Bus,
  type BusTlsOptions,
  connectBus,
  consumeJobs,
  fetchTeacher,
  findTeachers,
  getArtifact,
  getResult,
  type NatsServerHandle,
  type NatsUser,
  names,
  publishEvent,
  publishTeacher,
  putArtifact,
  putResult,
  registerTeacher,
  startNatsServer,
  submitJob,
} from '@vicinal/bus';
import { createLogger } from '@vicinal/telemetry';
import { z } from 'zod';
import { createTestPki, type TestPki } from './support/certificates.js';

// Per-role NATS accounts on a real nats-server 2.9 over loopback: who may
// connect, and which subjects each role may use.

const log = createLogger('nats-auth-test', process.env.VICINAL_LOG_LEVEL ?? 'silent');
const users: NatsUser[] = [
  { user: 'coordinator', password: 'coordinator-secret', role: 'coordinator' },
  { user: 'teacher', password: 'teacher-secret', role: 'teacher' },
  { user: 'student', password: 'student-secret', role: 'student' },
];
const jobSchema = z.object({ n: z.number() }).strict();
const registration = {
  instance: 'teacher-a',
  address: '127.0.0.1:1',
  model: 'secured-teacher',
  version: '1',
  architecture: 'tiny',
  backend: 'cpu',
  startedAt: new Date(0).toISOString(),
};

/** The publish/subscribe violations nats-server logged, as "user subject". */
function violations(server: NatsServerHandle): string[] {
  const found: string[] = [];
  for (const m of server
    .log()
    .matchAll(/(Publish|Subscription) Violation - User "([^"]+)", Subject "([^"]+)"/g)) {
    found.push(`${m[2]} ${m[1].toLowerCase()} ${m[3]}`);
  }
  return found;
}

describe('NATS with per-role credentials', () => {
  let server: NatsServerHandle;
  let coordinator: Bus;
  before(async () => {
    server = await startNatsServer({ users });
    coordinator = await connectBus(server.url, {
      name: 'coordinator',
      user: 'coordinator',
      pass: 'coordinator-secret',
    });
  });
  after(async () => {
    await coordinator?.close();
    await server?.stop();
  });

  test('vicinal status connects with VICINAL_NATS_USER and VICINAL_NATS_PASSWORD', () => {
    const status = (env: Record<string, string>) =>
      spawnSync(
        process.execPath,
        ['apps/cli/bin/vicinal.mjs', 'status', 'no-such-study', '--nats', server.url],
        { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 },
      );
    const signedIn = status({
      VICINAL_NATS_USER: 'coordinator',
      VICINAL_NATS_PASSWORD: 'coordinator-secret',
    });
    // Connected: the study is not there (exit 1 naming it), no refusal.
    assert.equal(signedIn.status, 1, signedIn.stderr);
    assert.match(signedIn.stderr, /no-such-study/);
    assert.doesNotMatch(signedIn.stderr, /Authorization/i);
    const anonymous = status({});
    assert.equal(anonymous.status, 1);
    assert.match(anonymous.stderr, /Authorization Violation/i);
  });

  test('a client without credentials or with a wrong password is refused', async () => {
    await assert.rejects(connectBus(server.url, { name: 'anonymous' }), (err: Error) => {
      assert.match(err.message, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
      assert.match(err.message, /Authorization Violation/);
      return true;
    });
    await assert.rejects(
      connectBus(server.url, { name: 'guesser', user: 'student', pass: 'wrong' }),
      /as user "student": Authorization Violation/,
    );
    await assert.rejects(
      connectBus(server.url, { name: 'half', user: 'student' }),
      /expected both user and password, got only a user/,
    );
  });

  test('a teacher-role user cannot publish a job: the publish rejects with the violation', async () => {
    const teacher = await connectBus(server.url, {
      name: 'teacher',
      user: 'teacher',
      pass: 'teacher-secret',
      topology: 'bind',
    });
    try {
      await assert.rejects(
        submitJob(teacher, names.distillSubject, 'forged-job', { n: 1 }),
        /Permissions Violation for Publish to "vicinal\.jobs\.distill"/,
      );
      await assert.rejects(
        putResult(teacher, 'study', 'forged', { accuracy: 1 }),
        /Permissions Violation for Publish to "\$KV\.vicinal_results\.result\.study\.forged"/,
      );
      // The connection survives a refused publish.
      assert.equal(teacher.nc.isClosed(), false);
    } finally {
      await teacher.close();
    }
    const info = await coordinator.jsm.streams.info(names.jobsStream);
    assert.equal(info.state.messages, 0, 'no forged job reached the stream');
  });

  test('a teacher-role user fetches its artifact and registers, with no violation', async () => {
    const artifact = new Uint8Array(3_000_000).map((_, i) => i % 253);
    await publishTeacher(
      coordinator,
      {
        name: 'secured-teacher',
        version: '1',
        architecture: 'tiny',
        parameters: 1,
        inputShape: [2, 2, 1],
        numClasses: 2,
        classNames: ['a', 'b'],
        mean: [0.5],
        std: [0.25],
        dataset: 'none',
      },
      artifact,
    );
    const before = violations(server).length;
    const teacher = await connectBus(server.url, {
      name: 'teacher',
      user: 'teacher',
      pass: 'teacher-secret',
      topology: 'bind',
    });
    try {
      const fetched = await fetchTeacher(teacher, 'secured-teacher');
      assert.deepEqual(fetched.artifact, artifact);
      const deregister = await registerTeacher(teacher, registration, 60_000, (err) => {
        throw err;
      });
      assert.deepEqual(await findTeachers(coordinator, 'secured-teacher'), [
        registration,
      ]);
      await deregister();
      assert.deepEqual(await findTeachers(coordinator, 'secured-teacher'), []);
    } finally {
      await teacher.close();
    }
    assert.deepEqual(violations(server).slice(before), []);
  });

  test('a student-role user pulls a job, stores a result and publishes an event', async () => {
    await submitJob(coordinator, names.distillSubject, 'poison', { wrong: true });
    await submitJob(coordinator, names.distillSubject, 'job-1', { n: 7 });
    const student = await connectBus(server.url, {
      name: 'student',
      user: 'student',
      pass: 'student-secret',
      topology: 'bind',
    });
    const before = violations(server).length;
    try {
      const seen: number[] = [];
      let readBack: Uint8Array | null = null;
      let storedBack: unknown = null;
      const handled = await consumeJobs(student, {
        schema: jobSchema,
        log,
        pollMs: 1000,
        signal: AbortSignal.timeout(60_000), // bounds a hang; maxJobs ends the run
        maxJobs: 1,
        handler: async (job) => {
          seen.push(job.n);
          await findTeachers(student, 'secured-teacher');
          await putArtifact(student, 'student-job-1', new Uint8Array([1, 2, 3]));
          readBack = await getArtifact(student, 'student-job-1');
          await putResult(student, 'study', 'job-1', { accuracy: 0.5 });
          // A worker reads results to skip jobs that are already finished.
          storedBack = await getResult(student, 'study', 'job-1');
          await publishEvent(student, 'study', {
            type: 'job-finished',
            jobId: 'job-1',
            accuracy: 0.5,
            ece: 0.1,
          });
        },
      });
      assert.equal(handled, 1);
      assert.deepEqual(seen, [7]);
      assert.deepEqual([...(readBack ?? [])], [1, 2, 3]);
      assert.deepEqual(storedBack, { accuracy: 0.5 });
      // ...but it cannot submit work nor pose as a teacher.
      await assert.rejects(
        submitJob(student, names.distillSubject, 'forged', { n: 1 }),
        /Permissions Violation for Publish/,
      );
      await assert.rejects(
        student.teachers.put('teacher.fake', JSON.stringify(registration)),
        /Permissions Violation for Publish to "\$KV\.vicinal_teachers\.teacher\.fake"/,
      );
    } finally {
      await student.close();
    }
    assert.deepEqual(violations(server).slice(before), [
      'student publish vicinal.jobs.distill',
      'student publish $KV.vicinal_teachers.teacher.fake',
    ]);
    assert.deepEqual(await getResult(coordinator, 'study', 'job-1'), { accuracy: 0.5 });
    const event = await coordinator.jsm.streams.getMessage(names.eventsStream, {
      last_by_subj: names.eventsSubject('study'),
    });
    assert.equal(event?.json<{ type: string }>().type, 'job-finished');
    const dead = await coordinator.jsm.streams.getMessage(names.jobsStream, {
      last_by_subj: names.deadLetterSubject,
    });
    assert.deepEqual(
      dead?.json(),
      { wrong: true },
      'the student dead-lettered the poison job',
    );
  });
});

describe('NATS over TLS with client certificates', () => {
  let pki: TestPki;
  let server: NatsServerHandle;
  before(async () => {
    pki = createTestPki();
    server = await startNatsServer({
      users: users.filter((u) => u.role !== 'teacher'),
      tls: {
        cert: pki.server.cert.toString(),
        key: pki.server.key.toString(),
        ca: pki.ca.cert.toString(),
      },
    });
  });
  after(async () => {
    await server?.stop();
    pki?.remove();
  });

  const student = {
    user: 'student',
    pass: 'student-secret',
    topology: 'bind' as const,
    // A client certificate refused after a TLS 1.3 handshake ends in a closed
    // socket, which the client reports when this connect timeout expires.
    connectTimeoutMs: 3000,
  };

  test('clients trusting the CA and holding a client certificate connect and work', async () => {
    const tls = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
    const coordinator = await connectBus(server.url, {
      name: 'tls-coordinator',
      user: 'coordinator',
      pass: 'coordinator-secret',
      tls,
    });
    const worker = await connectBus(server.url, { name: 'tls-student', ...student, tls });
    try {
      assert.equal(worker.nc.info?.tls_required, true);
      await publishEvent(worker, 'tls', { type: 'job-failed', jobId: 'j', error: 'e' });
      const event = await coordinator.jsm.streams.getMessage(names.eventsStream, {
        last_by_subj: names.eventsSubject('tls'),
      });
      assert.deepEqual(event?.json(), { type: 'job-failed', jobId: 'j', error: 'e' });
    } finally {
      await worker.close();
      await coordinator.close();
    }
  });

  test('a plaintext client, one without a client certificate, or one trusting another CA is refused', async () => {
    const refused = async (name: string, why: RegExp, tls?: BusTlsOptions) => {
      await assert.rejects(
        connectBus(server.url, { name, ...student, tls }),
        (err: Error) => {
          assert.match(
            err.message,
            /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/,
          );
          assert.match(err.message, why, name);
          return true;
        },
      );
    };
    // Without TLS options the client still upgrades (the server requires TLS)
    // but trusts only the system's CAs, which did not sign the server.
    await refused('plaintext', /unable to verify the first certificate/);
    await refused('server from another CA', /unable to verify the first certificate/, {
      ca: pki.otherCa.cert,
      cert: pki.client.cert,
      key: pki.client.key,
    });
    await refused('no client certificate', /timeout/, { ca: pki.ca.cert });
    await refused('client certificate from another CA', /timeout/, {
      ca: pki.ca.cert,
      cert: pki.strangerClient.cert,
      key: pki.strangerClient.key,
    });
    // The server names why it closed the two connections that timed out.
    assert.match(
      server.log(),
      /TLS handshake error: tls: client didn't provide a certificate/,
    );
    assert.match(
      server.log(),
      /TLS handshake error: .*certificate signed by unknown authority/,
    );
  });
});
