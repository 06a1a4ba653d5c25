import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The repository root: the image's WORKDIR (/app) holds the same tree. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const k8sDir = join(repoRoot, 'deploy', 'k8s');
export const overlays = ['cpu', 'gpu'] as const;
export type Overlay = (typeof overlays)[number];

export type Labels = Record<string, string>;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Labels;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

export interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path?: string; port: number | string };
  exec?: { command: string[] };
  tcpSocket?: { port: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}

export type ResourceList = Record<string, string | number>;

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: ResourceList; limits?: ResourceList };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string };
  configMap?: { name: string };
  hostPath?: { path: string };
  persistentVolumeClaim?: { claimName: string };
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  nodeSelector?: Labels;
  tolerations?: { key?: string; operator?: string; value?: string; effect?: string }[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  restartPolicy?: string;
}

export interface PodTemplate {
  metadata?: { labels?: Labels };
  spec: PodSpec;
}

/** One rendered Kubernetes object; `spec` is read through the helpers below. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

/** Kinds whose pods run until stopped: their containers need probes. */
export const longRunningKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);
/** Kinds that carry a pod template at spec.template. */
export const workloadKinds = new Set([...longRunningKinds, 'Job', 'ReplicaSet']);

const rendered = new Map<string, Manifest[]>();

/**
 * Renders a kustomization with `kubectl kustomize` (offline) and parses every
 * document. A missing kubectl is an error naming the package to install.
 */
export function renderKustomization(dir: string, kubectl = 'kubectl'): Manifest[] {
  const key = `${kubectl}\0${dir}`;
  const cached = rendered.get(key);
  if (cached) return structuredClone(cached);
  let out: string;
  try {
    out = execFileSync(kubectl, ['kustomize', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        `${kubectl} not found on PATH: the deploy tests render the manifests with ` +
          '`kubectl kustomize`; install it (Debian: apt-get install kubernetes-client)',
      );
    }
    throw new Error(`kubectl kustomize ${dir} failed:\n${e.stderr ?? e.message}`);
  }
  const objects = parseManifests(out, dir);
  rendered.set(key, objects);
  return structuredClone(objects);
}

/** Renders one of the overlays under deploy/k8s/overlays. */
export function renderOverlay(overlay: Overlay): Manifest[] {
  return renderKustomization(join(k8sDir, 'overlays', overlay));
}

/** Parses a multi-document YAML stream into objects, refusing malformed ones. */
export function parseManifests(text: string, source: string): Manifest[] {
  const objects: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) {
      throw new Error(`${source}: YAML error: ${doc.errors[0].message}`);
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const obj = value as Partial<Manifest>;
    if (
      typeof obj.apiVersion !== 'string' ||
      typeof obj.kind !== 'string' ||
      typeof obj.metadata?.name !== 'string'
    ) {
      throw new Error(
        `${source}: every document needs apiVersion, kind and metadata.name; got ` +
          JSON.stringify(value).slice(0, 200),
      );
    }
    objects.push(obj as Manifest);
  }
  return objects;
}

/** `Kind/name` for messages. */
export function describe(obj: Manifest): string {
  return `${obj.kind}/${obj.metadata.name}`;
}

/** The pod template of a workload, or undefined for other kinds. */
export function podTemplate(obj: Manifest): PodTemplate | undefined {
  if (!workloadKinds.has(obj.kind)) return undefined;
  return obj.spec?.template as PodTemplate | undefined;
}

/** Every container (init containers included) of a workload's pods. */
export function containersOf(obj: Manifest): Container[] {
  const spec = podTemplate(obj)?.spec;
  return spec ? [...(spec.initContainers ?? []), ...spec.containers] : [];
}

/** Finds exactly one object of a kind and name; throws naming what is missing. */
export function find(objects: Manifest[], kind: string, name: string): Manifest {
  const hits = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (hits.length !== 1) {
    throw new Error(
      `expected one ${kind}/${name} in the manifests, found ${hits.length}`,
    );
  }
  return hits[0];
}

/** The single container of a workload with that name. */
export function container(obj: Manifest, name: string): Container {
  const found = containersOf(obj).find((c) => c.name === name);
  if (!found) throw new Error(`${describe(obj)} has no container "${name}"`);
  return found;
}

/** True for the project's own images (vicinal, vicinal-gpu, with any registry). */
export function isVicinalImage(image: string): boolean {
  const repo = image.split('@')[0].replace(/:[^/:]+$/, '');
  const last = repo.split('/').pop() ?? '';
  return last === 'vicinal' || last === 'vicinal-gpu';
}

/**
 * A container's environment as the kubelet would build it: fieldRef values
 * from `fields` and `$(VAR)` expanded from variables defined earlier in the
 * list. References that cannot be resolved are reported in `unresolved`.
 */
export function resolveEnv(
  c: Container,
  fields: Record<string, string>,
): { env: Record<string, string>; unresolved: string[] } {
  const env: Record<string, string> = {};
  const unresolved: string[] = [];
  for (const v of c.env ?? []) {
    if (v.valueFrom?.fieldRef) {
      const path = v.valueFrom.fieldRef.fieldPath;
      if (!(path in fields)) unresolved.push(`${v.name}: fieldRef ${path}`);
      env[v.name] = fields[path] ?? '';
      continue;
    }
    env[v.name] = (v.value ?? '').replace(
      /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
      (ref, name) => {
        if (name in env) return env[name];
        unresolved.push(`${v.name}: $(${name}) is not defined before it`);
        return ref;
      },
    );
  }
  return { env, unresolved };
}

/** `spec[key]` of an object; throws naming the object when it is absent. */
export function specField<T>(obj: Manifest, key: string): T {
  const value = obj.spec?.[key];
  if (value === undefined) throw new Error(`${describe(obj)} has no spec.${key}`);
  return value as T;
}

/** The pod spec of a workload; throws for objects without a pod template. */
export function podSpec(obj: Manifest): PodSpec {
  const template = podTemplate(obj);
  if (!template) throw new Error(`${describe(obj)} has no pod template`);
  return template.spec;
}
