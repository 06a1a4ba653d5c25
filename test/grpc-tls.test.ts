import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import type { TeacherServer } from '@vicinal/teacher-server';
import {
  type ClientTlsOptions,
  InsecureTransportError,
  TeacherCallError,
  TeacherClient,
  TlsConfigError,
} from '@vicinal/wire';
import { createTestPki, type TestPki } from './support/certificates.js';
import { runEntryPoint } from './support/entry-point.js';
import { expectedMixedLogits, startTinyTeacher, TINY } from './support/tiny-teacher.js';

// gRPC TLS and mutual TLS between real clients and teacher servers over
// loopback, with certificates generated for this run by openssl.

/** Runs the teacher-server entry point with `env`; resolves when it exits. */
const runTeacherServer = (env: Record<string, string>) =>
  runEntryPoint('apps/teacher-server/src/main.ts', env);

const rows = 4;
const images = Uint8Array.from(
  { length: rows * TINY.h * TINY.w },
  (_, i) => (i * 37) % 256,
);
const partner = Int32Array.from([1, 0, 3, 2]);
const lambda = Float32Array.from([1, 0.25, 0.5, 0.9]);

/**
 * Connects with `tls` and asks for soft labels; the client is closed after.
 * Fail-fast connects report a refused handshake at once, with its reason.
 */
async function query(
  address: string,
  tls: ClientTlsOptions | undefined,
  failFast = true,
) {
  const client = await TeacherClient.connect(address, {
    tls,
    connectTimeoutMs: 3000,
    failFast,
  });
  try {
    return await client.softLabels(
      { mix: { images, shape: [rows, TINY.h, TINY.w, TINY.c], partner, lambda } },
      { deadlineMs: 5000 },
    );
  } finally {
    client.close();
  }
}

/** The error a refused client ends with: at connect or at its first call. */
async function refusal(
  address: string,
  tls: ClientTlsOptions | undefined,
  failFast = true,
) {
  const outcome = await query(address, tls, failFast).then(
    () => null,
    (err: unknown) => err,
  );
  assert.ok(outcome instanceof TeacherCallError, `expected a refusal, got ${outcome}`);
  return outcome;
}

function assertTeacherAnswer(logits: Float32Array) {
  const expected = expectedMixedLogits(images, partner, lambda);
  assert.equal(logits.length, expected.length);
  for (let i = 0; i < logits.length; i++) {
    assert.ok(Math.abs(logits[i] - expected[i]) < 1e-4, `logit ${i}`);
  }
}

describe('teacher gRPC over TLS', () => {
  let pki: TestPki;
  let tlsServer: TeacherServer;
  let mtlsServer: TeacherServer;
  before(async () => {
    pki = createTestPki();
    tlsServer = await startTinyTeacher({
      tls: { cert: pki.server.cert, key: pki.server.key },
    });
    mtlsServer = await startTinyTeacher({
      tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert },
    });
  });
  after(async () => {
    await tlsServer?.stop(0);
    await mtlsServer?.stop(0);
    pki?.remove();
  });

  test('a client trusting the CA gets soft labels over TLS', async () => {
    assert.equal(tlsServer.transport, 'tls');
    const result = await query(tlsServer.address, { ca: pki.ca.cert });
    assertTeacherAnswer(result.logits);
  });

  test('the server name can be checked against another name in the certificate', async () => {
    const result = await query(tlsServer.address, {
      ca: pki.ca.cert,
      serverName: 'localhost',
    });
    assertTeacherAnswer(result.logits);
    const err = await refusal(tlsServer.address, {
      ca: pki.ca.cert,
      serverName: 'teacher.elsewhere.test',
    });
    assert.equal(err.code, status.UNAVAILABLE);
    assert.match(
      err.message,
      /Host: teacher\.elsewhere\.test\. is not in the cert's altnames/,
    );
  });

  test('mutual TLS: a client with a certificate from the client CA gets soft labels', async () => {
    assert.equal(mtlsServer.transport, 'mutual-tls');
    const result = await query(mtlsServer.address, {
      ca: pki.ca.cert,
      cert: pki.client.cert,
      key: pki.client.key,
    });
    assertTeacherAnswer(result.logits);
  });

  test('mutual TLS: a client without a certificate is refused', async () => {
    const err = await refusal(mtlsServer.address, { ca: pki.ca.cert });
    assert.equal(err.code, status.UNAVAILABLE);
    assert.match(err.message, /alert certificate required/);
  });

  test('mutual TLS: a client certificate signed by another CA is refused', async () => {
    const err = await refusal(mtlsServer.address, {
      ca: pki.ca.cert,
      cert: pki.strangerClient.cert,
      key: pki.strangerClient.key,
    });
    assert.equal(err.code, status.UNAVAILABLE);
  });

  test('a client trusting a different CA refuses the server', async () => {
    for (const server of [tlsServer, mtlsServer]) {
      const err = await refusal(server.address, {
        ca: pki.otherCa.cert,
        cert: pki.client.cert,
        key: pki.client.key,
      });
      assert.equal(err.code, status.UNAVAILABLE);
      // Node's words for "this chain does not end at a CA I trust".
      assert.match(
        err.message,
        /unable to verify the first certificate|self-signed certificate in certificate chain/,
      );
    }
  });

  test('a plaintext client against a TLS server fails', async () => {
    const err = await refusal(tlsServer.address, undefined);
    assert.equal(err.code, status.UNAVAILABLE);
    assert.match(err.message, /not reachable \(Failed to connect\)/);
    // Without failFast the client keeps trying until its connect timeout.
    const patient = await refusal(tlsServer.address, undefined, false);
    assert.match(patient.message, /not reachable within 3000 ms \(Failed to connect\)/);
  });

  test('the servers keep serving good clients after the refusals', async () => {
    assertTeacherAnswer((await query(tlsServer.address, { ca: pki.ca.cert })).logits);
    const mtls = { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key };
    assertTeacherAnswer((await query(mtlsServer.address, mtls)).logits);
  });

  test('a key that does not match its certificate fails at start, naming the field', async () => {
    await assert.rejects(
      startTinyTeacher({ tls: { cert: pki.server.cert, key: pki.client.key } }),
      (err: Error) =>
        err instanceof TlsConfigError &&
        /^tls\.key: does not belong to/.test(err.message),
    );
    await assert.rejects(
      startTinyTeacher({
        tls: { cert: pki.server.cert, key: pki.server.key, requireClientCert: true },
      }),
      /tls\.requireClientCert: expected tls\.clientCa/,
    );
    await assert.rejects(
      TeacherClient.connect(tlsServer.address, { tls: { ca: 'not a certificate' } }),
      /tls\.ca: expected a PEM certificate/,
    );
  });
});

