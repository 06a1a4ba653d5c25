import {
  type Container,
  containersOf,
  describe,
  longRunningKinds,
  type Manifest,
  type PodSpec,
  podTemplate,
  type SecurityContext,
} from './manifests.js';

/** Labels every object and every pod carries. */
export const requiredLabels = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/component',
  'app.kubernetes.io/part-of',
] as const;
export const partOf = 'vicinal';

/**
 * The deployment policy. Returns one message per violation (empty = passes):
 * labels on every object, pod template and claim template; for every pod the
 * restricted security context (non-root with a user id, no privilege
 * escalation, all capabilities dropped, RuntimeDefault seccomp, read-only root
 * file system with an emptyDir on /tmp for Node.js containers), no host
 * namespaces or host paths, no service-account token; for every container
 * requests and limits for cpu and memory and an image pinned by tag or
 * digest; readiness and liveness probes on containers that run until stopped.
 */
export function policyViolations(objects: Manifest[]): string[] {
  const out: string[] = [];
  for (const o of objects) {
    const where = describe(o);
    checkLabels(o.metadata.labels, where, out);
    const template = podTemplate(o);
    if (!template) continue;
    checkLabels(template.metadata?.labels, `${where} pod template`, out);
    const claims = (o.spec?.volumeClaimTemplates ?? []) as Manifest[];
    for (const claim of claims) {
      checkLabels(claim.metadata?.labels, `${where} claim ${claim.metadata?.name}`, out);
    }
    checkPod(template.spec, where, out);
    for (const c of containersOf(o)) {
      checkContainer(c, template.spec, `${where} container ${c.name}`, out);
      if (longRunningKinds.has(o.kind)) {
        if (!c.readinessProbe)
          out.push(`${where} container ${c.name}: no readinessProbe`);
        if (!c.livenessProbe) out.push(`${where} container ${c.name}: no livenessProbe`);
      }
    }
  }
  return out;
}

function checkLabels(
  labels: Record<string, string> | undefined,
  where: string,
  out: string[],
) {
  for (const key of requiredLabels) {
    if (!labels?.[key]) out.push(`${where}: label ${key} missing`);
  }
  if (
    labels?.['app.kubernetes.io/part-of'] &&
    labels['app.kubernetes.io/part-of'] !== partOf
  ) {
    out.push(
      `${where}: label app.kubernetes.io/part-of should be "${partOf}", got ` +
        `"${labels['app.kubernetes.io/part-of']}"`,
    );
  }
}

function checkPod(spec: PodSpec, where: string, out: string[]) {
  const sc = spec.securityContext;
  if (sc?.runAsNonRoot !== true)
    out.push(`${where}: pod securityContext.runAsNonRoot is not true`);
  if (sc?.seccompProfile?.type !== 'RuntimeDefault') {
    out.push(`${where}: pod securityContext.seccompProfile.type is not RuntimeDefault`);
  }
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) {
    out.push(`${where}: pod shares a host namespace`);
  }
  if (spec.automountServiceAccountToken !== false) {
    out.push(`${where}: automountServiceAccountToken is not false`);
  }
  for (const v of spec.volumes ?? []) {
    if (v.hostPath) out.push(`${where}: volume ${v.name} is a hostPath`);
  }
}

function effective<K extends keyof SecurityContext>(
  key: K,
  c: Container,
  pod: PodSpec,
): SecurityContext[K] {
  return c.securityContext?.[key] ?? pod.securityContext?.[key];
}

function checkContainer(c: Container, pod: PodSpec, where: string, out: string[]) {
  const sc = c.securityContext;
  if (effective('runAsNonRoot', c, pod) !== true)
    out.push(`${where}: runAsNonRoot is not true`);
  const uid = effective('runAsUser', c, pod);
  if (typeof uid !== 'number' || uid <= 0) {
    out.push(`${where}: runAsUser must be a non-zero user id, got ${uid}`);
  }
  if (sc?.allowPrivilegeEscalation !== false) {
    out.push(`${where}: securityContext.allowPrivilegeEscalation is not false`);
  }
  if (sc?.privileged) out.push(`${where}: securityContext.privileged is true`);
  if (sc?.readOnlyRootFilesystem !== true) {
    out.push(`${where}: securityContext.readOnlyRootFilesystem is not true`);
  }
  if (!sc?.capabilities?.drop?.includes('ALL')) {
    out.push(`${where}: securityContext.capabilities.drop does not include ALL`);
  }
  if (sc?.capabilities?.add?.length) {
    out.push(`${where}: securityContext.capabilities.add is not empty`);
  }
  if (effective('seccompProfile', c, pod)?.type !== 'RuntimeDefault') {
    out.push(`${where}: seccompProfile.type is not RuntimeDefault`);
  }
  for (const kind of ['requests', 'limits'] as const) {
    for (const r of ['cpu', 'memory']) {
      if (c.resources?.[kind]?.[r] === undefined)
        out.push(`${where}: resources.${kind}.${r} missing`);
    }
  }
  const pin = imagePinProblem(c.image);
  if (pin) out.push(`${where}: image ${c.image}: ${pin}`);
  if (c.command?.[0] === 'node') {
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    const vol = tmp && pod.volumes?.find((v) => v.name === tmp.name);
    if (!vol?.emptyDir)
      out.push(`${where}: a Node.js container needs an emptyDir on /tmp`);
  }
}

/** Why an image reference is not pinned, or null when it has a tag or digest. */
export function imagePinProblem(image: string): string | null {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return null;
  const lastPart = image.split('/').pop() ?? '';
  const colon = lastPart.lastIndexOf(':');
  if (colon < 0) return 'no tag (pin it by tag or digest)';
  const tag = lastPart.slice(colon + 1);
  if (tag === '' || tag === 'latest') return `tag "${tag}" is not a pinned version`;
  return null;
}

/**
 * The gpu overlay's placement rules: the teacher and student workloads ask
 * for nvidia.com/gpu limits, are pinned to GPU nodes by a node selector and
 * tolerate the GPU taint, and teachers and students use different pools.
 */
export function gpuPlacementViolations(objects: Manifest[]): string[] {
  const out: string[] = [];
  const pools: Record<string, string> = {};
  for (const component of ['teacher', 'student']) {
    const workloads = objects.filter(
      (o) =>
        podTemplate(o) &&
        o.metadata.labels?.['app.kubernetes.io/component'] === component,
    );
    if (!workloads.length) out.push(`no ${component} workload in the gpu overlay`);
    for (const o of workloads) {
      const spec = podTemplate(o)!.spec;
      const where = describe(o);
      for (const c of spec.containers) {
        const gpu = Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0);
        if (!(gpu >= 1))
          out.push(`${where} container ${c.name}: no nvidia.com/gpu limit`);
      }
      const selector = spec.nodeSelector ?? {};
      if (!Object.keys(selector).length)
        out.push(`${where}: no nodeSelector for GPU nodes`);
      const key = JSON.stringify(Object.entries(selector).sort());
      if (pools[component] !== undefined && pools[component] !== key) {
        out.push(`${where}: ${component} workloads use different node selectors`);
      }
      pools[component] = key;
      const tolerates = spec.tolerations?.some(
        (t) =>
          t.key === 'nvidia.com/gpu' &&
          (t.operator === 'Exists' || t.value !== undefined),
      );
      if (!tolerates) out.push(`${where}: does not tolerate the nvidia.com/gpu taint`);
    }
  }
  if (pools.teacher !== undefined && pools.teacher === pools.student) {
    out.push('teachers and students share one node selector; they need separate pools');
  }
  return out;
}
