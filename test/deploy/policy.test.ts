import assert from 'node:assert/strict';
import { describe as suite, test } from 'node:test';
import {
  container,
  find,
  type Manifest,
  overlays,
  podSpec,
  podTemplate,
  renderOverlay,
  specField,
} from './manifests.js';
import { gpuPlacementViolations, imagePinProblem, policyViolations } from './policy.js';

// The deployment policy over every rendered overlay, and proof that each rule
// rejects a manifest that breaks it.

for (const overlay of overlays) {
  test(`overlay ${overlay} passes the policy`, () => {
    assert.deepEqual(policyViolations(renderOverlay(overlay)), []);
  });
}

test('the gpu overlay puts teachers and students on separate GPU pools', () => {
  assert.deepEqual(gpuPlacementViolations(renderOverlay('gpu')), []);
});

test('the cpu overlay asks for no GPUs (and so fails the GPU placement rules)', () => {
  const cpu = renderOverlay('cpu');
  assert.ok(!JSON.stringify(cpu).includes('nvidia.com/gpu'));
  assert.ok(gpuPlacementViolations(cpu).length > 0);
});

suite('each rule rejects a manifest that breaks it', () => {
  const teacher = () =>
    structuredClone(find(renderOverlay('cpu'), 'Deployment', 'teacher-server'));
  const job = () => structuredClone(find(renderOverlay('cpu'), 'Job', 'coordinator'));
  const pod = (o: Manifest) =>
    podSpec(o) as unknown as {
      securityContext: Record<string, unknown>;
      volumes: { name: string; emptyDir?: object; hostPath?: object }[];
      hostNetwork?: boolean;
      automountServiceAccountToken?: boolean;
    };
  const violations = (o: Manifest) => policyViolations([o]);
  const expectOne = (o: Manifest, pattern: RegExp) => {
    const found = violations(o);
    assert.equal(
      found.length,
      1,
      `expected exactly one violation, got ${found.join(' | ')}`,
    );
    assert.match(found[0], pattern);
  };

  test('the untouched manifests pass', () => {
    assert.deepEqual(violations(teacher()), []);
    assert.deepEqual(violations(job()), []);
  });

  test('a long-running container without probes', () => {
    const o = teacher();
    delete container(o, 'teacher-server').readinessProbe;
    expectOne(o, /container teacher-server: no readinessProbe/);
    const p = teacher();
    delete container(p, 'teacher-server').livenessProbe;
    expectOne(p, /no livenessProbe/);
  });

  test('a Job needs no probes', () => {
    const o = job();
    assert.equal(container(o, 'coordinator').livenessProbe, undefined);
    assert.deepEqual(violations(o), []);
  });

  test('missing requests or limits', () => {
    const o = teacher();
    delete container(o, 'teacher-server').resources?.limits?.memory;
    expectOne(o, /resources\.limits\.memory missing/);
    const p = job();
    delete container(p, 'coordinator').resources?.requests;
    assert.equal(violations(p).length, 2);
  });

  test('images without a pinned tag', () => {
    for (const image of ['vicinal', 'vicinal:latest', 'registry.local:5000/vicinal']) {
      const o = teacher();
      container(o, 'teacher-server').image = image;
      expectOne(o, /image .*(no tag|not a pinned version)/);
    }
    assert.equal(imagePinProblem('registry.local:5000/vicinal:0.1.0'), null);
    assert.equal(imagePinProblem(`vicinal@sha256:${'a'.repeat(64)}`), null);
  });

  test('each security-context rule', () => {
    const cases: [(o: Manifest) => void, RegExp][] = [
      [
        (o) => delete pod(o).securityContext.runAsNonRoot,
        /pod securityContext.runAsNonRoot/,
      ],
      [
        (o) => {
          pod(o).securityContext.runAsUser = 0;
          delete container(o, 'teacher-server').securityContext?.runAsUser;
        },
        /runAsUser must be a non-zero user id, got 0/,
      ],
      [
        (o) => {
          pod(o).securityContext.seccompProfile = { type: 'Unconfined' };
          container(o, 'teacher-server').securityContext!.seccompProfile = {
            type: 'Unconfined',
          };
        },
        /seccompProfile.type is not RuntimeDefault/,
      ],
      [
        (o) => {
          container(o, 'teacher-server').securityContext!.allowPrivilegeEscalation = true;
        },
        /allowPrivilegeEscalation is not false/,
      ],
      [
        (o) => {
          container(o, 'teacher-server').securityContext!.readOnlyRootFilesystem = false;
        },
        /readOnlyRootFilesystem is not true/,
      ],
      [
        (o) => {
          container(o, 'teacher-server').securityContext!.capabilities = {
            drop: ['NET_RAW'],
          };
        },
        /capabilities.drop does not include ALL/,
      ],
      [
        (o) => {
          container(o, 'teacher-server').securityContext!.capabilities = {
            drop: ['ALL'],
            add: ['NET_ADMIN'],
          };
        },
        /capabilities.add is not empty/,
      ],
      [
        (o) => {
          container(o, 'teacher-server').securityContext!.privileged = true;
        },
        /privileged is true/,
      ],
      [(o) => (pod(o).hostNetwork = true), /shares a host namespace/],
      [(o) => delete pod(o).automountServiceAccountToken, /automountServiceAccountToken/],
      [
        (o) => pod(o).volumes.push({ name: 'host', hostPath: { path: '/' } }),
        /volume host is a hostPath/,
      ],
      [
        (o) => {
          container(o, 'teacher-server').volumeMounts = [];
        },
        /needs an emptyDir on \/tmp/,
      ],
    ];
    for (const [breakIt, pattern] of cases) {
      const o = teacher();
      breakIt(o);
      const found = violations(o);
      assert.ok(
        found.some((v) => pattern.test(v)),
        `${pattern} not among: ${found.join(' | ') || '(none)'}`,
      );
    }
  });

  test('missing labels on the object, its pod template or a claim template', () => {
    const o = teacher();
    delete o.metadata.labels?.['app.kubernetes.io/component'];
    expectOne(
      o,
      /Deployment\/teacher-server: label app.kubernetes.io\/component missing/,
    );
    const p = teacher();
    podTemplate(p)!.metadata = { labels: {} };
    assert.equal(violations(p).length, 3);
    const q = teacher();
    q.metadata.labels!['app.kubernetes.io/part-of'] = 'other';
    expectOne(q, /part-of should be "vicinal", got "other"/);
    const sts = structuredClone(find(renderOverlay('cpu'), 'StatefulSet', 'nats'));
    const claims = specField<Manifest[]>(sts, 'volumeClaimTemplates');
    claims[0].metadata.labels = { 'app.kubernetes.io/name': 'nats' };
    assert.equal(violations(sts).length, 2);
  });

  test('GPU workloads without GPU limits, selectors, tolerations or separate pools', () => {
    const gpu = () => structuredClone(renderOverlay('gpu'));
    const spec = (objects: Manifest[], name: string) =>
      podSpec(find(objects, 'Deployment', name)) as unknown as {
        containers: { resources: { limits: Record<string, unknown> } }[];
        nodeSelector?: Record<string, string>;
        tolerations?: object[];
      };

    const noGpu = gpu();
    delete spec(noGpu, 'teacher-server').containers[0].resources.limits['nvidia.com/gpu'];
    assert.match(
      gpuPlacementViolations(noGpu).join('\n'),
      /teacher-server.*no nvidia.com\/gpu/,
    );

    const noSelector = gpu();
    delete spec(noSelector, 'student-trainer').nodeSelector;
    assert.match(gpuPlacementViolations(noSelector).join('\n'), /no nodeSelector/);

    const noToleration = gpu();
    spec(noToleration, 'teacher-server').tolerations = [];
    assert.match(
      gpuPlacementViolations(noToleration).join('\n'),
      /nvidia.com\/gpu taint/,
    );

    const shared = gpu();
    spec(shared, 'student-trainer').nodeSelector = spec(
      shared,
      'teacher-server',
    ).nodeSelector;
    assert.match(
      gpuPlacementViolations(shared).join('\n'),
      /different node selectors|share/,
    );
  });
});