describe('plaintext only on loopback unless chosen', () => {
  test('a server without TLS refuses a non-loopback listen address', async () => {
    await assert.rejects(startTinyTeacher({ address: '0.0.0.0:0' }), (err: Error) => {
      assert.ok(err instanceof InsecureTransportError);
      assert.match(err.message, /refusing to listen on 0\.0\.0\.0:0 over plaintext gRPC/);
      assert.match(err.message, /VICINAL_TLS_CERT/);
      assert.match(err.message, /VICINAL_INSECURE=1/);
      return true;
    });
  });

  test('a client without TLS refuses to dial a non-loopback address', async () => {
    // Refused before any packet is sent: nothing listens there and nothing is dialled.
    await assert.rejects(
      TeacherClient.connect('192.0.2.10:50051'),
      /refusing to dial 192\.0\.2\.10:50051 over plaintext gRPC/,
    );
  });

  test('the teacher-server process refuses to start, before any work, saying why', async () => {
    // Nothing listens at the NATS URL: the refusal must come before connecting.
    const base = {
      VICINAL_NATS_URL: 'nats://127.0.0.1:1',
      VICINAL_TEACHER_MODEL: 'tiny-teacher',
      VICINAL_LOG_LEVEL: 'silent',
    };
    const [plaintext, missingKey, badSetting] = await Promise.all([
      runTeacherServer({ ...base, VICINAL_LISTEN: '0.0.0.0:50051' }),
      runTeacherServer({
        ...base,
        VICINAL_LISTEN: '0.0.0.0:50051',
        VICINAL_TLS_CERT: '/nonexistent/vicinal/server.crt',
        VICINAL_TLS_KEY: '/nonexistent/vicinal/server.key',
      }),
      runTeacherServer({ ...base, VICINAL_INFERENCE_THREAD: 'gpu' }),
    ]);
    assert.equal(plaintext.code, 2);
    assert.match(
      plaintext.stderr,
      /teacher-server refuses to start: refusing to listen on 0\.0\.0\.0:50051 over plaintext gRPC/,
    );
    assert.equal(missingKey.code, 2);
    assert.match(
      missingKey.stderr,
      /teacher-server refuses to start: VICINAL_TLS_CERT: cannot read "\/nonexistent\/vicinal\/server\.crt"/,
    );
    // A bad setting: one line naming the variable, no stack trace.
    assert.equal(badSetting.code, 2);
    assert.match(
      badSetting.stderr,
      /teacher-server refuses to start: invalid teacher-server settings:\s+inferenceThread \(VICINAL_INFERENCE_THREAD\): .*"worker"\|"main"/,
    );
    assert.doesNotMatch(badSetting.stderr, /\n\s+at /);
  });

  test('plaintext on loopback needs no flag', async () => {
    const server = await startTinyTeacher();
    try {
      assert.equal(server.transport, 'plaintext');
      assertTeacherAnswer((await query(server.address, undefined)).logits);
    } finally {
      await server.stop(0);
    }
  });
});
