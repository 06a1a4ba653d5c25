import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { after, describe as suite, test } from 'node:test';
import {
  type ExperimentSettings,
  expandExperiment,
  parseExperiment,
  studentTrainerConfig,
  teacherServerConfig,
} from '@vicinal/config';
import { checkPlaintextAllowed, TEACHER_SERVICE } from '@vicinal/wire';
import { parse as parseYaml } from 'yaml';
import { loadStudyFile, studyCommand } from '../../apps/cli/src/commands/study.js';
import { serviceEntryPoints } from '../../apps/cli/src/study/services.js';
import {
  type Container,
  container,
  containersOf,
  describe,
  find,
  isVicinalImage,
  type Manifest,
  type Overlay,
  overlays,
  podTemplate,
  renderOverlay,
  repoRoot,
  resolveEnv,
  specField,
} from './manifests.js';

// The manifests and the code cannot drift apart: the commands the containers
// run exist and are the ones the local study starts, every VICINAL_* variable
// set is one the service reads and its value passes the service's own
// validation, the study ConfigMap is a valid study whose teacher is the one the
// teacher Deployment serves, and the addresses and ports line up.

const scratch = mkdtempSync(join(tmpdir(), 'vicinal-deploy-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** What the downward API would give a pod. */
const podFields = {
  'metadata.name': 'pod-0',
  'metadata.namespace': 'vicinal',
  'status.podIP': '10.1.2.3',
};

type Role = 'teacher' | 'student' | 'coordinator';

/** Where a worker finds a teacher on a cluster: the teacher pod's advertised address. */
const teacherPodAddress = `${podFields['status.podIP']}:50051`;

/** Which service a vicinal container runs, from its command. */
function roleOf(c: Container): Role {
  const cmd = [...(c.command ?? []), ...(c.args ?? [])];
  const rel = (p: string) => relative(repoRoot, p);
  if (cmd.includes(rel(serviceEntryPoints['teacher-server']))) return 'teacher';
  if (cmd.includes(rel(serviceEntryPoints['student-trainer']))) return 'student';
  if (cmd.includes('apps/cli/bin/vicinal.mjs')) return 'coordinator';
  throw new Error(
    `container ${c.name} runs none of the known entry points: ${cmd.join(' ')}`,
  );
}

function vicinalContainers(objects: Manifest[]): { owner: Manifest; c: Container }[] {
  return objects.flatMap((owner) =>
    containersOf(owner)
      .filter((c) => isVicinalImage(c.image))
      .map((c) => ({ owner, c })),
  );
}

/** The environment keys a settings function reads, whatever their values. */
function keysRead(read: (env: NodeJS.ProcessEnv) => unknown): Set<string> {
  const seen = new Set<string>();
  const env = new Proxy({} as NodeJS.ProcessEnv, {
    get(target, key) {
      if (typeof key === 'string') seen.add(key);
      return Reflect.get(target, key);
    },
  });
  try {
    read(env);
  } catch {
    // Required settings are missing in an empty environment; the keys count.
  }
  return new Set([...seen].filter((k) => k.startsWith('VICINAL_')));
}

/** `process.env.VICINAL_*` reads in the non-test sources under `dirs`. */
function processEnvReads(...dirs: string[]): Set<string> {
  const found = new Set<string>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        for (const m of readFileSync(path, 'utf8').matchAll(
          /\benv\.(VICINAL_[A-Z0-9_]+)/g,
        )) {
          found.add(m[1]);
        }
      }
    }
  };
  for (const d of dirs) visit(join(repoRoot, d));
  return found;
}

/** Read by every process: log level (telemetry) and backend choice. */
const everywhere = processEnvReads('libs/telemetry/src', 'libs/backend/src');
const teacherKeys = new Set([
  ...keysRead((e) => teacherServerConfig({}, e)),
  ...everywhere,
]);
const studentKeys = new Set([
  ...keysRead((e) => studentTrainerConfig({}, e)),
  ...everywhere,
]);
/** The coordinator's children inherit its environment: anything the code reads. */
const anyKeys = processEnvReads('libs', 'apps');

