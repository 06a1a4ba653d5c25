import { describe, type Manifest } from './manifests.js';

interface ValidatingModel {
  validate(): void;
}
type ModelClass = new (data: unknown) => ValidatingModel;

/**
 * Validates one object against the Kubernetes OpenAPI schema shipped in
 * kubernetes-models (offline). Returns the errors; an apiVersion or kind the
 * package does not know is an error too. Unknown fields are not reported by
 * these validators: see `unknownFields`.
 */
export async function schemaErrors(obj: Manifest): Promise<string[]> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`kubernetes-models/${obj.apiVersion}`)) as Record<
      string,
      unknown
    >;
  } catch {
    return [`${describe(obj)}: no schemas for apiVersion "${obj.apiVersion}"`];
  }
  const Model = mod[obj.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') {
    return [`${describe(obj)}: no schema for kind ${obj.kind} in ${obj.apiVersion}`];
  }
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    const e = err as Error & { errors?: { instancePath: string; message?: string }[] };
    const details = e.errors?.map((x) => `${x.instancePath || '/'} ${x.message ?? ''}`);
    return [`${describe(obj)}: ${details?.join('; ') ?? e.message}`];
  }
}

type Shape =
  | { kind: 'leaf' }
  | { kind: 'object'; fields: Record<string, Shape> }
  | { kind: 'list'; item: Shape };

const leaf: Shape = { kind: 'leaf' };
const obj = (fields: Record<string, Shape>): Shape => ({ kind: 'object', fields });
const list = (item: Shape): Shape => ({ kind: 'list', item });
const leaves = (...names: string[]) => Object.fromEntries(names.map((n) => [n, leaf]));

const metadata = obj(leaves('name', 'namespace', 'labels', 'annotations'));
const selector = obj(leaves('matchLabels', 'matchExpressions'));
const probe = obj({
  ...leaves(
    'initialDelaySeconds',
    'periodSeconds',
    'timeoutSeconds',
    'successThreshold',
    'failureThreshold',
    'terminationGracePeriodSeconds',
  ),
  exec: obj(leaves('command')),
  grpc: obj(leaves('port', 'service')),
  httpGet: obj(leaves('path', 'port', 'host', 'scheme', 'httpHeaders')),
  tcpSocket: obj(leaves('port', 'host')),
});
const seccompProfile = obj(leaves('type', 'localhostProfile'));
const containerSecurity = obj({
  ...leaves(
    'runAsNonRoot',
    'runAsUser',
    'runAsGroup',
    'allowPrivilegeEscalation',
    'readOnlyRootFilesystem',
    'privileged',
    'procMount',
    'seLinuxOptions',
  ),
  capabilities: obj(leaves('add', 'drop')),
  seccompProfile,
});
const podSecurity = obj({
  ...leaves(
    'runAsNonRoot',
    'runAsUser',
    'runAsGroup',
    'fsGroup',
    'fsGroupChangePolicy',
    'supplementalGroups',
    'sysctls',
    'seLinuxOptions',
  ),
  seccompProfile,
});
const envVar = obj({
  ...leaves('name', 'value'),
  valueFrom: obj({
    fieldRef: obj(leaves('fieldPath', 'apiVersion')),
    ...leaves('resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'),
  }),
});
const container = obj({
  ...leaves(
    'name',
    'image',
    'imagePullPolicy',
    'command',
    'args',
    'workingDir',
    'envFrom',
    'lifecycle',
    'terminationMessagePath',
    'terminationMessagePolicy',
  ),
  env: list(envVar),
  ports: list(obj(leaves('name', 'containerPort', 'protocol', 'hostPort', 'hostIP'))),
  resources: obj(leaves('requests', 'limits', 'claims')),
  volumeMounts: list(
    obj(
      leaves(
        'name',
        'mountPath',
        'readOnly',
        'subPath',
        'subPathExpr',
        'mountPropagation',
      ),
    ),
  ),
  startupProbe: probe,
  readinessProbe: probe,
  livenessProbe: probe,
  securityContext: containerSecurity,
});
const volume = obj({
  ...leaves('name', 'secret', 'projected', 'downwardAPI', 'hostPath'),
  emptyDir: obj(leaves('medium', 'sizeLimit')),
  configMap: obj(leaves('name', 'items', 'defaultMode', 'optional')),
  persistentVolumeClaim: obj(leaves('claimName', 'readOnly')),
});
const podTemplate = obj({
  metadata,
  spec: obj({
    ...leaves(
      'nodeSelector',
      'affinity',
      'terminationGracePeriodSeconds',
      'automountServiceAccountToken',
      'serviceAccountName',
      'restartPolicy',
      'hostNetwork',
      'hostPID',
      'hostIPC',
      'priorityClassName',
      'topologySpreadConstraints',
      'dnsPolicy',
      'enableServiceLinks',
      'imagePullSecrets',
      'runtimeClassName',
      'shareProcessNamespace',
    ),
    containers: list(container),
    initContainers: list(container),
    volumes: list(volume),
    securityContext: podSecurity,
    tolerations: list(
      obj(leaves('key', 'operator', 'value', 'effect', 'tolerationSeconds')),
    ),
  }),
});
const scalingRules = obj({
  ...leaves('stabilizationWindowSeconds', 'selectPolicy'),
  policies: list(obj(leaves('type', 'value', 'periodSeconds'))),
});
const metricTarget = obj(leaves('type', 'value', 'averageValue', 'averageUtilization'));
const metricSource = obj({
  metric: obj(leaves('name', 'selector')),
  target: metricTarget,
});

