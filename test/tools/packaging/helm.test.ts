// The Helm chart, rendered by the real helm binary (built by `npm run cluster:build`).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHART_DIR, helmLint, MANIFESTS_NAMESPACE } from '../../../scripts/packaging.ts';
import { restrictedViolations, type PodSpec } from './pod-security.ts';
import { grants, only, parseObjects, render, type K8sObject, type PolicyRule } from './support.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const chartDir = join(root, CHART_DIR);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

const NAMESPACED = { watchNamespaces: ['team-a'] };

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string }[];
  securityContext: Record<string, unknown>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  ports: { name: string; containerPort: number }[];
  resources: Record<string, unknown>;
}

function deployment(objects: K8sObject[]) {
  return only(objects, 'Deployment') as K8sObject & {
    spec: { replicas: number; template: { spec: PodSpec & { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[] } } };
  };
}

function container(objects: K8sObject[]): Container {
  return deployment(objects).spec.template.spec.containers[0]!;
}

const rulesOf = (o: K8sObject) => (o as K8sObject & { rules: PolicyRule[] }).rules;

describe('helm chart', () => {
  it('passes helm lint --strict with default values', () => {
    expect(helmLint()).toMatch(/0 chart\(s\) failed/);
  });

  it('passes helm lint --strict in namespaced mode with every optional object on', () => {
    expect(helmLint({ ...NAMESPACED, serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } })).toMatch(/0 chart\(s\) failed/);
  });

  it('declares chart apiVersion v2, Kubernetes >= 1.29 and the package version', () => {
    const chart = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'unmute-operator', kubeVersion: '>=1.29.0-0', version: pkg.version, appVersion: pkg.version });
  });

  it('carries CRDs byte-identical to crds/', () => {
    const repo = readdirSync(join(root, 'crds')).sort();
    expect(readdirSync(join(chartDir, 'crds')).sort()).toEqual(repo);
    for (const f of repo) {
      expect(readFileSync(join(chartDir, 'crds', f), 'utf8') === readFileSync(join(root, 'crds', f), 'utf8'), `${f} differs`).toBe(true);
    }
  });

  it('ships the same dashboards as dashboards/', () => {
    for (const f of readdirSync(join(chartDir, 'dashboards'))) {
      expect(readFileSync(join(chartDir, 'dashboards', f), 'utf8') === readFileSync(join(root, 'dashboards', f), 'utf8'), `${f} differs`).toBe(true);
    }
  });

  describe('with default values', () => {
    const objects = render();
    const c = container(objects);

    it('runs two replicas of the image at the chart appVersion, with leader election on its own Lease', () => {
      expect(deployment(objects).spec.replicas).toBe(2);
      expect(c.image).toBe(`ghcr.io/unmute-sh/unmute-operator:${pkg.version}`);
      expect(c.args).toContain('--leader-elect');
    });

    it('passes the run command exactly the flags it parses', () => {
      expect(c.args).toEqual([
        'run',
        '--leader-elect',
        '--leader-election-id=unmute-operator',
        '--metrics-bind-address=:8080',
        '--health-probe-bind-address=:8081',
        '--log-level=info',
      ]);
      expect(c.env?.map((e) => e.name)).toEqual(['POD_NAME', 'POD_NAMESPACE']);
    });

    it('probes /healthz and /readyz on the health port 8081', () => {
      expect(c.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'health', containerPort: 8081 }), expect.objectContaining({ name: 'metrics', containerPort: 8080 })]));
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    });

    it('sets resource requests and a memory limit', () => {
      expect(c.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    });

    it('exposes the metrics port through a Service and leaves the ServiceMonitor and PrometheusRule off', () => {
      const svc = only(objects, 'Service') as K8sObject & { spec: { ports: { name: string; port: number }[]; selector: Record<string, string> } };
      expect(svc.spec.ports).toEqual([expect.objectContaining({ name: 'metrics', port: 8080, targetPort: 'metrics' })]);
      expect(svc.spec.selector).toEqual((deployment(objects).spec as unknown as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels);
      expect(objects.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')).toEqual([]);
    });

    it('binds the manager rules cluster-wide and the lease rules only in the release namespace', () => {
      const binding = only(objects, 'ClusterRoleBinding', 'unmute-operator') as K8sObject & { roleRef: { name: string }; subjects: { name: string; namespace: string }[] };
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'unmute-operator', namespace: MANIFESTS_NAMESPACE }]);
      const role = only(objects, 'ClusterRole', binding.roleRef.name);
      expect(grants(rulesOf(role), 'unmute.sh', 'unmutedeployments', 'watch')).toBe(true);
      expect(grants(rulesOf(role), 'coordination.k8s.io', 'leases', 'update')).toBe(false);
      const lease = only(objects, 'Role', 'unmute-operator-leader-election');
      expect(lease.metadata.namespace).toBe(MANIFESTS_NAMESPACE);
      expect(rulesOf(lease)).toEqual([
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['unmute-operator'], verbs: ['get', 'update'] },
      ]);
    });

    it('grants no wildcard anywhere', () => {
      for (const o of objects.filter((x) => x.kind === 'ClusterRole' || x.kind === 'Role')) {
        for (const r of rulesOf(o)) expect([...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs], `${o.kind} ${o.metadata.name}`).not.toContain('*');
      }
    });

    it('adds UnmuteDeployment rights to the built-in admin, edit and view roles', () => {
      const edit = only(objects, 'ClusterRole', 'unmute-operator-edit');
      expect(edit.metadata.labels).toMatchObject({ 'rbac.authorization.k8s.io/aggregate-to-edit': 'true', 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' });
      expect(grants(rulesOf(edit), 'unmute.sh', 'unmutedeployments', 'create')).toBe(true);
      const view = only(objects, 'ClusterRole', 'unmute-operator-view');
      expect(grants(rulesOf(view), 'unmute.sh', 'unmutedeployments', 'create')).toBe(false);
    });

    it('keeps at most one replica down during voluntary disruptions', () => {
      expect(only(objects, 'PodDisruptionBudget')).toMatchObject({ spec: { maxUnavailable: 1 } });
    });

    it('ships the shared dashboards (every fleet\'s and the operator\'s) as one ConfigMap for the Grafana sidecar', () => {
      const cm = only(objects, 'ConfigMap', 'unmute-operator-dashboard') as K8sObject & { data: Record<string, string> };
      expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
      const files = readdirSync(join(chartDir, 'dashboards')).filter((f) => f.endsWith('.json'));
      expect(Object.keys(cm.data).sort()).toEqual(files.sort());
      const dashboards = Object.values(cm.data).map((json) => JSON.parse(json) as { uid: string; templating: { list: { name: string }[] } });
      expect(dashboards.map((d) => d.uid).sort()).toEqual(['unmute-fleet', 'unmute-latency', 'unmute-operator', 'unmute-overview', 'unmute-service-health', 'unmute-throughput', 'unmute-user-behaviour']);
      // One set serves every fleet: the fleet dashboards choose it with variables.
      for (const d of dashboards.filter((x) => x.uid !== 'unmute-operator')) expect(d.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['namespace', 'fleet']));
      // A ConfigMap holds at most 1 MiB.
      expect(Buffer.byteLength(JSON.stringify(cm.data))).toBeLessThan(900 * 1024);
    });

    it('puts every namespaced object in the release namespace', () => {
      const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding']);
      for (const o of objects.filter((x) => !clusterScoped.has(x.kind))) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(MANIFESTS_NAMESPACE);
    });
  });

  describe('in namespaced mode', () => {
    const objects = render({ values: NAMESPACED });

    it('grants the manager rules through a Role and RoleBinding in the watched namespace only', () => {
      for (const ns of NAMESPACED.watchNamespaces) {
        const role = objects.find((o) => o.kind === 'Role' && o.metadata.namespace === ns);
        expect(role, `Role in ${ns}`).toBeDefined();
        expect(grants(rulesOf(role!), 'apps', 'deployments', 'patch')).toBe(true);
        const binding = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === ns) as K8sObject & { roleRef: { kind: string; name: string }; subjects: { namespace: string }[] };
        expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role!.metadata.name });
        expect(binding.subjects[0]!.namespace).toBe(MANIFESTS_NAMESPACE);
      }
      // Cluster-scoped: reading Nodes (rbac.test.ts checks it grants nothing else), and the
      // aggregated user-facing roles, which grant the operator nothing.
      expect(objects.filter((o) => o.kind === 'ClusterRoleBinding').map((o) => o.metadata.name)).toEqual(['unmute-operator-nodes']);
      expect(objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name).sort()).toEqual(['unmute-operator-edit', 'unmute-operator-nodes', 'unmute-operator-view']);
    });

    it('tells the operator which namespace to watch', () => {
      expect(container(objects).args).toContain('--namespace=team-a');
    });

    it('refuses more than one namespace (the operator watches one, or all)', () => {
      expect(() => render({ values: { watchNamespaces: ['team-a', 'team-b'] } })).toThrow(/watchNamespaces/);
    });
  });

  describe('every pod the chart renders', () => {
    const variants: Record<string, Record<string, unknown>> = {
      'default values': {},
      'namespaced mode': NAMESPACED,
      'one replica, custom affinity': { replicaCount: 1, leaderElection: { enabled: false }, affinity: { nodeAffinity: {} } },
    };
    for (const [name, values] of Object.entries(variants)) {
      it(`meets the restricted Pod Security profile and runs non-root with a read-only root (${name})`, () => {
        const pods = render({ values })
          .filter((o) => (o.spec as { template?: unknown } | undefined)?.template !== undefined)
          .map((o) => (o.spec as { template: { spec: PodSpec } }).template.spec);
        expect(pods.length).toBeGreaterThan(0);
        for (const pod of pods) {
          expect(restrictedViolations(pod)).toEqual([]);
          expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
          for (const c of pod.containers) {
            expect(c.securityContext).toEqual({
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            });
          }
        }
      });
    }

    it('would fail the profile if a user dropped the securityContext (the check is not vacuous)', () => {
      // helm merges values maps: null is how a user deletes a default key.
      const weakened = {
        securityContext: { allowPrivilegeEscalation: null, runAsNonRoot: null, seccompProfile: null, capabilities: null },
        podSecurityContext: { runAsNonRoot: null, seccompProfile: null },
      };
      const pod = deployment(render({ values: weakened })).spec.template.spec;
      expect(restrictedViolations(pod)).toEqual([
        'container operator does not set allowPrivilegeEscalation: false',
        'container operator does not set runAsNonRoot: true',
        'container operator has no RuntimeDefault/Localhost seccomp profile',
        'container operator does not drop ALL capabilities',
      ]);
    });
  });

  it('renders a ServiceMonitor and a PrometheusRule for the operator when asked', () => {
    const objects = render({ values: { serviceMonitor: { enabled: true, labels: { release: 'kps' } }, prometheusRule: { enabled: true, labels: { release: 'kps' } } } });
    const sm = only(objects, 'ServiceMonitor') as K8sObject & { spec: { endpoints: { port: string }[]; selector: { matchLabels: Record<string, string> } } };
    expect(sm.metadata.labels).toMatchObject({ release: 'kps' });
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect(sm.spec.selector.matchLabels).toEqual((only(objects, 'Service').spec as { selector: Record<string, string> }).selector);
    const rule = only(objects, 'PrometheusRule') as K8sObject & { spec: { groups: { rules: { alert: string; expr: string }[] }[] } };
    const rules = rule.spec.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toContain('UnmuteOperatorDown');
    // The ServiceMonitor's job label is the Service name: the alerts must select that job.
    for (const r of rules) expect(r.expr).toContain(`job="unmute-operator-metrics", namespace="${MANIFESTS_NAMESPACE}"`);
    expect(JSON.stringify(rule)).not.toMatch(/__UNMUTE_OPERATOR_/);
  });

  it('passes the throughput values as the run command\'s flags, 0 included, and none of them by default', () => {
    const args = container(render({ values: { workers: 16, kubeApi: { qps: 0, burst: 500, maxInFlight: 64 } } })).args;
    expect(args).toEqual(expect.arrayContaining(['--workers=16', '--kube-api-qps=0', '--kube-api-burst=500', '--kube-api-max-in-flight=64']));
    expect(container(render({ values: { kubeApi: { maxInFlight: 8 } } })).args.filter((a) => /^--(workers|kube-api)/.test(a))).toEqual(['--kube-api-max-in-flight=8']);
    expect(() => render({ values: { workers: 0 } })).toThrow(/workers/);
    expect(() => render({ values: { kubeApi: { inFlight: 8 } } })).toThrow(/inFlight/);
  });

  it('uses the image digest instead of the tag when one is given', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(container(render({ values: { image: { repository: 'r.example.com/op', digest, pullPolicy: 'IfNotPresent' } } })).image).toBe(`r.example.com/op@${digest}`);
  });

  it('turns leader election off explicitly for a single replica', () => {
    const args = container(render({ values: { replicaCount: 1, leaderElection: { enabled: false } } })).args;
    expect(args).toContain('--no-leader-elect');
    expect(args).not.toContain('--leader-elect');
  });

  it('refuses two replicas without leader election', () => {
    expect(() => render({ values: { leaderElection: { enabled: false } } })).toThrow(/replicaCount > 1 needs leaderElection.enabled=true/);
  });

  it('rejects unknown values (values.schema.json), so typos do not pass silently', () => {
    expect(() => render({ values: { replicas: 3 } })).toThrow(/replicas/);
    expect(() => render({ values: { logLevel: 'verbose' } })).toThrow(/logLevel/);
  });
});

describe('manifests/', () => {
  const dir = join(root, 'manifests');

  it('is the chart rendered with default values, plus the CRDs and the Namespace', () => {
    const read = (f: string) => parseObjects(readFileSync(join(dir, f), 'utf8'));
    expect(read('operator.yaml')).toEqual(render());
    expect(read('crds.yaml').map((o) => o.metadata.name)).toEqual(
      readdirSync(join(root, 'crds')).sort().flatMap((f) => parseObjects(readFileSync(join(root, 'crds', f), 'utf8')).map((o) => o.metadata.name)),
    );
    expect(only(read('namespace.yaml'), 'Namespace', MANIFESTS_NAMESPACE).metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
  });

  it('lists every file in kustomization.yaml, Namespace and CRDs first', () => {
    const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...k.resources].sort()).toEqual(files.sort());
    expect(k.resources.slice(0, 2)).toEqual(['namespace.yaml', 'crds.yaml']);
  });
});