/**
 * What is wrong with a vicinal container's environment: unresolved
 * references, VICINAL_* variables its service never reads, and values the
 * service's own settings validation refuses.
 */
function envProblems(c: Container): string[] {
  const problems: string[] = [];
  const { env, unresolved } = resolveEnv(c, podFields);
  problems.push(...unresolved.map((u) => `unresolved ${u}`));
  const role = roleOf(c);
  const allowed =
    role === 'teacher' ? teacherKeys : role === 'student' ? studentKeys : anyKeys;
  for (const k of Object.keys(env)) {
    if (k.startsWith('VICINAL_') && !allowed.has(k)) {
      problems.push(`${k} is set but the ${role} never reads it`);
    }
  }
  try {
    // Plaintext gRPC must be allowed where it is used: the teacher listening
    // on its pod address, a worker (the coordinator's too) dialling one.
    if (role === 'teacher') {
      const config = teacherServerConfig({}, env);
      if (!config.tlsCert)
        checkPlaintextAllowed(config.listen, config.insecure, 'listen on');
    } else {
      const config = studentTrainerConfig(
        {},
        role === 'student'
          ? env
          : {
              VICINAL_BACKEND: env.VICINAL_BACKEND,
              VICINAL_INSECURE: env.VICINAL_INSECURE,
            },
      );
      if (!config.teacherTlsCa)
        checkPlaintextAllowed(teacherPodAddress, config.insecure, 'dial');
    }
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (!/^(trace|debug|info|warn|error|fatal)$/.test(env.VICINAL_LOG_LEVEL ?? '')) {
    problems.push(`VICINAL_LOG_LEVEL "${env.VICINAL_LOG_LEVEL}" is not a log level`);
  }
  return problems;
}

test('the environment check rejects stray, invalid and out-of-order variables', () => {
  const teacher = () =>
    structuredClone(
      container(
        find(renderOverlay('cpu'), 'Deployment', 'teacher-server'),
        'teacher-server',
      ),
    );
  const stray = teacher();
  stray.env?.push(
    { name: 'VICINAL_MAX_JOBS', value: '1' },
    { name: 'VICINAL_LISTN', value: 'x' },
  );
  assert.deepEqual(envProblems(stray), [
    'VICINAL_MAX_JOBS is set but the teacher never reads it',
    'VICINAL_LISTN is set but the teacher never reads it',
  ]);
  const invalid = teacher();
  invalid.env = invalid.env?.map((e) =>
    e.name === 'VICINAL_LISTEN' ? { ...e, value: '50051' } : e,
  );
  assert.match(envProblems(invalid).join('\n'), /listen \(VICINAL_LISTEN\): host:port/);
  const plaintext = teacher();
  plaintext.env = plaintext.env?.filter((e) => e.name !== 'VICINAL_INSECURE');
  assert.match(envProblems(plaintext).join('\n'), /listen on 0\.0\.0\.0:50051/);
  const order = teacher();
  const podIp = order.env?.findIndex((e) => e.name === 'POD_IP') ?? -1;
  const [moved] = order.env?.splice(podIp, 1) ?? [];
  order.env?.push(moved);
  assert.match(
    envProblems(order).join('\n'),
    /VICINAL_ADVERTISE: \$\(POD_IP\) is not defined before it/,
  );
});

test('the code reads the variables this test expects to find (sanity)', () => {
  for (const k of [
    'VICINAL_NATS_URL',
    'VICINAL_LISTEN',
    'VICINAL_ADVERTISE',
    'VICINAL_DRAIN_MS',
  ]) {
    assert.ok(teacherKeys.has(k), k);
  }
  for (const k of ['VICINAL_NATS_URL', 'VICINAL_WORKER_NAME', 'VICINAL_MAX_JOBS']) {
    assert.ok(studentKeys.has(k), k);
  }
  assert.ok(everywhere.has('VICINAL_LOG_LEVEL'));
  assert.ok(!teacherKeys.has('VICINAL_WORKER_NAME'));
});

for (const overlay of overlays) {
  suite(`overlay ${overlay}`, () => {
    const objects = () => renderOverlay(overlay);

    test('containers run entry points that exist, the same the local study starts', () => {
      const found = new Set<Role>();
      for (const { owner, c } of vicinalContainers(objects())) {
        const cmd = [...(c.command ?? []), ...(c.args ?? [])];
        const where = `${describe(owner)} ${c.name}`;
        assert.equal(cmd[0], 'node', `${where}: runs node`);
        const role = roleOf(c);
        found.add(role);
        const scripts = cmd.filter((a) => /\.(ts|mjs|js)$/.test(a));
        assert.equal(scripts.length, 1, `${where}: one script in ${cmd.join(' ')}`);
        assert.ok(
          existsSync(join(repoRoot, scripts[0])),
          `${where}: ${scripts[0]} exists`,
        );
        if (role === 'coordinator') {
          assert.deepEqual(cmd.slice(0, 3), [
            'node',
            'apps/cli/bin/vicinal.mjs',
            'study',
          ]);
        } else {
          const entry =
            serviceEntryPoints[role === 'teacher' ? 'teacher-server' : 'student-trainer'];
          assert.deepEqual(
            cmd,
            ['node', '--import', 'tsx', relative(repoRoot, entry)],
            where,
          );
        }
      }
      assert.deepEqual([...found].sort(), ['coordinator', 'student', 'teacher']);
    });

    test('every VICINAL_* variable is one the service reads, with a valid value', () => {
      for (const { owner, c } of vicinalContainers(objects())) {
        assert.deepEqual(envProblems(c), [], `${describe(owner)} ${c.name}`);
      }
    });

    test('every $(VAR) reference in any container resolves', () => {
      for (const o of objects()) {
        for (const c of containersOf(o)) {
          assert.deepEqual(
            resolveEnv(c, podFields).unresolved,
            [],
            `${describe(o)} ${c.name}`,
          );
        }
      }
    });

    test('the teacher listens, advertises, is probed and is served on one port', () => {
      const all = objects();
      const deployment = find(all, 'Deployment', 'teacher-server');
      const c = container(deployment, 'teacher-server');
      const config = teacherServerConfig({}, resolveEnv(c, podFields).env);
      const [host, port] = config.listen.split(':');
      assert.equal(host, '0.0.0.0', 'listens on every pod interface');
      assert.equal(
        config.advertise,
        `${podFields['status.podIP']}:${port}`,
        'advertises pod IP',
      );
      const grpcPort = c.ports?.find((p) => p.name === 'grpc')?.containerPort;
      assert.equal(grpcPort, Number(port));
      for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
        assert.equal(probe?.grpc?.port, Number(port), 'gRPC probe on the serving port');
        assert.ok(['', TEACHER_SERVICE].includes(probe?.grpc?.service ?? ''));
      }
      const svc = find(all, 'Service', 'teacher-server');
      const ports = specField<{ port: number; targetPort: string }[]>(svc, 'ports');
      assert.deepEqual(
        ports.map((p) => [p.port, p.targetPort]),
        [[Number(port), 'grpc']],
      );
      const grace = podTemplate(deployment)!.spec.terminationGracePeriodSeconds ?? 30;
      assert.ok(
        grace * 1000 >= config.drainMs + 5000,
        `terminationGracePeriodSeconds ${grace} must exceed VICINAL_DRAIN_MS ${config.drainMs}`,
      );
    });

    test('workers are named after their pod and probe the NATS port they dial', () => {
      for (const { owner, c } of vicinalContainers(objects())) {
        if (roleOf(c) !== 'student') continue;
        const config = studentTrainerConfig({}, resolveEnv(c, podFields).env);
        assert.equal(config.name, podFields['metadata.name'], describe(owner));
        const natsPort = Number(new URL(config.natsUrl).port);
        for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) {
          if (!probe) continue;
          const script = probe.exec?.command.join(' ') ?? '';
          const hex = /:([0-9A-F]{4}) 01 /.exec(script)?.[1];
          assert.equal(
            hex && Number.parseInt(hex, 16),
            natsPort,
            `${describe(owner)} probe`,
          );
        }
      }
    });

    test('NATS and collector addresses name Services and ports that exist', () => {
      const all = objects();
      const servicePort = (url: string) => {
        const u = new URL(url);
        const svc = find(all, 'Service', u.hostname);
        const ports = specField<{ port: number }[]>(svc, 'ports').map((p) => p.port);
        assert.ok(
          ports.includes(Number(u.port)),
          `${url}: Service ${u.hostname} ports ${ports}`,
        );
      };
      for (const { c } of vicinalContainers(all)) {
        const { env } = resolveEnv(c, podFields);
        if (env.VICINAL_NATS_URL) servicePort(env.VICINAL_NATS_URL);
        servicePort(env.OTEL_EXPORTER_OTLP_ENDPOINT);
        const args = c.command ?? [];
        const nats = args[args.indexOf('--nats') + 1];
        if (args.includes('--nats')) servicePort(nats);
      }
      const collector = parseYaml(
        find(all, 'ConfigMap', 'otel-collector-config').data?.['collector.yaml'] ?? '',
      ) as { exporters: Record<string, { endpoint: string }> };
      servicePort(`grpc://${collector.exporters['otlp/jaeger'].endpoint}`);
    });

    test('the study ConfigMap is a valid study and the teacher Deployment serves its teacher', () => {
      const all = objects();
      const job = find(all, 'Job', 'coordinator');
      const c = container(job, 'coordinator');
      const cmd = c.command ?? [];
      const configPath = cmd[3];
      const mount = c.volumeMounts?.find((m) => m.mountPath === dirname(configPath));
      assert.ok(mount, `${configPath} is on a mounted volume`);
      const volume = podTemplate(job)!.spec.volumes?.find((v) => v.name === mount.name);
      assert.ok(volume?.configMap, `${configPath} comes from a ConfigMap`);
      const cm = find(all, 'ConfigMap', volume.configMap.name);
      const text = cm.data?.[basename(configPath)];
      assert.ok(text, `ConfigMap ${cm.metadata.name} has key ${basename(configPath)}`);

      // Through the CLI's own loader (the file the coordinator reads) and the schema.
      const file = join(scratch, `${overlay}-study.yaml`);
      writeFileSync(file, text);
      const settings: ExperimentSettings = loadStudyFile(file);
      assert.deepEqual(parseExperiment(parseYaml(text), 'study ConfigMap'), settings);

      // Every teacher of the grid is the one the teacher Deployment serves.
      const models = expandExperiment(settings).teachers.map((t) => t.model);
      const teacher = container(
        find(all, 'Deployment', 'teacher-server'),
        'teacher-server',
      );
      assert.deepEqual(
        models,
        [resolveEnv(teacher, podFields).env.VICINAL_TEACHER_MODEL],
        'VICINAL_TEACHER_MODEL must be the model the coordinator publishes for this study',
      );
    });

    test('the coordinator passes only options `vicinal study` has, with usable values', () => {
      const all = objects();
      const job = find(all, 'Job', 'coordinator');
      const c = container(job, 'coordinator');
      const args = (c.command ?? []).slice(4);
      const options = studyCommand().options;
      const known = new Set(options.map((o) => o.long));
      const takesValue = new Set(
        options.filter((o) => o.required || o.optional).map((o) => o.long),
      );
      const mounts = c.volumeMounts ?? [];
      const volumes = podTemplate(job)!.spec.volumes ?? [];
      for (let i = 0; i < args.length; i++) {
        const flag = args[i];
        assert.ok(known.has(flag), `vicinal study has no option ${flag}`);
        const value = args[i + 1];
        if (flag === '--workers')
          assert.ok(Number.isInteger(Number(value)) && Number(value) >= 1);
        if (flag === '--out' || flag === '--cache-dir') {
          const mount = mounts.find((m) => value.startsWith(`${m.mountPath}/`));
          const vol = volumes.find((v) => v.name === mount?.name);
          assert.ok(vol?.emptyDir && !mount?.readOnly, `${flag} ${value} is writable`);
        }
        if (takesValue.has(flag)) i++;
      }
    });

    test('the vicinal images carry the version of the repository', () => {
      const version = (
        JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
      for (const { owner, c } of vicinalContainers(objects())) {
        assert.equal(c.image.split(':').pop(), version, describe(owner));
      }
    });
  });
}

