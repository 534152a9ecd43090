// The chart's RBAC against what the operator actually does: every kind the renderers produce for
// the examples (in every variant that changes which kinds appear), plus the fixed set the
// controller touches. A renderer that starts writing a new kind fails here until the chart grants it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { initialReplicas } from '../../../src/autoscaler/plan.ts';
import { parseUnmuteDeployment } from '../../../src/controller/validate.ts';
import { renderFleet } from '../../../src/render/index.ts';
import { MANIFESTS_NAMESPACE } from '../../../scripts/packaging.ts';
import { grants, only, render, type K8sObject, type PolicyRule } from './support.ts';

const root = join(import.meta.dirname, '..', '..', '..');

interface Access {
  group: string;
  resource: string;
  verbs: string[];
  why: string;
  /** One object only (rules may then be limited by resourceNames). */
  name?: string;
}

// REST resource of each kind the operator writes, keyed by API group and kind. A new kind must be
// added here and to managerRules in helm/unmute-operator/templates/_helpers.tpl.
const RESOURCES: Record<string, string> = {
  'apps/Deployment': 'deployments',
  '/Service': 'services',
  '/ConfigMap': 'configmaps',
  'policy/PodDisruptionBudget': 'poddisruptionbudgets',
  'networking.k8s.io/Ingress': 'ingresses',
  'networking.k8s.io/NetworkPolicy': 'networkpolicies',
  'gateway.networking.k8s.io/HTTPRoute': 'httproutes',
  'monitoring.coreos.com/ServiceMonitor': 'servicemonitors',
  'monitoring.coreos.com/PodMonitor': 'podmonitors',
  'monitoring.coreos.com/PrometheusRule': 'prometheusrules',
  'grafana.integreatly.org/GrafanaDashboard': 'grafanadashboards',
};

// Owned objects are cached by informers (get/list/watch), server-side applied (patch, plus
// create when the object is absent) and pruned when the CR stops implying them (delete).
const WRITE_VERBS = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

/** What the controller touches besides rendered objects. */
// Checked against src/controller and src/runtime (client calls, informers, lease-lock.ts, events.ts).
const CONTROLLER_ACCESS: Access[] = [
  { group: 'unmute.sh', resource: 'unmutedeployments', verbs: ['get', 'list', 'watch'], why: 'watches its CRs' },
  { group: 'unmute.sh', resource: 'unmutedeployments', verbs: ['patch'], why: 'holds the drain finalizer (server-side apply of metadata.finalizers)' },
  { group: 'unmute.sh', resource: 'unmutedeployments/status', verbs: ['patch'], why: 'server-side applies status' },
  { group: 'unmute.sh', resource: 'unmutedeployments/finalizers', verbs: ['update'], why: 'sets owner references with blockOwnerDeletion' },
  { group: '', resource: 'pods', verbs: ['get', 'list', 'watch', 'patch'], why: 'reads backend pods and patches the serving label to drain' },
  { group: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['get', 'list', 'watch'], why: 'finds ready session endpoints' },
  { group: '', resource: 'secrets', verbs: ['get'], why: 'checks that referenced Secrets and keys exist' },
  { group: 'events.k8s.io', resource: 'events', verbs: ['create', 'patch'], why: 'records Events (src/runtime/events.ts)' },
];

// src/runtime/lease-lock.ts: get, create when missing, update with a resourceVersion; the Lease is
// named by --leader-election-id, which the chart sets to the release's full name.
const LEADER_ELECTION: Access = { group: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'], why: 'leader election', name: 'unmute-operator' };

// Spec changes that switch which kinds a CR renders (scrape object, exposure, per-fleet dashboards
// as ConfigMaps and grafana-operator objects).
const VARIANTS: Record<string, (spec: Record<string, unknown>) => Record<string, unknown>> = {
  'as written': (s) => s,
  'with PodMonitors': (s) => ({ ...s, monitoring: { ...(s['monitoring'] as object), scrapeKind: 'PodMonitor' } }),
  'exposed through an Ingress': (s) => ({ ...s, exposure: { ingress: { hosts: ['unmute.example.com'] } } }),
  'with per-fleet grafana-operator dashboards': (s) => {
    const m = (s['monitoring'] ?? {}) as Record<string, unknown>;
    const d = (m['dashboards'] ?? {}) as Record<string, unknown>;
    return { ...s, monitoring: { ...m, dashboards: { ...d, perFleet: true, grafanaOperator: { enabled: true } } } };
  },
};

function examples(): { file: string; raw: Record<string, unknown> }[] {
  const dir = join(root, 'examples');
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(dir, file), 'utf8'))
        .map((d) => d.toJS() as Record<string, unknown> | null)
        .filter((raw): raw is Record<string, unknown> => raw !== null && raw['kind'] === 'UnmuteDeployment')
        .map((raw) => ({ file, raw })),
    );
}

