// Pods on a node being drained: replaced first, drained once the replacement is ready (or at once
// when the GPU budget leaves no room beside them), removed when empty; never counted, never undrained.
import { describe, expect, it } from 'vitest';
import { autoscaling } from '../../../src/api/v1alpha1/autoscaling.ts';
import { DRAIN_SETTLE_MS, decide, type ComponentPod, type FollowerInput, type PolicyInput } from '../../../src/autoscaler/policy.ts';
import { renderDisruptionBudget } from '../../../src/render/disruption.ts';
import { describeComponent } from '../../../src/api/v1alpha1/components.ts';
import { isLeavingNode, type NodeView } from '../../../src/runtime/views.ts';
import { nodeDrainFields } from '../../../src/runtime/transform.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const NOW = 1_000_000;
const spec = autoscaling.parse({ enabled: true, minReplicas: 1, maxReplicas: 10, scaleDownStabilizationSeconds: 60 });

const pod = (name: string, load: number | undefined, over: Partial<ComponentPod> = {}): ComponentPod => ({
  name,
  serving: true,
  phase: 'Running',
  terminating: false,
  load,
  observedAtMs: NOW,
  ready: true,
  ...over,
});

function stt(pods: ComponentPod[], replicas: number): FollowerInput {
  return { replicas, pods, slotsPerReplica: 10, gpusPerReplica: 1, history: [], startupSeconds: 120, perSession: 1 };
}

/** One backend with 2 sessions (its floor asks for 1 STT pod) and the STT pool given. */
function input(sttPool: FollowerInput, over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    nowMs: NOW,
    spec,
    maxSessionsPerPod: 4,
    replicas: 1,
    pods: [pod('backend-a', 2)],
    history: [],
    followers: { stt: sttPool },
    fixedGpus: 0,
    gpuBudget: undefined,
    pendingGpuPods: 0,
    ...over,
  };
}

describe('a tier whose only pod is on a node being drained', () => {
  it('asks for a replacement first and keeps the old pod serving', () => {
    const d = decide(input(stt([pod('stt-old', 2, { evacuating: true })], 1))).followers.stt!;
    expect(d.replicas).toBe(2);
    expect(d.drain).toEqual([]);
    expect(d.direction).toBe('up');
    expect(d.reason).toMatch(/serve until their replacement is ready/);
  });

  it('keeps it serving while the replacement starts', () => {
    const pods = [pod('stt-old', 2, { evacuating: true }), pod('stt-new', undefined, { phase: 'Pending', ready: false })];
    const d = decide(input(stt(pods, 2))).followers.stt!;
    expect(d.replicas).toBe(2);
    expect(d.drain).toEqual([]);
  });

  it('drains it once the replacement is ready, without lowering replicas yet', () => {
    const pods = [pod('stt-old', 2, { evacuating: true }), pod('stt-new', 0)];
    const d = decide(input(stt(pods, 2))).followers.stt!;
    expect(d.drain).toEqual(['stt-old']);
    expect(d.replicas).toBe(2);
    expect(d.remove).toEqual([]);
  });

  it('removes it once empty after the settle time, lowering replicas by exactly that pod', () => {
    const since = NOW - 10_000;
    const old = pod('stt-old', 0, { evacuating: true, serving: false, drainingSinceMs: since, observedAtMs: since + DRAIN_SETTLE_MS });
    const d = decide(input(stt([old, pod('stt-new', 2)], 2))).followers.stt!;
    expect(d.remove).toEqual(['stt-old']);
    expect(d.replicas).toBe(1);
  });

  it('never brings a drained pod on a leaving node back, even when load rises', () => {
    const old = pod('stt-old', 3, { evacuating: true, serving: false, drainingSinceMs: NOW - 1000 });
    // 40 sessions on 10 backends: the floor asks for more STT pods.
    const backends = Array.from({ length: 10 }, (_, i) => pod(`backend-${i}`, 4));
    const d = decide(input(stt([old, pod('stt-new', 8)], 2), { replicas: 10, pods: backends })).followers.stt!;
    expect(d.undrain).toEqual([]);
    expect(d.replicas).toBeGreaterThan(2);
  });

  it('drains first when the GPU budget leaves no room for a replacement beside it', () => {
    const d = decide(input(stt([pod('stt-old', 2, { evacuating: true })], 1), { gpuBudget: 1 })).followers.stt!;
    expect(d.drain).toEqual(['stt-old']);
    expect(d.reason).toMatch(/before their replacement/);
  });
});

