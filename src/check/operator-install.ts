// What the Helm chart installs, as `check` needs to find and judge it: the labels of the operator's
// Deployment, the flags that name its Lease and watched namespace, and the access its ServiceAccount
// must have (the chart's managerRules; test/unit/check/operator-access.test.ts compares the two).
import { z } from 'zod';
import type { KubeObject } from '../runtime/object.ts';

/** Labels every chart-installed operator Deployment carries, whatever the release or name override. */
export const OPERATOR_SELECTOR = 'app.kubernetes.io/part-of=unmute-operator,app.kubernetes.io/component=operator';
export const DEFAULT_OPERATOR_NAMESPACE = 'unmute-system';
/** `run`'s default --leader-election-id. */
export const DEFAULT_LEASE_NAME = 'unmute-operator';

export interface RequiredAccess {
  group: string;
  resource: string;
  verbs: string[];
  why: string;
  /** Only needed when this kind is served (CRDs of other projects). */
  optionalKind?: { apiVersion: string; kind: string };
}

const WRITE = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

/** In every namespace the operator manages. */
export const MANAGER_ACCESS: readonly RequiredAccess[] = [
  { group: 'unmute.sh', resource: 'unmutedeployments', verbs: ['get', 'list', 'watch', 'patch'], why: 'reads its CRs, holds their drain finalizer' },
  { group: 'unmute.sh', resource: 'unmutedeployments/status', verbs: ['patch'], why: 'writes status' },
  { group: 'unmute.sh', resource: 'unmutedeployments/finalizers', verbs: ['update'], why: 'owner references with blockOwnerDeletion' },
  { group: 'apps', resource: 'deployments', verbs: WRITE, why: 'the fleet Deployments' },
  { group: '', resource: 'services', verbs: WRITE, why: 'the fleet Services' },
  { group: '', resource: 'configmaps', verbs: WRITE, why: 'dashboard ConfigMaps' },
  { group: 'policy', resource: 'poddisruptionbudgets', verbs: WRITE, why: 'the backend PDB' },
  { group: 'networking.k8s.io', resource: 'ingresses', verbs: WRITE, why: 'spec.exposure.ingress' },
  { group: 'networking.k8s.io', resource: 'networkpolicies', verbs: WRITE, why: 'spec.networkPolicy' },
  {
    group: 'gateway.networking.k8s.io',
    resource: 'httproutes',
    verbs: WRITE,
    why: 'spec.exposure.gateway',
    optionalKind: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  },
  ...(['ServiceMonitor', 'PodMonitor', 'PrometheusRule'] as const).map((kind) => ({
    group: 'monitoring.coreos.com',
    resource: `${kind.toLowerCase()}s`,
    verbs: WRITE,
    why: 'generated monitoring',
    optionalKind: { apiVersion: 'monitoring.coreos.com/v1', kind },
  })),
  {
    group: 'grafana.integreatly.org',
    resource: 'grafanadashboards',
    verbs: WRITE,
    why: 'grafana-operator dashboards',
    optionalKind: { apiVersion: 'grafana.integreatly.org/v1beta1', kind: 'GrafanaDashboard' },
  },
  { group: '', resource: 'pods', verbs: ['get', 'list', 'watch', 'patch'], why: 'session metrics and drains' },
  { group: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['get', 'list', 'watch'], why: 'serving endpoints' },
  { group: '', resource: 'secrets', verbs: ['get'], why: 'referenced Secrets exist' },
  { group: 'events.k8s.io', resource: 'events', verbs: ['create', 'patch'], why: 'Events on the CRs' },
];

/** In the operator's own namespace, on its own Lease (create cannot be limited to a name). */
export const LEASE_ACCESS: readonly { verb: string; named: boolean }[] = [
  { verb: 'get', named: true },
  { verb: 'update', named: true },
  { verb: 'create', named: false },
];

const deploymentSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), namespace: z.string() }),
  spec: z
    .looseObject({
      replicas: z.number().int().optional(),
      template: z
        .looseObject({
          spec: z
            .looseObject({
              serviceAccountName: z.string().optional(),
              containers: z.array(z.looseObject({ args: z.array(z.string()).optional() })).optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
  status: z.looseObject({ readyReplicas: z.number().int().optional() }).optional(),
});

/** The facts of an operator Deployment that `check` judges, from its spec (flags) and status. */
export function describeOperatorDeployment(obj: KubeObject) {
  const d = deploymentSchema.parse(obj);
  const podSpec = d.spec?.template?.spec;
  const args = podSpec?.containers?.[0]?.args ?? [];
  const flag = (name: string) => {
    for (const [i, a] of args.entries()) {
      if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
      if (a === `--${name}`) return args[i + 1];
    }
    return undefined;
  };
  return {
    namespace: d.metadata.namespace,
    name: d.metadata.name,
    serviceAccount: podSpec?.serviceAccountName ?? 'default',
    desiredReplicas: d.spec?.replicas ?? 1,
    readyReplicas: d.status?.readyReplicas ?? 0,
    watchNamespace: flag('namespace') || undefined,
    leaderElection: !args.includes('--no-leader-elect'),
    leaseName: flag('leader-election-id') ?? DEFAULT_LEASE_NAME,
  };
}