/** Every object the operator would write for the examples, in every variant, with every optional API served. */
function writtenObjects(): K8sObject[] {
  const out: K8sObject[] = [];
  for (const { file, raw } of examples()) {
    for (const [variant, patch] of Object.entries(VARIANTS)) {
      const metadata = { namespace: 'default', ...(raw['metadata'] as object), uid: '00000000-0000-0000-0000-000000000001' };
      const parsed = parseUnmuteDeployment({ ...raw, metadata, spec: patch(raw['spec'] as Record<string, unknown>) });
      if (!parsed.ok) throw new Error(`${file} (${variant}) does not parse: ${parsed.problems.join('; ')}`);
      const ctx = { capabilities: { prometheusOperator: true, gatewayApi: true, httpRouteTimeouts: true, grafanaOperator: true, nodeDrains: true }, replicas: initialReplicas(parsed.fleet) };
      out.push(...(renderFleet(parsed.fleet, ctx) as K8sObject[]));
    }
  }
  return out;
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Every (group, resource, verb) the operator needs in a namespace it manages. */
function requiredAccess(): Access[] {
  const kinds = new Map<string, string>();
  for (const o of writtenObjects()) kinds.set(`${groupOf(o.apiVersion)}/${o.kind}`, o.apiVersion);
  const written = [...kinds.keys()].sort().map((key): Access => {
    const resource = RESOURCES[key];
    if (resource === undefined) throw new Error(`the renderers write ${key}, which this test does not know: add it to RESOURCES and to the chart's managerRules`);
    return { group: key.slice(0, key.indexOf('/')), resource, verbs: WRITE_VERBS, why: `renders ${key}` };
  });
  return [...written, ...CONTROLLER_ACCESS];
}

function missing(rules: PolicyRule[], needed: Access[]): string[] {
  return needed.flatMap((a) => a.verbs.filter((v) => !grants(rules, a.group, a.resource, v, a.name)).map((v) => `${v} ${a.resource}.${a.group || 'core'} (${a.why})`));
}

/** Grants no entry of `needed` explains: least privilege means each one has a reason. */
function unexplained(rules: PolicyRule[], needed: Access[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) {
      for (const res of r.resources ?? []) {
        for (const v of r.verbs) {
          if (!needed.some((a) => a.group === g && a.resource === res && a.verbs.includes(v))) out.push(`${v} ${res}.${g || 'core'}`);
        }
      }
    }
  }
  return out;
}

const rulesOf = (o: K8sObject) => (o as K8sObject & { rules: PolicyRule[] }).rules;

describe('operator RBAC', () => {
  const needed = requiredAccess();

  it('covers every kind the renderers write for the examples, including monitoring objects', () => {
    const resources = new Set(needed.map((a) => `${a.resource}.${a.group}`));
    for (const r of ['deployments.apps', 'services.', 'configmaps.', 'poddisruptionbudgets.policy', 'servicemonitors.monitoring.coreos.com', 'podmonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com', 'httproutes.gateway.networking.k8s.io', 'ingresses.networking.k8s.io', 'grafanadashboards.grafana.integreatly.org']) {
      expect(resources, r).toContain(r);
    }
  });

  describe('cluster-wide (default values)', () => {
    const objects = render();
    const binding = only(objects, 'ClusterRoleBinding', 'unmute-operator') as K8sObject & { roleRef: { name: string } };
    const role = only(objects, 'ClusterRole', binding.roleRef.name);

    it('grants everything the operator writes and touches', () => {
      expect(missing(rulesOf(role), needed)).toEqual([]);
    });

    it('grants nothing the operator does not use', () => {
      expect(unexplained(rulesOf(role), needed)).toEqual([]);
    });

    it('grants the leader-election Lease only in the release namespace', () => {
      const lease = only(objects, 'Role', 'unmute-operator-leader-election');
      expect(lease.metadata.namespace).toBe(MANIFESTS_NAMESPACE);
      expect(missing(rulesOf(lease), [LEADER_ELECTION])).toEqual([]);
      expect(unexplained(rulesOf(lease), [LEADER_ELECTION])).toEqual([]);
      expect(missing(rulesOf(role), [LEADER_ELECTION])).toHaveLength(LEADER_ELECTION.verbs.length);
      // Other Leases in the namespace stay out of reach (only create is not limited by name).
      expect(missing(rulesOf(lease), [{ ...LEADER_ELECTION, name: 'someone-else' }])).toEqual([
        'get leases.coordination.k8s.io (leader election)',
        'update leases.coordination.k8s.io (leader election)',
      ]);
    });
  });

  describe('nodes', () => {
    const READ_NODES: Access = { group: '', resource: 'nodes', verbs: ['get', 'list', 'watch'], why: 'whether a node is being drained' };
    for (const [mode, values] of [['cluster-wide', {}], ['namespaced', { watchNamespaces: ['team-a'] }]] as const) {
      it(`are read only, through their own ClusterRole (${mode})`, () => {
        const objects = render({ values });
        const role = only(objects, 'ClusterRole', 'unmute-operator-nodes');
        expect(missing(rulesOf(role), [READ_NODES])).toEqual([]);
        expect(unexplained(rulesOf(role), [READ_NODES])).toEqual([]);
        const binding = only(objects, 'ClusterRoleBinding', 'unmute-operator-nodes') as K8sObject & { roleRef: { name: string } };
        expect(binding.roleRef.name).toBe('unmute-operator-nodes');
      });
    }
    it('are not read with rbac.readNodes=false', () => {
      expect(render({ values: { rbac: { readNodes: false } } }).filter((o) => o.metadata.name === 'unmute-operator-nodes')).toEqual([]);
    });
  });

  describe('namespaced mode', () => {
    const watched = ['team-a'];
    const objects = render({ values: { watchNamespaces: watched } });

    for (const ns of watched) {
      it(`grants exactly the same in ${ns} through a Role`, () => {
        const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === ns && o.metadata.name === 'unmute-operator');
        expect(role).toBeDefined();
        expect(missing(rulesOf(role!), needed)).toEqual([]);
        expect(unexplained(rulesOf(role!), needed)).toEqual([]);
      });
    }
  });
});
