import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initBackend } from '@vicinal/backend';
import {
  type Bus,
  connectBus,
  findTeachers,
  publishTeacher,
  waitForTeacher,
} from '@vicinal/bus';
import { FASHION_MNIST_CLASSES } from '@vicinal/data';
import { buildModel, countParameters, encodeArtifact } from '@vicinal/models';
import { TEACHER_SERVICE, TeacherClient } from '@vicinal/wire';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import {
  type Container,
  container,
  find,
  podTemplate,
  renderOverlay,
  repoRoot,
  resolveEnv,
} from './manifests.js';

// The cpu overlay's own commands and environments, run as processes: the NATS
// configuration from its ConfigMap, the teacher server and a student trainer
// with the container command and every variable the manifest sets. Only what
// cannot work off-cluster is replaced: addresses become loopback ones (NATS
// URL, listen address, the collector's OTLP endpoint; the advertised pod IP
// is dropped) and the store directory a temporary one.

const objects = renderOverlay('cpu');
const podFields = {
  'metadata.name': 'pod-0',
  'metadata.namespace': 'vicinal',
  'status.podIP': '10.1.2.3',
};
const work = mkdtempSync(join(tmpdir(), 'vicinal-deploy-e2e-'));
const children: ChildProcess[] = [];
let natsUrl = '';
let bus: Bus;
let collector: OtlpReceiver;

interface Started {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | string>;
}

function start(command: string[], env: Record<string, string>): Started {
  const [program, ...args] = command;
  const child = spawn(program === 'node' ? process.execPath : program, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, stderr: () => stderr, exited };
}

