import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// serviceSettingsOrExit and startServiceOrExit end the process, so each case
// runs them in a child process of its own.

const services = join(dirname(fileURLToPath(import.meta.url)), 'services.ts');

/** Runs `body` as an ES module with `services` imported as `s`. */
function run(body: string) {
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      '--input-type=module',
      '-e',
      `import * as s from ${JSON.stringify(services)};\n${body}`,
    ],
    { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '' } },
  );
  return { code: child.status, stdout: child.stdout, stderr: child.stderr };
}

test('a failed start-up step: one line naming the service, what it opened closed newest first, exit code 1', () => {
  const result = run(`
    await s.startServiceOrExit('demo-service', async (closeOnFailure) => {
      closeOnFailure(() => console.log('closed first'));
      closeOnFailure(async () => {
        console.log('closed second');
        throw new Error('closing failed too');
      });
      throw new Error('cannot start:\\n  no NATS at nats://127.0.0.1:1\\n  no teacher');
    });
    console.log('went on after the failure');
  `);
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    'demo-service: cannot start: no NATS at nats://127.0.0.1:1; no teacher\n',
  );
  assert.equal(result.stdout, 'closed second\nclosed first\n');
});

test('a start-up that succeeds hands back its result and closes nothing', () => {
  const result = run(`
    const started = await s.startServiceOrExit('demo-service', async (closeOnFailure) => {
      closeOnFailure(() => console.log('closed'));
      return { port: 7 };
    });
    console.log('started on', started.port);
  `);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, 'started on 7\n');
  assert.equal(result.stderr, '');
});

test('an unreadable settings file refuses the start with exit code 2 and no stack', () => {
  const result = run(`
    const { natsClientSecurity } = await import(${JSON.stringify(join(dirname(services), 'transport.ts'))});
    s.serviceSettingsOrExit('demo-service', () =>
      natsClientSecurity({ natsCa: '/nonexistent/vicinal/ca.pem', natsTopology: 'create' }),
    );
  `);
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /^demo-service refuses to start: VICINAL_NATS_CA: cannot read "\/nonexistent\/vicinal\/ca\.pem" \(ENOENT[^\n]*\)\n$/,
  );
});

test('a failing main loop: one line, its resources closed in order, exit code 1', () => {
  const result = run(`
    await s.runServiceOrExit(
      'demo-service',
      async () => {
        throw new Error('consumer vicinal-students not found');
      },
      [() => console.log('closed bus'), () => console.log('closed telemetry')],
    );
    console.log('went on after the failure');
  `);
  assert.equal(result.code, 1);
  assert.equal(result.stderr, 'demo-service: consumer vicinal-students not found\n');
  assert.equal(result.stdout, 'closed bus\nclosed telemetry\n');
});

test('an uncaught error ends the process with one line and exit code 1, before a rethrowing handler', () => {
  // Like tfjs-backend-wasm's: a handler that rethrows makes Node exit with
  // code 7 and print the handler's source.
  const body = `
    s.exitOnUncaughtErrors('demo-service');
    process.on('unhandledRejection', (reason) => { throw reason; });
    process.on('uncaughtException', (err) => { throw err; });
    MODE;
    setTimeout(() => console.log('still running'), 200);
  `;
  const rejected = run(
    body.replace('MODE', "Promise.reject(new Error('the registry heartbeat failed'))"),
  );
  assert.equal(rejected.code, 1, rejected.stderr);
  assert.equal(
    rejected.stderr,
    'demo-service: unexpected error: the registry heartbeat failed\n',
  );
  assert.equal(rejected.stdout, '');
  const thrown = run(
    body.replace(
      'MODE',
      "setTimeout(() => { throw new Error('a callback threw'); }, 10)",
    ),
  );
  assert.equal(thrown.code, 1, thrown.stderr);
  assert.equal(thrown.stderr, 'demo-service: unexpected error: a callback threw\n');
  // Without the guard the same rejection takes the rethrowing handler's path.
  const unguarded = run(
    body
      .replace("s.exitOnUncaughtErrors('demo-service');", '')
      .replace('MODE', "Promise.reject(new Error('the registry heartbeat failed'))"),
  );
  assert.equal(unguarded.code, 7, unguarded.stderr);
});
