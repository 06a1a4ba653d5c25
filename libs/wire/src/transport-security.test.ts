import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addressHost,
  checkPlaintextAllowed,
  InsecureTransportError,
  isLoopbackAddress,
} from './transport-security.js';

test('addressHost takes the host out of the gRPC address forms', () => {
  assert.equal(addressHost('127.0.0.1:50051'), '127.0.0.1');
  assert.equal(addressHost('localhost:1'), 'localhost');
  assert.equal(addressHost('[::1]:50051'), '::1');
  assert.equal(addressHost('::1'), '::1');
  assert.equal(addressHost('dns:///teacher.svc:50051'), 'teacher.svc');
  assert.equal(addressHost('ipv4:10.0.0.3:7'), '10.0.0.3');
});

test('only loopback addresses and unix sockets count as loopback', () => {
  for (const a of [
    '127.0.0.1:0',
    '127.10.20.30:1',
    'localhost:50051',
    'LOCALHOST:1',
    '[::1]:50051',
    '[::ffff:127.0.0.1]:9',
    'unix:/tmp/teacher.sock',
  ]) {
    assert.equal(isLoopbackAddress(a), true, a);
  }
  for (const a of [
    '0.0.0.0:50051',
    '[::]:50051',
    '10.0.0.3:50051',
    '128.0.0.1:1',
    'teacher:50051',
    'localhost.example.com:1',
    '127.0.0.1.example.com:1',
  ]) {
    assert.equal(isLoopbackAddress(a), false, a);
  }
});

test('plaintext off loopback needs the explicit opt-in', () => {
  assert.doesNotThrow(() => checkPlaintextAllowed('127.0.0.1:0', false, 'listen on'));
  assert.doesNotThrow(() => checkPlaintextAllowed('0.0.0.0:50051', true, 'listen on'));
  assert.throws(
    () => checkPlaintextAllowed('0.0.0.0:50051', false, 'listen on'),
    (err: Error) =>
      err instanceof InsecureTransportError &&
      /refusing to listen on 0\.0\.0\.0:50051 over plaintext gRPC/.test(err.message) &&
      /VICINAL_TLS_CERT, VICINAL_TLS_KEY/.test(err.message) &&
      /VICINAL_INSECURE=1/.test(err.message),
  );
  assert.throws(
    () => checkPlaintextAllowed('10.1.2.3:50051', false, 'dial'),
    /refusing to dial 10\.1\.2\.3:50051 .*VICINAL_TEACHER_TLS_CA/,
  );
});
