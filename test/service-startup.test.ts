import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { initBackend } from '@vicinal/backend';
import {
  type Bus,
  connectBus,
  findTeachers,
  type NatsServerHandle,
  publishTeacher,
  startNatsServer,
} from '@vicinal/bus';
import { encodeArtifact } from '@vicinal/models';
import { runEntryPoint } from './support/entry-point.js';
import { SMALL, smallMetadata, smallModel } from './support/tfjs-teacher.js';

// The service entry points as processes, failing at start-up the way a
// running system can make them fail (NATS unreachable, the model not
// published, the listen port taken): one line on stderr naming the service
// and what failed, exit code 1, no stack trace or library source.

const teacherServer = (env: Record<string, string>) =>
  runEntryPoint('apps/teacher-server/src/main.ts', {
    VICINAL_BACKEND: 'wasm',
    VICINAL_LISTEN: '127.0.0.1:0',
    ...env,
  });

/** Asserts exit code 1 and stderr being exactly one line that matches `line`. */
function assertOneLineFailure(
  result: { code: number | null; stderr: string },
  line: RegExp,
) {
  const lines = result.stderr.split('\n');
  assert.equal(lines.at(-1), '', `stderr ends with a newline: ${result.stderr}`);
  assert.equal(lines.length, 2, `one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0], line);
  assert.equal(result.code, 1, result.stderr);
}

/** A loopback server of this test holding a port, for as long as it runs. */
async function holdPort(): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

/** A NATS URL where nothing listens: a port this test held, then let go. */
async function deadNatsUrl(): Promise<string> {
  const server = await holdPort();
  const port = portOf(server);
  await new Promise((resolve) => server.close(resolve));
  return `nats://127.0.0.1:${port}`;
}

/** Publishes the small test teacher (8x8x1 inputs) and returns its metadata. */
async function publishSmallTeacher(bus: Bus) {
  await initBackend('cpu');
  const model = smallModel();
  const meta = smallMetadata();
  await publishTeacher(
    bus,
    {
      name: meta.model,
      version: meta.version,
      architecture: meta.architecture,
      parameters: 0,
      inputShape: [SMALL.h, SMALL.w, SMALL.c],
      numClasses: SMALL.k,
      classNames: [...meta.classNames],
      mean: [...meta.mean],
      std: [...meta.std],
      dataset: meta.dataset,
    },
    await encodeArtifact(model),
  );
  model.dispose();
  return meta;
}

describe('service start-up failures', () => {
  let nats: NatsServerHandle;
  let bus: Bus;
  before(async () => {
    nats = await startNatsServer();
    bus = await connectBus(nats.url, { name: 'startup-test' });
  });
  after(async () => {
    await bus?.close();
    await nats?.stop();
  });

  test('teacher-server, NATS unreachable: one line, exit code 1', async () => {
    const url = await deadNatsUrl();
    const result = await teacherServer({
      VICINAL_NATS_URL: url,
      VICINAL_TEACHER_MODEL: 'small-teacher',
    });
    assertOneLineFailure(
      result,
      new RegExp(
        `^teacher-server: cannot connect to NATS at ${url}: connection refused$`,
      ),
    );
  });

  test('teacher-server, the model not in the object store: one line, exit code 1', async () => {
    const result = await teacherServer({
      VICINAL_NATS_URL: nats.url,
      VICINAL_TEACHER_MODEL: 'unpublished-teacher',
    });
    assertOneLineFailure(
      result,
      /^teacher-server: teacher "unpublished-teacher" is not in the object store "vicinal_models"/,
    );
  });

  test('teacher-server, the listen port in use: one line, exit code 1, not registered', async () => {
    const meta = await publishSmallTeacher(bus);
    const taken = await holdPort();
    try {
      const address = `127.0.0.1:${portOf(taken)}`;
      const result = await teacherServer({
        VICINAL_NATS_URL: nats.url,
        VICINAL_TEACHER_MODEL: meta.model,
        VICINAL_LISTEN: address,
      });
      assertOneLineFailure(
        result,
        new RegExp(
          `^teacher-server: cannot listen on ${address}: expected a free port, ` +
            'got one already in use \\(EADDRINUSE\\)',
        ),
      );
      assert.deepEqual(await findTeachers(bus, meta.model), []);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  test('teacher-server, a data set to hold that does not load or does not fit the model: one line, exit code 1', async () => {
    const meta = await publishSmallTeacher(bus);
    const missing = await teacherServer({
      VICINAL_NATS_URL: nats.url,
      VICINAL_TEACHER_MODEL: meta.model,
      VICINAL_HOLD_DATASET: 'fashion-mnist',
      VICINAL_HOLD_DATASET_DIR: '/nonexistent/vicinal-test-data',
    });
    assertOneLineFailure(
      missing,
      /^teacher-server: VICINAL_HOLD_DATASET=fashion-mnist: \/nonexistent\/vicinal-test-data: expected the Fashion-MNIST directory, found none: no such directory$/,
    );
    // An unknown name is a bad setting: refused before NATS is dialled.
    const unknown = await teacherServer({
      VICINAL_NATS_URL: await deadNatsUrl(),
      VICINAL_TEACHER_MODEL: meta.model,
      VICINAL_HOLD_DATASET: 'mnist-digits',
    });
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.equal(
      unknown.stderr,
      'teacher-server refuses to start: invalid teacher-server settings:\n' +
        '  holdDataset (VICINAL_HOLD_DATASET): expected one of cifar10, cifar100, ' +
        'fashion-mnist, image-folder, got "mnist-digits"\n',
    );
    // Fashion-MNIST's 28x28x1 images for a model of 8x8x1 inputs.
    const misfit = await teacherServer({
      VICINAL_NATS_URL: nats.url,
      VICINAL_TEACHER_MODEL: meta.model,
      VICINAL_HOLD_DATASET: 'fashion-mnist',
    });
    assertOneLineFailure(
      misfit,
      /^teacher-server: VICINAL_HOLD_DATASET=fashion-mnist: expected images of the model's input shape 8x8x1, got 28x28x1$/,
    );
    assert.deepEqual(await findTeachers(bus, meta.model), []);
  });

  test('student-trainer on wasm, NATS unreachable: one line, exit code 1', async () => {
    // tfjs-backend-wasm installs a handler that rethrows uncaught errors
    // (exit code 7, its minified source on stderr); none may reach it.
    const url = await deadNatsUrl();
    const result = await runEntryPoint('apps/student-trainer/src/main.ts', {
      VICINAL_NATS_URL: url,
      VICINAL_BACKEND: 'wasm',
    });
    assertOneLineFailure(
      result,
      new RegExp(
        `^student-trainer: cannot connect to NATS at ${url}: connection refused$`,
      ),
    );
  });
});
