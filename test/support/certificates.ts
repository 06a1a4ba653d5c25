import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** One certificate and its private key, as PEM files and their bytes. */
export interface KeyPair {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/** A throwaway PKI: two independent CAs, a server and a client certificate. */
export interface TestPki {
  dir: string;
  /** The CA that signed `server` and `client`. */
  ca: KeyPair;
  /** Valid for 127.0.0.1, ::1 and localhost (subjectAltName). */
  server: KeyPair;
  /** A client certificate (extendedKeyUsage clientAuth). */
  client: KeyPair;
  /** A CA that signed nothing here: trusting only it must fail. */
  otherCa: KeyPair;
  /** A client certificate signed by `otherCa`. */
  strangerClient: KeyPair;
  remove(): void;
}

/** Finds the openssl command line tool, or fails saying how to install it. */
export function opensslBinary(): string {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter)];
  for (const dir of dirs) {
    const candidate = join(dir, 'openssl');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(
    'openssl not found (looked in /usr/bin and PATH): the TLS tests generate their ' +
      'certificates with it; install it with: apt-get install openssl',
  );
}

/**
 * Generates a fresh PKI into a new temporary directory with the openssl
 * command line tool (EC P-256 keys, 1 day validity). Nothing is reused
 * between runs.
 */
export function createTestPki(): TestPki {
  const openssl = opensslBinary();
  const dir = mkdtempSync(join(tmpdir(), 'vicinal-pki-'));
  const run = (args: string[]) =>
    execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const read = (name: string): KeyPair => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return {
      certFile,
      keyFile,
      cert: readFileSync(certFile),
      key: readFileSync(keyFile),
    };
  };
  const newKey = (name: string) =>
    run([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      `${name}.key`,
    ]);
  const selfSignedCa = (name: string, cn: string) => {
    newKey(name);
    run([
      'req',
      '-x509',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  };
  const signed = (name: string, cn: string, ca: string, extensions: string) => {
    newKey(name);
    run([
      'req',
      '-new',
      '-key',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    ]);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    run([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    ]);
  };
  try {
    selfSignedCa('ca', 'vicinal test CA');
    selfSignedCa('other-ca', 'unrelated test CA');
    signed(
      'server',
      'localhost',
      'ca',
      'basicConstraints=CA:FALSE\n' +
        'keyUsage=critical,digitalSignature\n' +
        'extendedKeyUsage=serverAuth\n' +
        'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n',
    );
    const clientExt =
      'basicConstraints=CA:FALSE\n' +
      'keyUsage=critical,digitalSignature\n' +
      'extendedKeyUsage=clientAuth\n';
    signed('client', 'student-1', 'ca', clientExt);
    signed('stranger', 'stranger', 'other-ca', clientExt);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl failed generating test certificates: ${stderr || err}`);
  }
  return {
    dir,
    ca: read('ca'),
    server: read('server'),
    client: read('client'),
    otherCa: read('other-ca'),
    strangerClient: read('stranger'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
