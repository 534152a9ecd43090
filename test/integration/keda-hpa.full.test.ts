// What a user who wants session-based scaling installs today, on the full local cluster: KEDA (the
// pinned keda-operator and keda-adapter, scripts/cluster/keda.ts) with a Prometheus trigger, and the
// real HPA controller of kube-controller-manager reading external.metrics.k8s.io through the
// aggregation layer. A fake Prometheus in the netns answers the trigger's query with a value this
// test writes; the ScaledObject's Deployment (KWOK pods) must scale up to ceil(value / threshold)
// and back down.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON_ADDRESSES, clusterRef } from '../../scripts/cluster/addons.ts';
import { prometheusScaledObject, startKeda, type Keda } from '../../scripts/cluster/keda.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { clusterInfo, createNamespace, kubeClient, spawnInNetns, stopNetnsProcesses, waitFor } from '../support/cluster.ts';

const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;
const HPA = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' } as const;
const SCALED_OBJECT = { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject' } as const;
const THRESHOLD = 10;

interface DeploymentObject extends KubeObject {
  spec: { replicas?: number };
  status?: { readyReplicas?: number };
}
interface HpaObject extends KubeObject {
  spec: { metrics?: Array<{ type: string; external?: { metric: { name: string; selector?: { matchLabels?: Record<string, string> } } } }> };
  status?: {
    desiredReplicas?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message?: string }>;
    currentMetrics?: Array<{ external?: { current: { averageValue?: string; value?: string } } }>;
  };
}

describe('KEDA with a Prometheus trigger drives the real HPA', () => {
  let client: KubeClient;
  let keda: Keda | undefined;
  let namespace = '';
  const valueFile = join(tmpdir(), `keda-fake-prometheus-${process.pid}.value`);
  const address = `${ADDON_ADDRESSES.free}:9090`;
  const timings: Record<string, number> = {};

  const replicas = async () => (await client.get<DeploymentObject>(DEPLOYMENT, 'web', namespace)).spec.replicas;
  const ready = async () => (await client.get<DeploymentObject>(DEPLOYMENT, 'web', namespace)).status?.readyReplicas ?? 0;

  beforeAll(async () => {
    client = await kubeClient();
    const t0 = Date.now();
    keda = await startKeda(clusterRef(clusterInfo().name), { log: (m) => process.stderr.write(`[keda] ${m}\n`) });
    timings['kedaStartMs'] = Date.now() - t0;
    namespace = await createNamespace('keda-hpa');
    writeFileSync(valueFile, '0');
    const fake = spawnInNetns(process.execPath, ['test/support/fake-prometheus.ts', address, valueFile]);
    await fake.waitForOutput(/listening/, 15_000);
    await client.create({
      ...DEPLOYMENT,
      metadata: { name: 'web', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'sim.invalid/web:1' }] } },
      },
    });
    await waitFor('web ready', async () => (await ready()) === 1, { timeoutMs: 60_000 });
    await client.create(
      prometheusScaledObject({
        namespace,
        name: 'web',
        deployment: 'web',
        serverAddress: `http://${address}`,
        query: 'sum(worker_active_sessions)',
        threshold: THRESHOLD,
        minReplicas: 1,
        maxReplicas: 6,
        pollingInterval: 1,
        // The HPA's default scale-down window (5 min) is the ScaledObject's to override, as a user would.
        behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] } },
      }),
    );
  }, 180_000);

  afterAll(async () => {
    if (namespace) await client.delete(SCALED_OBJECT, 'web', namespace).catch(() => undefined);
    await keda?.stop();
    await stopNetnsProcesses();
    process.stderr.write(`[keda] timings ${JSON.stringify(timings)}\n`);
  });

  it('KEDA creates an HPA on an External metric that the HPA controller reads through the aggregation layer', async () => {
    const hpa = await waitFor('HPA keda-hpa-web reading its metric', async () => {
      const h = await client.getIfExists<HpaObject>(HPA, 'keda-hpa-web', namespace);
      const active = h?.status?.conditions?.find((c) => c.type === 'ScalingActive');
      return active?.status === 'True' ? h : undefined;
    }, { timeoutMs: 60_000 });
    const metric = hpa!.spec.metrics?.[0]?.external?.metric;
    expect(hpa!.spec.metrics?.[0]?.type).toBe('External');
    expect(metric?.selector?.matchLabels).toEqual({ 'scaledobject.keda.sh/name': 'web' });
    expect(hpa!.status?.conditions?.find((c) => c.type === 'ScalingActive')?.reason).toBe('ValidMetricFound');
    // What the HPA controller read, through kube-apiserver's aggregator from keda-adapter: the
    // fake Prometheus' 0, per pod.
    expect(Number(hpa!.status?.currentMetrics?.[0]?.external?.current.averageValue ?? 'NaN')).toBe(0);
    // The group's discovery document comes from keda-adapter through the same proxy.
    const resources = JSON.parse(await client.raw('GET', '/apis/external.metrics.k8s.io/v1beta1')) as { groupVersion: string };
    expect(resources.groupVersion).toBe('external.metrics.k8s.io/v1beta1');
  });

  it('scales the Deployment up to ceil(value / threshold) and back down', async () => {
    writeFileSync(valueFile, String(4 * THRESHOLD - 5)); // 35 sessions, 10 per pod: 4 pods
    let t = Date.now();
    await waitFor('4 replicas', async () => (await replicas()) === 4, { timeoutMs: 60_000, intervalMs: 100 });
    timings['scaleUpMs'] = Date.now() - t;
    await waitFor('4 ready pods', async () => (await ready()) === 4, { timeoutMs: 60_000 });
    // The HPA's next syncs see 35 over 4 pods: averageValue 8.75, as a Kubernetes quantity.
    const hpa = await waitFor('the HPA to read 35 sessions over 4 pods', async () => {
      const h = await client.get<HpaObject>(HPA, 'keda-hpa-web', namespace);
      return h.status?.currentMetrics?.[0]?.external?.current.averageValue === '8750m' ? h : undefined;
    });
    expect(hpa.status?.desiredReplicas).toBe(4);

    writeFileSync(valueFile, '0');
    t = Date.now();
    await waitFor('1 replica', async () => (await replicas()) === 1, { timeoutMs: 60_000, intervalMs: 100 });
    timings['scaleDownMs'] = Date.now() - t;
    // The HPA sync period (1 s in the test cluster) plus KEDA's read of the fake Prometheus bound both.
    expect(timings['scaleUpMs']).toBeLessThan(30_000);
  });
});
