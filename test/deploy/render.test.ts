import assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import {
  container,
  containersOf,
  describe,
  find,
  k8sDir,
  type Manifest,
  overlays,
  parseManifests,
  podTemplate,
  renderKustomization,
  renderOverlay,
  specField,
} from './manifests.js';
import { schemaErrors, unknownFields } from './schema.js';

// Every overlay renders offline with `kubectl kustomize` and every object it
// produces validates against the Kubernetes schemas (kubernetes-models), with
// no field names those schemas would silently accept.

/** What each overlay must contain, by kind and name. */
const expected: [string, string][] = [
  ['Namespace', 'vicinal'],
  ['ConfigMap', 'nats-config'],
  ['StatefulSet', 'nats'],
  ['Service', 'nats'],
  ['Service', 'nats-headless'],
  ['ConfigMap', 'study-config'],
  ['Deployment', 'teacher-server'],
  ['Service', 'teacher-server'],
  ['HorizontalPodAutoscaler', 'teacher-server'],
  ['PodDisruptionBudget', 'teacher-server'],
  ['Deployment', 'student-trainer'],
  ['Job', 'student-trainer-batch'],
  ['Job', 'coordinator'],
  ['ConfigMap', 'otel-collector-config'],
  ['Deployment', 'otel-collector'],
  ['Service', 'otel-collector'],
  ['Deployment', 'jaeger'],
  ['Service', 'jaeger'],
];

for (const overlay of overlays) {
  suite(`overlay ${overlay}`, () => {
    test('renders with kubectl kustomize into the expected objects', () => {
      const objects = renderOverlay(overlay);
      for (const [kind, name] of expected) find(objects, kind, name);
      assert.equal(
        objects.length,
        expected.length,
        'no objects beyond the expected ones',
      );
      for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
        assert.equal(o.metadata.namespace, 'vicinal', `${describe(o)} namespace`);
      }
    });

    test('every object validates against the Kubernetes schemas', async () => {
      const errors = (await Promise.all(renderOverlay(overlay).map(schemaErrors))).flat();
      assert.deepEqual(errors, []);
    });

    test('every object uses only known field names', () => {
      assert.deepEqual(renderOverlay(overlay).flatMap(unknownFields), []);
    });
  });
}

test('the base renders on its own too', () => {
  const objects = renderKustomization(`${k8sDir}/base`);
  assert.equal(objects.length, expected.length);
});

test('the teacher HPA targets the teacher Deployment on a Pods metric', () => {
  for (const overlay of overlays) {
    const hpa = find(renderOverlay(overlay), 'HorizontalPodAutoscaler', 'teacher-server');
    const spec = hpa.spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
      metrics: { type: string; pods?: { metric: { name: string } } }[];
    };
    assert.deepEqual(
      { kind: spec.scaleTargetRef.kind, name: spec.scaleTargetRef.name },
      { kind: 'Deployment', name: 'teacher-server' },
    );
    assert.ok(spec.minReplicas >= 1 && spec.maxReplicas > spec.minReplicas);
    assert.deepEqual(
      spec.metrics.map((m) => `${m.type}:${m.pods?.metric.name}`),
      ['Pods:vicinal_teacher_queue_depth'],
    );
    // Replicas belong to the HPA: a replicas field would be reset on every apply.
    const deployment = find(renderOverlay(overlay), 'Deployment', 'teacher-server');
    assert.equal(deployment.spec?.replicas, undefined, `${overlay}: teacher replicas`);
  }
});

test('the teacher Service is headless and the PDB selects the teacher pods', () => {
  for (const overlay of overlays) {
    const objects = renderOverlay(overlay);
    const svc = find(objects, 'Service', 'teacher-server');
    assert.equal(svc.spec?.clusterIP, 'None');
    const pdb = find(objects, 'PodDisruptionBudget', 'teacher-server');
    const podLabels = podTemplate(find(objects, 'Deployment', 'teacher-server'))?.metadata
      ?.labels;
    for (const selector of [
      specField<Record<string, string>>(svc, 'selector'),
      specField<{ matchLabels: Record<string, string> }>(pdb, 'selector').matchLabels,
    ]) {
      for (const [k, v] of Object.entries(selector)) assert.equal(podLabels?.[k], v, k);
    }
  }
});

