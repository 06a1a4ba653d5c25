import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { studentTrainerConfig, teacherServerConfig } from './services.js';
import {
  natsClientSecurity,
  SettingsFileError,
  serverTransportSecurity,
  teacherClientSecurity,
} from './transport.js';

const teacherEnv = { VICINAL_TEACHER_MODEL: 'm' };

test('without security settings: plaintext, no credentials, topology created', () => {
  const t = teacherServerConfig({}, teacherEnv);
  assert.equal(t.insecure, false);
  assert.equal(t.tlsCert, undefined);
  assert.equal(t.natsTopology, 'create');
  assert.deepEqual(serverTransportSecurity(t), { tls: undefined, insecure: false });
  assert.deepEqual(natsClientSecurity(t), {
    user: undefined,
    pass: undefined,
    token: undefined,
    tls: undefined,
    topology: 'create',
  });
  const s = studentTrainerConfig({}, {});
  assert.deepEqual(teacherClientSecurity(s), { tls: undefined, insecure: false });
  assert.equal(s.teacherWaitSeconds, 120);
});

test('VICINAL_INSECURE takes 1/true/0/false and refuses anything else', () => {
  assert.equal(
    teacherServerConfig({}, { ...teacherEnv, VICINAL_INSECURE: '1' }).insecure,
    true,
  );
  assert.equal(studentTrainerConfig({}, { VICINAL_INSECURE: 'true' }).insecure, true);
  assert.equal(studentTrainerConfig({}, { VICINAL_INSECURE: '0' }).insecure, false);
  assert.throws(() => studentTrainerConfig({}, { VICINAL_INSECURE: 'yes' }), /insecure/);
});

test('TLS and credential files that need a partner name the missing variable', () => {
  assert.throws(
    () => teacherServerConfig({}, { ...teacherEnv, VICINAL_TLS_CERT: '/c.pem' }),
    /tlsCert: VICINAL_TLS_CERT is set, so VICINAL_TLS_KEY is needed too/,
  );
  assert.throws(
    () => teacherServerConfig({}, { ...teacherEnv, VICINAL_TLS_CLIENT_CA: '/ca.pem' }),
    /VICINAL_TLS_CLIENT_CA is set, so VICINAL_TLS_CERT is needed too/,
  );
  assert.throws(
    () =>
      studentTrainerConfig(
        {},
        { VICINAL_TEACHER_TLS_CERT: '/c.pem', VICINAL_TEACHER_TLS_KEY: '/k.pem' },
      ),
    /VICINAL_TEACHER_TLS_CERT is set, so VICINAL_TEACHER_TLS_CA is needed too/,
  );
  assert.throws(
    () => studentTrainerConfig({}, { VICINAL_NATS_USER: 'student' }),
    /VICINAL_NATS_USER is set, so VICINAL_NATS_PASSWORD is needed too/,
  );
});

test('with NATS credentials a service binds to the existing topology unless told', () => {
  const env = { VICINAL_NATS_USER: 'student', VICINAL_NATS_PASSWORD: 'pw' };
  assert.equal(studentTrainerConfig({}, env).natsTopology, 'bind');
  assert.equal(
    studentTrainerConfig({}, { ...env, VICINAL_NATS_TOPOLOGY: 'create' }).natsTopology,
    'create',
  );
  assert.throws(
    () => studentTrainerConfig({}, { VICINAL_NATS_TOPOLOGY: 'build' }),
    /natsTopology/,
  );
});

test('the security files are read, and a missing one names its variable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vicinal-config-'));
  try {
    for (const name of ['ca.pem', 'cert.pem', 'key.pem']) {
      writeFileSync(join(dir, name), `${name} contents`);
    }
    const student = studentTrainerConfig(
      {},
      {
        VICINAL_TEACHER_TLS_CA: join(dir, 'ca.pem'),
        VICINAL_TEACHER_TLS_CERT: join(dir, 'cert.pem'),
        VICINAL_TEACHER_TLS_KEY: join(dir, 'key.pem'),
        VICINAL_TEACHER_TLS_SERVER_NAME: 'teacher.internal',
        VICINAL_NATS_USER: 'student',
        VICINAL_NATS_PASSWORD: 'pw',
        VICINAL_NATS_CA: join(dir, 'ca.pem'),
      },
    );
    const teacher = teacherClientSecurity(student);
    assert.equal(teacher.tls?.ca.toString(), 'ca.pem contents');
    assert.equal(teacher.tls?.cert?.toString(), 'cert.pem contents');
    assert.equal(teacher.tls?.key?.toString(), 'key.pem contents');
    assert.equal(teacher.tls?.serverName, 'teacher.internal');
    const nats = natsClientSecurity(student);
    assert.equal(nats.user, 'student');
    assert.equal(nats.pass, 'pw');
    assert.equal(nats.tls?.ca?.toString(), 'ca.pem contents');
    assert.equal(nats.topology, 'bind');

    const server = teacherServerConfig(
      {},
      {
        ...teacherEnv,
        VICINAL_TLS_CERT: join(dir, 'cert.pem'),
        VICINAL_TLS_KEY: join(dir, 'missing.pem'),
      },
    );
    assert.throws(
      () => serverTransportSecurity(server),
      (err: Error) =>
        err instanceof SettingsFileError &&
        err.message.startsWith(
          `VICINAL_TLS_KEY: cannot read "${join(dir, 'missing.pem')}"`,
        ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