test('nats.conf is valid for nats-server 2.9 and matches the StatefulSet', () => {
  const all = renderOverlay('cpu');
  const sts = find(all, 'StatefulSet', 'nats');
  const c = container(sts, 'nats');
  const cmd = c.command ?? [];
  const configPath = cmd[cmd.indexOf('--config') + 1];
  const mount = c.volumeMounts?.find((m) => m.mountPath === dirname(configPath));
  const volume = podTemplate(sts)!.spec.volumes?.find((v) => v.name === mount?.name);
  const text = find(all, 'ConfigMap', volume?.configMap?.name ?? '').data?.[
    basename(configPath)
  ];
  assert.ok(text, `${configPath} comes from a ConfigMap key`);

  const binary = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find(existsSync);
  assert.ok(binary, 'nats-server not found: install the Debian package nats-server');
  const file = join(scratch, 'nats.conf');
  writeFileSync(file, text);
  const { env } = resolveEnv(c, podFields);
  const result = spawnSync(binary, ['-c', file, '-t'], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `nats-server -t: ${result.stdout}${result.stderr}`);

  const setting = (key: string) =>
    new RegExp(`^\\s*${key}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const portOf = (name: string) => c.ports?.find((p) => p.name === name)?.containerPort;
  assert.equal(Number(setting('port')), portOf('client'));
  assert.equal(Number(setting('http_port')), portOf('monitor'));
  const storeDir = setting('store_dir') ?? '';
  const data = c.volumeMounts?.find((m) => m.name === 'data');
  assert.ok(
    data && storeDir.startsWith(`${data.mountPath}/`),
    `store_dir ${storeDir} on the PVC`,
  );
  assert.equal(setting('max_payload'), '1MB');

  // JetStream's limits fit the volume and the container's memory.
  const claims = specField<Manifest[]>(sts, 'volumeClaimTemplates');
  const claim = claims.find((x) => x.metadata.name === 'data');
  assert.ok(claim, 'a claim template named data');
  const storage = specField<{ requests: { storage: string } }>(claim, 'resources')
    .requests.storage;
  assert.ok(
    bytes(setting('max_file_store') ?? '') < bytes(storage),
    'max_file_store < volume',
  );
  const memory = String(c.resources?.limits?.memory);
  assert.ok(bytes(setting('max_memory_store') ?? '') < bytes(memory), 'max_memory_store');
  assert.ok(
    bytes(env.GOMEMLIMIT ?? '') < bytes(memory),
    'GOMEMLIMIT below the memory limit',
  );
});

/** "4GB", "5Gi", "400MiB", "512Mi" as bytes (binary multiples, as NATS and Go read them). */
function bytes(size: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B?|B)?$/i.exec(size.trim());
  if (!m) throw new Error(`size: expected a number with K/M/G/T units, got "${size}"`);
  return Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' ');
}

test('every overlay names the same NATS URL for every vicinal container', () => {
  const urls = new Set<string>();
  for (const overlay of overlays as readonly Overlay[]) {
    for (const { c } of vicinalContainers(renderOverlay(overlay))) {
      const { env } = resolveEnv(c, podFields);
      if (env.VICINAL_NATS_URL) urls.add(env.VICINAL_NATS_URL);
      const cmd = c.command ?? [];
      if (cmd.includes('--nats')) urls.add(cmd[cmd.indexOf('--nats') + 1]);
    }
  }
  assert.deepEqual([...urls], ['nats://nats:4222']);
});