/** The fields checked per kind; objects of other kinds are reported. */
const shapes: Record<string, Shape> = {
  Namespace: obj({ ...leaves('apiVersion', 'kind'), metadata }),
  ConfigMap: obj({
    ...leaves('apiVersion', 'kind', 'data', 'binaryData', 'immutable'),
    metadata,
  }),
  Service: obj({
    ...leaves('apiVersion', 'kind'),
    metadata,
    spec: obj({
      ...leaves(
        'type',
        'selector',
        'clusterIP',
        'clusterIPs',
        'publishNotReadyAddresses',
        'sessionAffinity',
        'ipFamilyPolicy',
        'ipFamilies',
        'internalTrafficPolicy',
      ),
      ports: list(obj(leaves('name', 'port', 'targetPort', 'protocol', 'appProtocol'))),
    }),
  }),
  Deployment: obj({
    ...leaves('apiVersion', 'kind'),
    metadata,
    spec: obj({
      ...leaves(
        'replicas',
        'minReadySeconds',
        'revisionHistoryLimit',
        'progressDeadlineSeconds',
      ),
      selector,
      strategy: obj({
        type: leaf,
        rollingUpdate: obj(leaves('maxSurge', 'maxUnavailable')),
      }),
      template: podTemplate,
    }),
  }),
  StatefulSet: obj({
    ...leaves('apiVersion', 'kind'),
    metadata,
    spec: obj({
      ...leaves(
        'replicas',
        'serviceName',
        'podManagementPolicy',
        'updateStrategy',
        'persistentVolumeClaimRetentionPolicy',
        'minReadySeconds',
        'revisionHistoryLimit',
      ),
      selector,
      template: podTemplate,
      volumeClaimTemplates: list(
        obj({
          metadata,
          spec: obj({
            ...leaves('accessModes', 'storageClassName', 'volumeMode', 'selector'),
            resources: obj(leaves('requests', 'limits')),
          }),
        }),
      ),
    }),
  }),
  Job: obj({
    ...leaves('apiVersion', 'kind'),
    metadata,
    spec: obj({
      ...leaves(
        'parallelism',
        'completions',
        'completionMode',
        'backoffLimit',
        'backoffLimitPerIndex',
        'maxFailedIndexes',
        'activeDeadlineSeconds',
        'ttlSecondsAfterFinished',
        'suspend',
        'podFailurePolicy',
        'podReplacementPolicy',
      ),
      template: podTemplate,
    }),
  }),
  HorizontalPodAutoscaler: obj({
    ...leaves('apiVersion', 'kind'),
    metadata,
    spec: obj({
      ...leaves('minReplicas', 'maxReplicas'),
      scaleTargetRef: obj(leaves('apiVersion', 'kind', 'name')),
      metrics: list(
        obj({
          type: leaf,
          pods: metricSource,
          external: metricSource,
          object: obj({
            ...leaves('describedObject'),
            metric: metricSource,
            target: metricTarget,
          }),
          resource: obj({ name: leaf, target: metricTarget }),
        }),
      ),
      behavior: obj({ scaleUp: scalingRules, scaleDown: scalingRules }),
    }),
  }),
  PodDisruptionBudget: obj({
    ...leaves('apiVersion', 'kind'),
    metadata,
    spec: obj({
      ...leaves('minAvailable', 'maxUnavailable', 'unhealthyPodEvictionPolicy'),
      selector,
    }),
  }),
};

/**
 * Field names the schema validators let through: every key of the object
 * that is not a known field at its place (a typo such as `readinesProbe`),
 * as `Kind/name: path.to.key`.
 */
export function unknownFields(o: Manifest): string[] {
  const shape = shapes[o.kind];
  if (!shape) return [`${describe(o)}: no field list for kind ${o.kind}`];
  const found: string[] = [];
  walk(o, shape, '', found);
  return found.map((p) => `${describe(o)}: unknown field ${p}`);
}

function walk(value: unknown, shape: Shape, path: string, found: string[]): void {
  if (shape.kind === 'leaf' || value === null || value === undefined) return;
  if (shape.kind === 'list') {
    if (!Array.isArray(value)) return;
    value.forEach((item, i) => {
      walk(item, shape.item, `${path}[${i}]`, found);
    });
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const childPath = path ? `${path}.${key}` : key;
    const childShape = shape.fields[key];
    if (!childShape) found.push(childPath);
    else walk(child, childShape, childPath, found);
  }
}