test('NATS keeps JetStream on a claim template and has client and headless Services', () => {
  const objects = renderOverlay('cpu');
  const sts = find(objects, 'StatefulSet', 'nats');
  assert.equal(sts.spec?.serviceName, 'nats-headless');
  const claims = specField<Manifest[]>(sts, 'volumeClaimTemplates');
  assert.deepEqual(
    claims.map((c) => c.metadata.name),
    ['data'],
  );
  const mount = container(sts, 'nats').volumeMounts?.find((m) => m.name === 'data');
  assert.equal(mount?.mountPath, '/data');
  assert.equal(find(objects, 'Service', 'nats-headless').spec?.clusterIP, 'None');
  assert.equal(container(sts, 'nats').image.startsWith('nats:2.9.'), true);
});

test('the cpu overlay runs one replica of each on wasm; the gpu overlay on tensorflow-gpu', () => {
  const backendOf = (objects: Manifest[], kind: string, name: string) =>
    container(
      find(objects, kind, name),
      name === 'student-trainer-batch' ? 'student-trainer' : name,
    ).env?.find((e) => e.name === 'VICINAL_BACKEND')?.value;
  const cpu = renderOverlay('cpu');
  const gpu = renderOverlay('gpu');
  for (const [kind, name] of [
    ['Deployment', 'teacher-server'],
    ['Deployment', 'student-trainer'],
    ['Job', 'student-trainer-batch'],
    ['Job', 'coordinator'],
  ]) {
    assert.equal(backendOf(cpu, kind, name), 'wasm', `cpu ${name}`);
    assert.equal(backendOf(gpu, kind, name), 'tensorflow-gpu', `gpu ${name}`);
  }
  assert.equal(find(cpu, 'Deployment', 'student-trainer').spec?.replicas, 1);
  assert.equal(
    find(cpu, 'HorizontalPodAutoscaler', 'teacher-server').spec?.minReplicas,
    1,
  );
  assert.equal(find(cpu, 'StatefulSet', 'nats').spec?.replicas, 1);
  for (const o of gpu.filter((x) => x.kind === 'Deployment' || x.kind === 'Job')) {
    for (const c of containersOf(o)) {
      if (c.image.startsWith('vicinal'))
        assert.match(c.image, /^vicinal-gpu:/, describe(o));
    }
  }
});

test('the optional Indexed Job of students is created suspended', () => {
  const job = find(renderOverlay('cpu'), 'Job', 'student-trainer-batch');
  assert.equal(job.spec?.completionMode, 'Indexed');
  assert.equal(job.spec?.suspend, true);
  const maxJobs = container(job, 'student-trainer').env?.find(
    (e) => e.name === 'VICINAL_MAX_JOBS',
  );
  assert.equal(maxJobs?.value, '1');
});

suite('the checks themselves reject bad input', () => {
  const good = () =>
    structuredClone(find(renderOverlay('cpu'), 'Deployment', 'teacher-server'));

  test('a schema violation is reported', async () => {
    const bad = good();
    container(bad, 'teacher-server').ports = [
      { name: 'grpc', containerPort: '50051' as never },
    ];
    const errors = await schemaErrors(bad);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /containerPort must be integer/);
  });

  test('an unknown kind or apiVersion is reported, not skipped', async () => {
    const bad = { ...good(), apiVersion: 'apps/v0' };
    assert.match((await schemaErrors(bad))[0], /no schemas for apiVersion "apps\/v0"/);
    const odd = { ...good(), kind: 'Deploymint' };
    assert.match((await schemaErrors(odd))[0], /no schema for kind Deploymint/);
  });

  test('a misspelt field is reported with its path', () => {
    const bad = good();
    const c = container(bad, 'teacher-server') as unknown as Record<string, unknown>;
    c.readinesProbe = c.readinessProbe;
    delete c.readinessProbe;
    (bad.spec as Record<string, unknown>).replica = 2;
    assert.deepEqual(unknownFields(bad).sort(), [
      'Deployment/teacher-server: unknown field spec.replica',
      'Deployment/teacher-server: unknown field ' +
        'spec.template.spec.containers[0].readinesProbe',
    ]);
  });

  test('malformed YAML and objects without a name are refused', () => {
    assert.throws(() => parseManifests('a: [1, 2', 'x.yaml'), /x.yaml: YAML error/);
    assert.throws(
      () => parseManifests('apiVersion: v1\nkind: ConfigMap\n', 'y.yaml'),
      /y.yaml: every document needs apiVersion, kind and metadata.name/,
    );
  });

  test('a missing kubectl fails with the package to install', () => {
    assert.throws(
      () => renderKustomization(`${k8sDir}/overlays/cpu`, 'kubectl-that-does-not-exist'),
      /not found on PATH.*install it \(Debian: apt-get install kubernetes-client\)/s,
    );
  });
});
