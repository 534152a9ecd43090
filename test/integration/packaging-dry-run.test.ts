// The install artifacts against a real kube-apiserver: manifests/ and `helm template` output are
// server-side applied with dryRun=All (schemas, CRDs of third parties, PodSecurity "restricted"),
// and the chart's RBAC is asked, as the chart's ServiceAccount, for everything the operator does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialReplicas } from '../../src/autoscaler/plan.ts';
import { parseUnmuteDeployment } from '../../src/controller/validate.ts';
import { renderFleet } from '../../src/render/index.ts';
import { helmTemplate, MANIFESTS_NAMESPACE } from '../../scripts/packaging.ts';
import { KubeApiError } from '../../src/runtime/errors.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { createNamespace, kubeClient, serviceAccountToken, tokenKubeConfig } from '../support/cluster.ts';
import { apply, dryRunProblems, FIELD_MANAGER, objects, type Obj } from './packaging-support.ts';

const root = join(import.meta.dirname, '..', '..');

/** Dry-run applies every object; returns failures and warnings as readable lines (empty: all accepted, silently). */
async function dryRunAll(client: KubeClient, objs: Obj[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objs) problems.push(...(await dryRunProblems(client, o)));
  return problems;
}

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

describe('install artifacts against the API server', () => {
  let client: KubeClient;
  beforeAll(async () => {
    client = await kubeClient();
  });

  /** A fresh namespace enforcing the restricted Pod Security profile. */
  async function restrictedNamespace(prefix: string): Promise<string> {
    const name = await createNamespace(prefix);
    await apply(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: RESTRICTED } });
    return name;
  }

  it('accepts manifests/ (Namespace created for real, everything else dry-run)', async () => {
    const dir = join(root, 'manifests');
    const [ns, ...rest] = ['namespace.yaml', 'crds.yaml', 'operator.yaml'].flatMap((f) => objects(readFileSync(join(dir, f), 'utf8')));
    expect(ns!.kind).toBe('Namespace');
    await apply(client, ns!);
    expect(rest.every((o) => o.metadata.namespace === undefined || o.metadata.namespace === MANIFESTS_NAMESPACE)).toBe(true);
    expect(await dryRunAll(client, rest)).toEqual([]);
  });

  it('accepts helm template with CRDs and every optional object on, in a restricted namespace', async () => {
    const namespace = await restrictedNamespace('pkg-helm');
    const stream = helmTemplate({
      releaseName: namespace,
      namespace,
      includeCrds: true,
      values: { serviceMonitor: { enabled: true, labels: { release: 'kps' } }, prometheusRule: { enabled: true } },
    });
    const objs = objects(stream);
    expect(objs.map((o) => o.kind)).toEqual(expect.arrayContaining(['CustomResourceDefinition', 'Deployment', 'ServiceMonitor', 'PrometheusRule', 'ConfigMap']));
    expect(await dryRunAll(client, objs)).toEqual([]);
  });

  it('accepts helm template in namespaced mode', async () => {
    const namespace = await restrictedNamespace('pkg-ns');
    const watched = [await createNamespace('pkg-team')];
    const objs = objects(helmTemplate({ releaseName: namespace, namespace, values: { watchNamespaces: watched } }));
    expect(objs.filter((o) => o.kind === 'Role').map((o) => o.metadata.namespace).sort()).toEqual([...watched, namespace].sort());
    expect(await dryRunAll(client, objs)).toEqual([]);
  });

  it('admits the operator pod under PodSecurity "restricted" enforcement', async () => {
    const namespace = await restrictedNamespace('pkg-pss');
    const deployment = objects(helmTemplate({ releaseName: namespace, namespace })).find((o) => o.kind === 'Deployment')!;
    const template = (deployment['spec'] as { template: { metadata: Record<string, unknown>; spec: unknown } }).template;
    const pod: Obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'operator-pss-check', namespace, labels: template.metadata['labels'] as Record<string, string> }, spec: template.spec };
    expect(await dryRunProblems(client, pod)).toEqual([]);
  });

  it('would reject a pod that breaks the profile (the namespace really enforces it)', async () => {
    const namespace = await restrictedNamespace('pkg-pss');
    const pod: Obj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'root-pod', namespace }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
    const err = await client.apply(pod, { fieldManager: FIELD_MANAGER, dryRun: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 403, message: expect.stringMatching(/violates PodSecurity "restricted/) });
  });

  describe("the chart's ServiceAccount, as seen by the RBAC authorizer", () => {
    const made: Obj[] = [];
    let release = '';
    let user = '';
    let groups: string[] = [];
    let asOperator: KubeClient | undefined;

    beforeAll(async () => {
      release = await createNamespace('pkg-rbac');
      // Installed for real: the ServiceAccount and its bindings. Cluster-scoped ones are removed afterwards.
      const objs = objects(helmTemplate({ releaseName: release, namespace: release })).filter((o) => /^(ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/.test(o.kind));
      for (const o of objs) {
        await apply(client, o);
        made.push(o);
      }
      const sa = objs.find((o) => o.kind === 'ServiceAccount')!;
      user = `system:serviceaccount:${release}:${sa.metadata.name}`;
      groups = ['system:serviceaccounts', `system:serviceaccounts:${release}`, 'system:authenticated'];
      asOperator = await KubeClient.fromKubeConfig(tokenKubeConfig(await serviceAccountToken(release, sa.metadata.name), 'operator'));
    });

    afterAll(async () => {
      await asOperator?.close();
      for (const o of made.filter((x) => x.kind === 'ClusterRole' || x.kind === 'ClusterRoleBinding')) await client.delete(o, o.metadata.name);
    });

    /** SubjectAccessReview: what the authorizer decides for the ServiceAccount. */
    async function allowed(attrs: { group: string; resource: string; subresource?: string; verb: string; namespace?: string; name?: string }): Promise<boolean> {
      const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups, resourceAttributes: attrs } };
      const answer = await client.raw('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { body: review });
      return (JSON.parse(answer) as { status: { allowed: boolean } }).status.allowed;
    }

    it('may apply every object rendered from the examples (with its token, dry-run)', async () => {
      const target = await createNamespace('pkg-fleet');
      const problems: string[] = [];
      for (const file of ['external-llm.yaml', 'multi-gpu-production.yaml', 'single-gpu-dev.yaml']) {
        for (const raw of objects(readFileSync(join(root, 'examples', file), 'utf8'))) {
          const parsed = parseUnmuteDeployment({ ...raw, metadata: { ...raw.metadata, namespace: target, uid: '00000000-0000-0000-0000-000000000001' } });
          if (!parsed.ok) throw new Error(`${file}: ${parsed.problems.join('; ')}`);
          const ctx = { capabilities: { prometheusOperator: true, gatewayApi: true, httpRouteTimeouts: true, grafanaOperator: false, nodeDrains: true }, replicas: initialReplicas(parsed.fleet) };
          for (const o of renderFleet(parsed.fleet, ctx) as Obj[]) {
            for (const p of await dryRunProblems(asOperator!, o)) problems.push(`${file}: ${p}`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it('may watch its CRs and the objects it owns in every namespace, and write CR status', async () => {
      const denied: string[] = [];
      const checks = [
        { group: 'unmute.sh', resource: 'unmutedeployments', verb: 'watch' },
        { group: 'unmute.sh', resource: 'unmutedeployments', subresource: 'status', verb: 'patch' },
        { group: 'unmute.sh', resource: 'unmutedeployments', subresource: 'finalizers', verb: 'update' },
        { group: 'apps', resource: 'deployments', verb: 'list' },
        { group: 'apps', resource: 'deployments', verb: 'delete' },
        { group: '', resource: 'pods', verb: 'watch' },
        { group: '', resource: 'pods', verb: 'patch' },
        { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'watch' },
        { group: '', resource: 'secrets', verb: 'get' },
        { group: 'events.k8s.io', resource: 'events', verb: 'create' },
      ];
      for (const c of checks) if (!(await allowed(c))) denied.push(`${c.verb} ${c.resource}${c.subresource ? '/' + c.subresource : ''}.${c.group}`);
      expect(denied).toEqual([]);
    });

    it('may read nodes but never change them, never read Secrets in bulk, nor take any Lease but its own', async () => {
      expect(await allowed({ group: '', resource: 'secrets', verb: 'list' })).toBe(false);
      expect(await allowed({ group: '', resource: 'secrets', verb: 'watch' })).toBe(false);
      // Nodes: whether one is being drained (rbac.readNodes), nothing more.
      for (const verb of ['get', 'list', 'watch']) expect(await allowed({ group: '', resource: 'nodes', verb })).toBe(true);
      for (const verb of ['patch', 'update', 'delete']) expect(await allowed({ group: '', resource: 'nodes', verb })).toBe(false);
      expect(await allowed({ group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verb: 'create' })).toBe(false);
      // The Lease is named after the release (--leader-election-id), like the ServiceAccount.
      const lease = user.slice(user.lastIndexOf(':') + 1);
      expect(await allowed({ group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: release })).toBe(true);
      expect(await allowed({ group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: release, name: lease })).toBe(true);
      expect(await allowed({ group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: release, name: 'another-lease' })).toBe(false);
      expect(await allowed({ group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: 'kube-system', name: lease })).toBe(false);
    });
  });
});
