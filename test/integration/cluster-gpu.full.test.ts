// The full-mode cluster schedules with the real kube-scheduler onto KWOK's simulated GPU nodes.
import { AppsV1Api, CoreV1Api, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, kubeConfig, waitFor } from '../support/cluster.ts';

const IMAGE = 'registry.invalid/unmute-fake:0'; // never pulled: KWOK runs no containers
const GPU_TOLERATION = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };
const L40S = { 'nvidia.com/gpu.product': 'NVIDIA-L40S' };

describe('simulated GPU node pool', () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  let namespace = '';

  const nodesWith = async (labelSelector: string) => (await core.listNode({ labelSelector })).items.map((n) => n.metadata!.name!);
  const podsOf = async (labelSelector: string) => (await core.listNamespacedPod({ namespace, labelSelector })).items;
  const isRunningReady = (p: V1Pod) => p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

  async function deployment(name: string, replicas: number, spec: Omit<V1PodSpec, 'containers'>, gpus?: number) {
    const resources = gpus ? { limits: { 'nvidia.com/gpu': String(gpus) } } : { requests: { cpu: '100m', memory: '64Mi' } };
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name },
        spec: {
          replicas,
          selector: { matchLabels: { app: name } },
          template: { metadata: { labels: { app: name } }, spec: { ...spec, containers: [{ name: 'main', image: IMAGE, resources }] } },
        },
      },
    });
  }

  /** The scheduler's verdict on a pod it cannot place: PodScheduled=False/Unschedulable and a FailedScheduling Event. */
  async function expectUnschedulable(name: string, message: RegExp) {
    const condition = await waitFor(`PodScheduled=False on ${name}`, async () => {
      const pod = await core.readNamespacedPod({ name, namespace });
      return pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    });
    expect(condition.reason).toBe('Unschedulable');
    expect(condition.message).toMatch(message);
    const event = await waitFor(`FailedScheduling event for ${name}`, async () => {
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${name}` });
      return events.items.find((e) => e.reason === 'FailedScheduling');
    });
    expect(event.message).toMatch(message);
    const pod = await core.readNamespacedPod({ name, namespace });
    expect(pod.status?.phase).toBe('Pending');
    expect(pod.spec?.nodeName).toBeUndefined();
  }

  beforeAll(async () => {
    namespace = await createNamespace(kc, 'gpu');
  });
  afterAll(async () => {
    await core.deleteNamespace({ name: namespace });
  });

  it('has the node pool declared in scripts/cluster/nodes.yaml', async () => {
    const nodes = (await core.listNode({ labelSelector: 'type=kwok' })).items;
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
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'nine-gpus' },
        spec: { tolerations: [GPU_TOLERATION], containers: [{ name: 'main', image: IMAGE, resources: { limits: { 'nvidia.com/gpu': '9' } } }] },
      },
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
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name: 'l40s-without-toleration' }, spec: { nodeSelector: L40S, containers: [{ name: 'main', image: IMAGE }] } },
    });
    await expectUnschedulable('l40s-without-toleration', /untolerated taint/);
  });
});
