import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL) and removes a temporary store. */
  stop(): Promise<void>;
}

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

/**
 * Starts a local nats-server with JetStream on a free loopback port and waits
 * until it accepts clients. `storeDir` keeps JetStream data across restarts;
 * without it a temporary directory is used and removed on stop.
 */
export async function startNatsServer(
  options: { storeDir?: string; port?: number; timeoutMs?: number } = {},
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
  const child = spawn(natsServerBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `nats-server did not start within ${options.timeoutMs ?? 10000} ms:\n${log}`,
        ),
      );
    }, options.timeoutMs ?? 10000);
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${code} before listening:\n${log}`));
    });
  });
  child.stderr?.resume();
  child.removeAllListeners('exit');
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (temporary) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
