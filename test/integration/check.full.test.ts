// `unmute-operator check` on the full-mode cluster: simulated GPU nodes (KWOK), the
// prometheus-operator CRDs, and the operator installed from the chart (its pods simulated, its
// Lease written by the test as a leader would), so the access reviews meet the real RBAC authorizer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { checkCluster } from '../../src/check/run.ts';
import { isNotFound } from '../../src/runtime/errors.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { formatMicroTime } from '../../src/runtime/lease-lock.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { isWriteVerb } from '../../src/runtime/request-counter.ts';
import { helmTemplate } from '../../scripts/packaging.ts';
import { createNamespace, kubeConfig, waitFor } from '../support/cluster.ts';
import { runCheck, tempFile, theCheck, type Report } from './check-support.ts';

const FIELD_MANAGER = 'check-test';

function aCr(name: string, namespace: string, gpu: Record<string, unknown>): Record<string, unknown> {
  const token = { name: 'hf-token', key: 'token' };
  return {
    apiVersion: 'unmute.sh/v1alpha1',
    kind: 'UnmuteDeployment',
    metadata: { name, namespace },
    spec: {
      backend: { image: 'ghcr.io/acme/unmute-backend:1' },
      stt: { image: 'ghcr.io/acme/moshi-server:1', hfTokenSecretRef: token },
      tts: { image: 'ghcr.io/acme/moshi-server:1', hfTokenSecretRef: token },
      llm: { inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'google/gemma-3-1b-it', hfTokenSecretRef: token } },
      gpu,
      monitoring: { labels: { release: 'kps' } },
    },
  };
}

describe('check on the full-mode cluster with an installed operator', () => {
  let client: KubeClient;
  let ns = '';
  let installed: KubeObject[] = [];
  let report: Report;

  beforeAll(async () => {
    client = await KubeClient.fromKubeConfig(kubeConfig());
    ns = await createNamespace('check-op');
    // Release name = namespace: every cluster-scoped object of this install is unique to the test.
    installed = parseAllDocuments(helmTemplate({ releaseName: ns, namespace: ns, values: { image: { repository: 'registry.invalid/unmute-operator' } } }))
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o !== null);
    for (const o of installed) await client.apply(o, { fieldManager: FIELD_MANAGER });
    const deployment = installed.find((o) => o.kind === 'Deployment')!;
    await waitFor(
      'both operator replicas Ready (simulated by KWOK)',
      async () => ((await client.get(deployment, deployment.metadata.name!, ns))['status'] as { readyReplicas?: number } | undefined)?.readyReplicas === 2,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    // What a leading replica keeps in its Lease (named by --leader-election-id, the release's full name).
    const pods = await client.list({ apiVersion: 'v1', kind: 'Pod' }, { namespace: ns });
    const now = formatMicroTime(Date.now());
    await client.apply(
      {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: deployment.metadata.name!, namespace: ns },
        spec: { holderIdentity: pods.items[0]!.metadata.name, leaseDurationSeconds: 120, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      },
      { fieldManager: FIELD_MANAGER },
    );
    await client.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hf-token', namespace: ns }, stringData: { token: 'hf_x' } }, { fieldManager: FIELD_MANAGER });
    const crs = [
      aCr('fits', ns, { product: 'NVIDIA-L40S' }),
      aCr('no-such-gpu', ns, { product: 'NVIDIA-A100' }),
      aCr('wrong-toleration', ns, { product: 'NVIDIA-L40S', tolerationKey: 'example.com/gpu' }),
    ];
    const file = tempFile('fleets.yaml', crs.map((c) => stringify(c)).join('---\n'));
    report = (await runCheck(['-f', file, '--operator-namespace', ns])).report;
  });

  afterAll(async () => {
    for (const o of installed.filter((x) => x.metadata.namespace === undefined)) {
      await client.delete(o, o.metadata.name!).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
    }
    await client.close();
  });

  it('sees the installed operator running, leading, and allowed everything the chart grants', () => {
    expect(theCheck(report, 'operator.running')).toMatchObject({ status: 'pass', message: `${ns}/${ns}-unmute-operator: 2/2 ready, watches all namespaces` });
    const leader = theCheck(report, 'operator.leader');
    expect(leader.status).toBe('pass');
    expect(leader.message).toMatch(new RegExp(`^${ns}-unmute-operator-\\S+ leads`));
    expect(theCheck(report, 'rbac.operator')).toMatchObject({ status: 'pass' });
    expect(theCheck(report, 'operator.crd').status).toBe('pass');
  });

  it('reports the simulated GPU nodes and the prometheus-operator CRDs as ✔', () => {
    const nodes = theCheck(report, 'gpu.nodes');
    expect(nodes.status).toBe('pass');
    expect(nodes.message).toContain('NVIDIA-L40S: 3 nodes, 24 nvidia.com/gpu');
    expect(nodes.message).toContain('NVIDIA-H100-80GB-HBM3: 1 node, 8 nvidia.com/gpu');
    expect(theCheck(report, 'monitoring.crds').status).toBe('pass');
    const fits = theCheck(report, 'gpu.fleet', `${ns}/fits`);
    expect(fits.status).toBe('pass');
    expect(fits.details).toHaveLength(3);
  });

  it('fails GPU pods no node can take, and says why', () => {
    expect(theCheck(report, 'gpu.fleet', `${ns}/no-such-gpu`).message).toContain('none matches nvidia.com/gpu.product=NVIDIA-A100');
    const taint = theCheck(report, 'gpu.fleet', `${ns}/wrong-toleration`);
    expect(taint.status).toBe('fail');
    expect(taint.message).toContain('nvidia.com/gpu=present:NoSchedule');
  });

  it('warns that no Prometheus is there to select the fleet, with the labels it looked for', () => {
    const prom = theCheck(report, 'monitoring.prometheus', `${ns}/fits`);
    expect(prom.status).toBe('warn');
    expect(prom.message).toContain('kind Prometheus is not served');
    expect(prom.message).toContain('release=kps');
  });

  it('reads only: its one kind of create is the access review, and the cluster holds no new fleet', async () => {
    const reader = await KubeClient.fromKubeConfig(kubeConfig());
    try {
      await checkCluster(reader, { namespace: ns, operatorNamespace: ns, now: Date.now() });
      const writes = Object.entries(reader.requests.snapshot()).filter(([k]) => isWriteVerb(k.split(' ')[0] as never));
      expect(writes.map(([k]) => k)).toEqual(['create SubjectAccessReview']);
    } finally {
      await reader.close();
    }
    const fleets = await client.list({ apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' }, { namespace: ns });
    expect(fleets.items).toEqual([]);
  });

  it('fails RBAC, request by request, once the ClusterRoleBinding is gone', async () => {
    const binding = installed.find((o) => o.kind === 'ClusterRoleBinding')!;
    await client.delete(binding, binding.metadata.name!);
    const r = theCheck((await runCheck(['--operator-namespace', ns, '-n', ns])).report, 'rbac.operator');
    expect(r.status).toBe('fail');
    expect(r.details).toContain('patch pods in all namespaces (session metrics and drains)');
    // The leader-election Role is still bound.
    expect(r.details!.some((d) => d.includes('leases'))).toBe(false);
  });
});
