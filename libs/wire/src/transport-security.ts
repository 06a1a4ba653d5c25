import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';

/** PEM text or bytes (a file's contents). */
export type Pem = string | Uint8Array;

/** TLS of a teacher server; with `clientCa` it also verifies its clients (mTLS). */
export interface ServerTlsOptions {
  /** The server's certificate chain, leaf first. */
  cert: Pem;
  /** The private key of the leaf certificate. */
  key: Pem;
  /** CA that client certificates must chain to. */
  clientCa?: Pem;
  /**
   * Refuse clients without a certificate signed by `clientCa` (default true
   * when `clientCa` is given; false turns client verification off).
   */
  requireClientCert?: boolean;
}

/** TLS of a teacher client. */
export interface ClientTlsOptions {
  /** CA that the server certificate must chain to. */
  ca: Pem;
  /** Client certificate and its key, for servers that require one. */
  cert?: Pem;
  key?: Pem;
  /** Name to verify the server certificate against, when not the dialled host. */
  serverName?: string;
}

/** Plaintext gRPC was about to be used on a non-loopback address without opt-in. */
export class InsecureTransportError extends Error {
  override readonly name = 'InsecureTransportError';
}

/** A certificate or key that cannot serve: unreadable, expired, mismatched. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

const LOOPBACK_V4 = /^127(\.\d{1,3}){3}$/;

/** The host part of a gRPC address: "host:port", "[v6]:port", "dns:host:port". */
export function addressHost(address: string): string {
  let rest = address.replace(/^(dns|ipv4|ipv6):(\/\/[^/]*\/)?/, '');
  if (rest.startsWith('[')) return rest.slice(1, rest.indexOf(']'));
  const colons = rest.split(':').length - 1;
  if (colons === 1) rest = rest.slice(0, rest.lastIndexOf(':'));
  return rest;
}

/**
 * True when traffic to or from `address` cannot leave the machine: a
 * loopback IP (127.0.0.0/8, ::1), "localhost", or a unix socket.
 */
export function isLoopbackAddress(address: string): boolean {
  if (address.startsWith('unix:')) return true;
  const host = addressHost(address).toLowerCase();
  return (
    host === 'localhost' ||
    LOOPBACK_V4.test(host) ||
    host === '::1' ||
    host === '0:0:0:0:0:0:0:1' ||
    LOOPBACK_V4.test(host.replace(/^::ffff:/, ''))
  );
}

/**
 * The plaintext rule: without TLS, a server may listen and a client may
 * dial only on loopback, unless `insecure` says plaintext is wanted.
 * Throws an InsecureTransportError naming the address and both ways out.
 */
export function checkPlaintextAllowed(
  address: string,
  insecure: boolean,
  action: 'listen on' | 'dial',
): void {
  if (insecure || isLoopbackAddress(address)) return;
  const files =
    action === 'listen on'
      ? 'a certificate and key (VICINAL_TLS_CERT, VICINAL_TLS_KEY)'
      : 'the CA of the teacher certificates (VICINAL_TEACHER_TLS_CA)';
  throw new InsecureTransportError(
    `refusing to ${action} ${address} over plaintext gRPC: it is not a loopback ` +
      `address. Give ${files} for TLS, or set VICINAL_INSECURE=1 ` +
      '(insecure: true) to use plaintext on purpose.',
  );
}

const bytes = (pem: Pem) =>
  typeof pem === 'string' ? Buffer.from(pem) : Buffer.from(pem);

/** Parses a certificate and checks it is in its validity period. */
function parseCertificate(pem: Pem, field: string): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(bytes(pem));
  } catch (err) {
    throw new TlsConfigError(
      `${field}: expected a PEM certificate, got unreadable data (${(err as Error).message})`,
    );
  }
  const now = Date.now();
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
    throw new TlsConfigError(
      `${field}: certificate "${cert.subject}" is valid from ${cert.validFrom} ` +
        `to ${cert.validTo}, not now`,
    );
  }
  return cert;
}

/** Checks that `key` is the private key of `cert`. */
function checkKeyPair(cert: Pem, key: Pem, field: string): void {
  const parsed = parseCertificate(cert, `${field}.cert`);
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(bytes(key));
  } catch (err) {
    throw new TlsConfigError(
      `${field}.key: expected a PEM private key, got unreadable data (${(err as Error).message})`,
    );
  }
  if (!parsed.checkPrivateKey(privateKey)) {
    throw new TlsConfigError(
      `${field}.key: does not belong to the certificate "${parsed.subject}"`,
    );
  }
}

/**
 * Server credentials: plaintext without `tls`; TLS with it; mutual TLS
 * when `tls.clientCa` is given (and `requireClientCert` is not false).
 * Certificates and key are checked first, so a bad file fails at start.
 */
export function serverCredentials(tls: ServerTlsOptions | undefined): {
  credentials: grpc.ServerCredentials;
  mutual: boolean;
} {
  if (!tls)
    return { credentials: grpc.ServerCredentials.createInsecure(), mutual: false };
  checkKeyPair(tls.cert, tls.key, 'tls');
  if (tls.requireClientCert && tls.clientCa === undefined) {
    throw new TlsConfigError(
      'tls.requireClientCert: expected tls.clientCa (the CA client certificates ' +
        'must chain to), got none',
    );
  }
  const mutual = tls.clientCa !== undefined && tls.requireClientCert !== false;
  if (mutual) parseCertificate(tls.clientCa!, 'tls.clientCa');
  const credentials = grpc.ServerCredentials.createSsl(
    mutual ? bytes(tls.clientCa!) : null,
    [{ cert_chain: bytes(tls.cert), private_key: bytes(tls.key) }],
    mutual,
  );
  return { credentials, mutual };
}

/**
 * Channel credentials and options: TLS verifying the server against
 * `tls.ca` (and presenting a client certificate when given), or plaintext.
 */
export function channelCredentials(tls: ClientTlsOptions | undefined): {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
} {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  parseCertificate(tls.ca, 'tls.ca');
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TlsConfigError(
      'tls: expected both a client certificate and its key, got only ' +
        (tls.cert === undefined ? 'the key' : 'the certificate'),
    );
  }
  if (tls.cert !== undefined && tls.key !== undefined)
    checkKeyPair(tls.cert, tls.key, 'tls');
  const credentials = grpc.credentials.createSsl(
    bytes(tls.ca),
    tls.key === undefined ? null : bytes(tls.key),
    tls.cert === undefined ? null : bytes(tls.cert),
  );
  const options: grpc.ChannelOptions = {};
  if (tls.serverName) {
    options['grpc.ssl_target_name_override'] = tls.serverName;
    options['grpc.default_authority'] = tls.serverName;
  }
  return { credentials, options };
}