/** Resolves when `predicate` holds for the process's stderr; rejects if it exits first. */
async function waitForStderr(
  s: Started,
  predicate: (text: string) => boolean,
  what: string,
) {
  let exited: number | string | undefined;
  void s.exited.then((code) => {
    exited = code;
  });
  while (!predicate(s.stderr())) {
    if (exited !== undefined) {
      throw new Error(`exited (${exited}) before ${what}:\n${s.stderr().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function manifestEnv(c: Container, overrides: Record<string, string | undefined>) {
  const { env, unresolved } = resolveEnv(c, podFields);
  assert.deepEqual(unresolved, []);
  const merged: Record<string, string> = { ...env };
  // The collector becomes a loopback OTLP/HTTP receiver, so the services'
  // telemetry starts as configured and sends nothing off the machine.
  if (merged.OTEL_EXPORTER_OTLP_ENDPOINT) {
    merged.OTEL_EXPORTER_OTLP_ENDPOINT = collector.endpoint;
  }
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

before(async () => {
  collector = await startOtlpReceiver();
  const sts = find(objects, 'StatefulSet', 'nats');
  const conf = find(objects, 'ConfigMap', 'nats-config').data?.['nats.conf'] ?? '';
  const storeDir = join(work, 'jetstream');
  mkdirSync(storeDir);
  // Loopback, a free port, no monitoring listener, a temporary store.
  const local = conf
    .replace(/^\s*http_port:.*$/m, '')
    .replace(/store_dir:\s*\S+/, `store_dir: ${JSON.stringify(storeDir)}`);
  const file = join(work, 'nats.conf');
  writeFileSync(file, local);
  const binary = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find(existsSync);
  assert.ok(binary, 'nats-server not found: install the Debian package nats-server');
  const env = manifestEnv(container(sts, 'nats'), {});
  const nats = start([binary, '-c', file, '-a', '127.0.0.1', '-p', '-1'], env);
  const listening = /Listening for client connections on 127\.0\.0\.1:(\d+)/;
  await waitForStderr(nats, (t) => listening.test(t), 'listening');
  natsUrl = `nats://127.0.0.1:${listening.exec(nats.stderr())?.[1]}`;
  bus = await connectBus(natsUrl, { name: 'deploy-e2e' });
});

after(async () => {
  await bus?.close().catch(() => {});
  await collector?.close();
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  rmSync(work, { recursive: true, force: true });
});

test('the teacher server runs with the Deployment command and environment', async () => {
  const deployment = find(objects, 'Deployment', 'teacher-server');
  const c = container(deployment, 'teacher-server');
  const env = manifestEnv(c, {
    VICINAL_NATS_URL: natsUrl,
    VICINAL_LISTEN: '127.0.0.1:0',
    VICINAL_ADVERTISE: undefined,
  });
  assert.equal(env.VICINAL_BACKEND, 'wasm');

  // Publish an (untrained) teacher of the study's architecture under the very
  // model name the manifest asks for.
  await initBackend('cpu');
  const model = buildModel('teacher-cnn', {
    inputShape: [28, 28, 1],
    numClasses: 10,
    seed: 1,
  });
  await publishTeacher(
    bus,
    {
      name: env.VICINAL_TEACHER_MODEL,
      version: 'deploy-e2e',
      architecture: 'teacher-cnn',
      parameters: countParameters(model),
      inputShape: [28, 28, 1],
      numClasses: 10,
      classNames: [...FASHION_MNIST_CLASSES],
      mean: [0.286],
      std: [0.353],
      dataset: 'fashion-mnist',
    },
    await encodeArtifact(model),
  );
  model.dispose();

  const teacher = start(c.command ?? [], env);
  const registration = await Promise.race([
    waitForTeacher(bus, env.VICINAL_TEACHER_MODEL, 300_000),
    teacher.exited.then((code) => {
      throw new Error(`teacher exited (${code}):\n${teacher.stderr().slice(-2000)}`);
    }),
  ]);
  assert.match(registration.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(registration.backend, 'wasm');

  // What the kubelet's gRPC probes ask: the overall and the teacher service.
  const probes = [c.startupProbe, c.readinessProbe, c.livenessProbe];
  const client = await TeacherClient.connect(registration.address);
  try {
    for (const probe of probes) {
      assert.equal(await client.health(probe?.grpc?.service ?? ''), 'SERVING');
    }
    assert.ok(probes.some((p) => p?.grpc?.service === TEACHER_SERVICE));
  } finally {
    client.close();
  }

  // JSON log lines on stderr at the manifest's level.
  const lines = teacher
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { name: string; msg: string; level: number });
  assert.ok(
    lines.some((l) => l.name === 'teacher-server' && l.msg === 'teacher serving'),
  );

  // SIGTERM as the kubelet sends it: deregisters, drains, exits 0 within the
  // pod's grace period.
  const grace = podTemplate(deployment)?.spec.terminationGracePeriodSeconds ?? 30;
  teacher.child.kill('SIGTERM');
  const timer = setTimeout(() => teacher.child.kill('SIGKILL'), grace * 1000);
  assert.equal(await teacher.exited, 0);
  clearTimeout(timer);
  assert.deepEqual(await findTeachers(bus, env.VICINAL_TEACHER_MODEL), []);
});

test('a student trainer runs with the Deployment command and environment', async () => {
  const deployment = find(objects, 'Deployment', 'student-trainer');
  const c = container(deployment, 'student-trainer');
  const env = manifestEnv(c, { VICINAL_NATS_URL: natsUrl });
  assert.equal(env.VICINAL_WORKER_NAME, 'pod-0');
  const student = start(c.command ?? [], env);
  await waitForStderr(student, (t) => t.includes('"student trainer ready"'), 'ready');
  const ready = student
    .stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { name: string; msg: string; backend?: string })
    .find((l) => l.msg === 'student trainer ready');
  assert.equal(ready?.name, 'student-trainer:pod-0');
  assert.equal(ready?.backend, 'wasm');

  const grace = podTemplate(deployment)?.spec.terminationGracePeriodSeconds ?? 30;
  student.child.kill('SIGTERM');
  const timer = setTimeout(() => student.child.kill('SIGKILL'), grace * 1000);
  assert.equal(await student.exited, 0);
  clearTimeout(timer);
  assert.match(student.stderr(), /"student trainer stopped"/);
});
