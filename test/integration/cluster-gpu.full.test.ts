// The full-mode cluster schedules with the real kube-scheduler onto KWOK's simulated GPU nodes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { createNamespace, kubeClient, waitFor } from '../support/cluster.ts';

const NODE = { apiVersion: 'v1', kind: 'Node' } as const;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const EVENT = { apiVersion: 'v1', kind: 'Event' } as const;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface Node extends KubeObject {
  spec?: { podCIDR?: string; taints?: Array<{ key: string; value?: string; effect: string }> };
  status?: { allocatable?: Record<string, string>; conditions?: Condition[] };
}

interface Pod extends KubeObject {
  spec?: { nodeName?: string };
  status?: { phase?: string; podIP?: string; conditions?: Condition[] };
}

const IMAGE = 'registry.invalid/unmute-fake:0'; // never pulled: KWOK runs no containers
const GPU_TOLERATION = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };
const L40S = { 'nvidia.com/gpu.product': 'NVIDIA-L40S' };

describe('simulated GPU node pool', () => {
  let client: KubeClient;
  let namespace = '';

  const nodesWith = async (labelSelector: string) => (await client.list(NODE, { labelSelector })).items.map((n) => n.metadata.name);
  const podsOf = async (labelSelector: string) => (await client.list<Pod>(POD, { namespace, labelSelector })).items;
  const isRunningReady = (p: Pod) => p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

  async function deployment(name: string, replicas: number, spec: Record<string, unknown>, gpus?: number) {
    const resources = gpus ? { limits: { 'nvidia.com/gpu': String(gpus) } } : { requests: { cpu: '100m', memory: '64Mi' } };
    await client.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { ...spec, containers: [{ name: 'main', image: IMAGE, resources }] } },
      },
    });
  }

  /** The scheduler's verdict on a pod it cannot place: PodScheduled=False/Unschedulable and a FailedScheduling Event. */
  async function expectUnschedulable(name: string, message: RegExp) {
    const condition = await waitFor(`PodScheduled=False on ${name}`, async () => {
      const pod = await client.get<Pod>(POD, name, namespace);
      return pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(condition.reason).toBe('Unschedulable');
    expect(condition.message).toMatch(message);
    const event = await waitFor(`FailedScheduling event for ${name}`, async () => {
      const events = await client.list<KubeObject & { reason?: string; message?: string }>(EVENT, { namespace, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}` });
      return events.items.find((e) => e.reason === 'FailedScheduling');
    });
    expect(event.message).toMatch(message);
    const pod = await client.get<Pod>(POD, name, namespace);
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.nodeName).toBeUndefined();
  }

  beforeAll(async () => {
    client = await kubeClient();
    namespace = await createNamespace('gpu');
  });
  afterAll(async () => {
    await client.delete({ apiVersion: 'v1', kind: 'Namespace' }, namespace);
  });

  it('has the node pool declared in scripts/cluster/nodes.yaml', async () => {
    const nodes = (await client.list<Node>(NODE, { labelSelector: 'type=kwok' })).items;
    const gpuNodes = nodes.filter((n) => n.metadata?.labels?.['nvidia.com/gpu.present'] === 'true');
    const product = (p: string) => gpuNodes.filter((n) => n.metadata?.labels?.['nvidia.com/gpu.product'] === p);
    expect(product('NVIDIA-L40S').length).toBeGreaterThanOrEqual(3);
    expect(product('NVIDIA-H100-80GB-HBM3').length).toBeGreaterThanOrEqual(1);
    for (const n of gpuNodes) {
      expect(n.status?.allocatable?.['nvidia.com/gpu']).toBe('8');
      expect(n.spec?.taints).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }));
    }
    const cpuNodes = nodes.filter((n) => !n.metadata?.labels?.['nvidia.com/gpu.present']);
    expect(cpuNodes.length).toBeGreaterThanOrEqual(2);
    for (const n of cpuNodes) expect(n.status?.allocatable?.['nvidia.com/gpu']).toBeUndefined();
    for (const n of nodes) {
      expect(n.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
      expect(n.spec?.podCIDR).toMatch(/^10\.250\.\d+\.0\/24$/);
    }
  });

  it('runs every replica of a 1-GPU Deployment on L40S nodes only, Running and Ready', async () => {
    await deployment('l40s-workers', 4, { nodeSelector: L40S, tolerations: [GPU_TOLERATION] }, 1);
    const pods = await waitFor('4 Running and Ready l40s-workers pods', async () => {
      const ps = await podsOf('app=l40s-workers');
      return ps.length === 4 && ps.every(isRunningReady) ? ps : undefined;
    }, { timeoutMs: 60_000 });
    const l40s = await nodesWith('nvidia.com/gpu.product=NVIDIA-L40S');
    for (const p of pods) {
      expect(l40s).toContain(p.spec?.nodeName);
      expect(p.status?.podIP).toMatch(/^10\.250\.\d+\.\d+$/);
    }
  });

  it('leaves a pod asking for 9 GPUs Pending with FailedScheduling', async () => {
    await client.create({
      ...POD,
      metadata: { name: 'nine-gpus', namespace },
      spec: { tolerations: [GPU_TOLERATION], containers: [{ name: 'main', image: IMAGE, resources: { limits: { 'nvidia.com/gpu': '9' } } }] },
    });
    await expectUnschedulable('nine-gpus', /Insufficient nvidia\.com\/gpu/);
  });

  it('never places a pod without the GPU toleration on a GPU node', async () => {
    await deployment('cpu-workers', 6, {});
    const pods = await waitFor('6 Running cpu-workers pods', async () => {
      const ps = await podsOf('app=cpu-workers');
      return ps.length === 6 && ps.every(isRunningReady) ? ps : undefined;
    }, { timeoutMs: 60_000 });
    const gpuNodes = await nodesWith('nvidia.com/gpu.present=true');
    for (const p of pods) expect(gpuNodes).not.toContain(p.spec?.nodeName);

    // Even when it selects an L40S node explicitly, the taint keeps it out.
    await client.create({ ...POD, metadata: { name: 'l40s-without-toleration', namespace }, spec: { nodeSelector: L40S, containers: [{ name: 'main', image: IMAGE }] } });
    await expectUnschedulable('l40s-without-toleration', /untolerated taint/);
  });
});