describe('backends on a node being drained', () => {
  it('are replaced one for one and leave rotation only when the replacements are ready', () => {
    const pods = [pod('b-1', 3, { evacuating: true }), pod('b-2', 3, { evacuating: true }), pod('b-3', 2)];
    const first = decide(input(stt([pod('stt-0', 8)], 1), { replicas: 3, pods }));
    expect(first.replicas).toBe(5);
    expect(first.drain).toEqual([]);

    const starting = [...pods, pod('b-4', undefined, { phase: 'Pending', ready: false }), pod('b-5', 0)];
    const half = decide(input(stt([pod('stt-0', 8)], 1), { replicas: 5, pods: starting }));
    // One replacement ready: one of the two leaves (the emptier), the other serves on.
    expect(half.drain).toHaveLength(1);
    expect(half.replicas).toBe(5);
  });
});

describe('the PodDisruptionBudget', () => {
  const fleet = anUnmuteDeployment({ autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 4 } });
  const backend = describeComponent(fleet.spec, 'backend')!;
  it('refuses evictions of a tier the operator sizes and moves itself', () => {
    const pdb = renderDisruptionBudget(fleet, backend, { nodeDrains: true });
    expect(pdb.spec?.maxUnavailable).toBe(0);
    expect(pdb.spec?.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
  });
  it('lets one eviction through at a time when the operator cannot see nodes', () => {
    expect(renderDisruptionBudget(fleet, backend, { nodeDrains: false }).spec?.maxUnavailable).toBe(1);
  });
  it('lets one eviction through at a time for a tier of fixed size', () => {
    const fixed = anUnmuteDeployment();
    expect(renderDisruptionBudget(fixed, describeComponent(fixed.spec, 'backend')!, { nodeDrains: true }).spec?.maxUnavailable).toBe(1);
  });
});

describe('nodes being drained', () => {
  const node = (spec: NodeView['spec']): NodeView => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, ...(spec === undefined ? {} : { spec }) });
  it('are cordoned ones and those tainted for removal by a cluster autoscaler', () => {
    expect(isLeavingNode(node({ unschedulable: true }))).toBe(true);
    expect(isLeavingNode(node({ taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] }))).toBe(true);
    expect(isLeavingNode(node({ taints: [{ key: 'karpenter.sh/disrupted', effect: 'NoSchedule' }] }))).toBe(true);
    expect(isLeavingNode(node({ taints: [{ key: 'nvidia.com/gpu', effect: 'NoSchedule' }] }))).toBe(false);
    expect(isLeavingNode(node({ taints: [{ key: 'DeletionCandidateOfClusterAutoscaler', effect: 'PreferNoSchedule' }] }))).toBe(false);
    expect(isLeavingNode(node(undefined))).toBe(false);
  });
  it('are cached with only what says so', () => {
    const full = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'gpu-1', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, managedFields: [{}] },
      spec: { unschedulable: true, podCIDR: '10.0.0.0/24' },
      status: { images: [{ names: ['x'] }] },
    };
    expect(nodeDrainFields(full)).toEqual({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'gpu-1', uid: 'u', resourceVersion: '7' }, spec: { unschedulable: true } });
  });
});

describe('replacements and the stabilisation window', () => {
  it('replace what the window still keeps, not only what the load asks for now', () => {
    // Two STT pods kept by the window (a recommendation of 2 a minute ago) while one would do: both on a leaving node.
    const pods = [pod('stt-a', 1, { evacuating: true }), pod('stt-b', 1, { evacuating: true })];
    const d = decide(input({ ...stt(pods, 2), history: [{ atMs: NOW - 30_000, serving: 2 }] })).followers.stt!;
    expect(d.replicas).toBe(4);
    expect(d.drain).toEqual([]);
  });
});
