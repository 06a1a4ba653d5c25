import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authorizationBlock, type NatsUser } from './nats-auth.js';

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  /** What the server has logged so far (stderr). */
  log(): string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes a temporary store. */
  stop(): Promise<void>;
}

/** Characters of server log kept for `log()` (the newest half survives a trim). */
const LOG_LIMIT = 4_000_000;

/** Finds nats-server: $NATS_SERVER, Debian's /usr/sbin path, then PATH. */
function natsServerBinary(): string {
  const candidates = [
    process.env.NATS_SERVER,
    '/usr/sbin/nats-server',
    '/usr/bin/nats-server',
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  throw new Error(
    'nats-server not found (looked at $NATS_SERVER, /usr/sbin/nats-server and PATH); ' +
      'install it with: apt-get install nats-server',
  );
}

/** TLS of a nats-server, as PEM text. */
export interface NatsServerTls {
  cert: string;
  key: string;
  /** CA that client certificates must chain to; with it clients need one. */
  ca?: string;
}

export interface NatsServerOptions {
  /** Keeps JetStream data across restarts; default a temporary directory. */
  storeDir?: string;
  /** Client port; default a free one. */
  port?: number;
  timeoutMs?: number;
  /**
   * Accounts, each limited to its role's subjects. With users, a client
   * without valid credentials is refused.
   */
  users?: readonly NatsUser[];
  /** Serve clients over TLS only. */
  tls?: NatsServerTls;
  /** Log every protocol message (for finding which subjects a role needs). */
  trace?: boolean;
}

/**
 * Starts a local nats-server with JetStream on a free loopback port and waits
 * until it accepts clients. `storeDir` keeps JetStream data across restarts;
 * without it a temporary directory is used and removed on stop. With `users`
 * or `tls` the server reads a config file written to a temporary directory
 * (removed on stop) that holds the accounts and the certificate files.
 */
export async function startNatsServer(
  options: NatsServerOptions = {},
): Promise<NatsServerHandle> {
  const temporary = !options.storeDir;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'vicinal-nats-'));
  const args = [
    '-js',
    '-a',
    '127.0.0.1',
    '-p',
    String(options.port ?? -1),
    '-sd',
    storeDir,
  ];
  const configDir = writeServerConfig(options);
  if (configDir) args.push('-c', join(configDir, 'nats.conf'));
  if (options.trace) args.push('-DV');
  const child = spawn(natsServerBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT / 2);
  });
  const cleanUp = () => {
    if (configDir) rmSync(configDir, { recursive: true, force: true });
    if (temporary) rmSync(storeDir, { recursive: true, force: true });
  };
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `nats-server did not start within ${options.timeoutMs ?? 10000} ms:\n${log}`,
        ),
      );
    }, options.timeoutMs ?? 10000);
    const listening = () => {
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (!m) return;
      clearTimeout(timer);
      child.stderr?.off('data', listening);
      resolve(Number(m[1]));
    };
    child.stderr?.on('data', listening);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${code} before listening:\n${log}`));
    });
  }).catch((err: Error) => {
    cleanUp();
    throw err;
  });
  child.removeAllListeners('exit');
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      cleanUp();
    },
  };
}

/** Writes nats.conf (and the PEM files it names) to a new temporary directory. */
function writeServerConfig(options: NatsServerOptions): string | null {
  if (!options.users?.length && !options.tls) return null;
  const dir = mkdtempSync(join(tmpdir(), 'vicinal-nats-conf-'));
  let conf = '';
  if (options.users?.length) conf += authorizationBlock(options.users);
  if (options.tls) {
    const file = (name: string, pem: string) => {
      const path = join(dir, name);
      writeFileSync(path, pem, { mode: 0o600 });
      return JSON.stringify(path);
    };
    conf += 'tls {\n';
    conf += `  cert_file: ${file('server-cert.pem', options.tls.cert)}\n`;
    conf += `  key_file: ${file('server-key.pem', options.tls.key)}\n`;
    if (options.tls.ca) {
      conf += `  ca_file: ${file('client-ca.pem', options.tls.ca)}\n  verify: true\n`;
    }
    conf += '  timeout: 5\n}\n';
  }
  writeFileSync(join(dir, 'nats.conf'), conf, { mode: 0o600 });
  return dir;
}
