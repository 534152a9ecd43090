// Load-aware routing: full backends leave rotation and come back when a slot frees.
import { describe, expect, it } from 'vitest';
import { ANNOTATION_POD_DELETION_COST, LABEL_SERVING } from '../../../src/api/v1alpha1/labels.ts';
import { DELETION_COST_REMOVE } from '../../../src/autoscaler/drain.ts';
import type { LoadObservation } from '../../../src/autoscaler/gather.ts';
import { planFleet } from '../../../src/autoscaler/plan.ts';
import { decide, type ComponentPod, type PolicyInput } from '../../../src/autoscaler/policy.ts';
import { acceptUntil, freeSlots, hotPods, rotationChanges, rotationOff } from '../../../src/autoscaler/rotation.ts';
import { autoscaling } from '../../../src/api/v1alpha1/autoscaling.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const NOW = 1_000_000;
const pod = (name: string, load: number | undefined, over: Partial<ComponentPod> = {}): ComponentPod => ({ name, serving: true, phase: 'Running', terminating: false, load, observedAtMs: NOW, ...over });
const observed = (pods: ComponentPod[]): LoadObservation => ({ pods, errors: new Map(), active: pods.reduce((n, p) => n + (p.load ?? 0), 0), unknownPods: 0 });

describe('rotation', () => {
  it('takes a backend at acceptUntil out and puts a full one back when a session ends', () => {
    const pods = [pod('a', 4), pod('b', 3, { full: true }), pod('c', 2), pod('d', 4, { full: true })];
    expect(rotationChanges(pods, 4)).toEqual({ toFull: ['a'], toRotation: ['b'] });
  });

  it('puts a full backend back when its reading is gone, and leaves draining or excluded pods alone', () => {
    const pods = [pod('a', undefined, { full: true }), pod('b', 4, { serving: false }), pod('c', 4)];
    expect(rotationChanges(pods, 4, new Set(['c']))).toEqual({ toFull: [], toRotation: ['a'] });
  });

  it('keeps the Service from emptying: with every backend full they all stay in rotation, until one can take callers', () => {
    // Every backend at acceptUntil: none leaves, the full ones come back (callers wait for a slot
    // instead of finding no endpoint at all).
    const allFull = [pod('a', 4), pod('b', 4, { full: true }), pod('c', 5, { full: true })];
    expect(rotationChanges(allFull, 4)).toEqual({ toFull: [], toRotation: ['b', 'c'] });
    // A new backend that is not Ready yet takes nobody: still all in.
    expect(rotationChanges([...allFull, pod('d', 0, { ready: false })], 4)).toEqual({ toFull: [], toRotation: ['b', 'c'] });
    // Once it is Ready (read or not yet read), the full ones leave again.
    expect(rotationChanges([pod('a', 4), pod('b', 4), pod('c', 5), pod('d', 0)], 4)).toEqual({ toFull: ['a', 'b', 'c'], toRotation: [] });
    expect(rotationChanges([pod('a', 4), pod('d', undefined)], 4)).toEqual({ toFull: ['a'], toRotation: [] });
    // A pod the same plan drains is no slot for new callers.
    expect(rotationChanges([pod('a', 4), pod('d', 0)], 4, new Set(['d']))).toEqual({ toFull: [], toRotation: [] });
  });

  it('counts free slots on backends in rotation only, and reads hot ones fast', () => {
    const pods = [pod('a', 1), pod('b', 4, { full: true }), pod('c', 3), pod('d', undefined), pod('e', 0, { serving: false })];
    expect(freeSlots(pods, 4)).toBe(4);
    expect(hotPods(pods, 4)).toEqual(['b', 'c']);
  });

  it('puts every full backend back when load-aware routing is off, whatever its load', () => {
    const pods = [pod('a', 4, { full: true }), pod('b', 4), pod('c', 4, { full: true, serving: false }), pod('d', undefined, { full: true })];
    expect(rotationOff(pods, new Set(['d']))).toEqual({ toFull: [], toRotation: ['a'] });
  });

  it('uses acceptUntil when set, never above maxSessionsPerPod', () => {
    expect(acceptUntil(anUnmuteDeployment())).toBe(4);
    expect(acceptUntil(anUnmuteDeployment({ backend: { routing: { acceptUntil: 3 } } }))).toBe(3);
  });
});

describe('planning with load-aware routing', () => {
  it('patches the serving label of backends that fill up or free a slot, also without autoscaling', () => {
    const plan = planFleet({ fleet: anUnmuteDeployment({ backend: { replicas: 2 } }), nowMs: NOW, pods: [], observations: { backend: observed([pod('a', 4), pod('b', 2, { full: true })]) }, deployedReplicas: {}, memory: { history: {}, samples: [] } });
    expect(plan.podPatches).toEqual([
      { name: 'a', labels: { [LABEL_SERVING]: 'full' }, annotations: {} },
      { name: 'b', labels: { [LABEL_SERVING]: 'true' }, annotations: {} },
    ]);
    expect(plan.sessions.free).toBe(0);
    expect(plan.hot).toEqual(['a', 'b']);
  });

  it('does nothing of the kind when routing is not load-aware', () => {
    const plan = planFleet({
      fleet: anUnmuteDeployment({ backend: { routing: { loadAware: false } } }),
      nowMs: NOW,
      pods: [],
      observations: { backend: observed([pod('a', 4)]) },
      deployedReplicas: {},
      memory: { history: {}, samples: [] },
    });
    expect(plan.podPatches).toEqual([]);
    expect(plan.hot).toEqual([]);
  });

  it('brings a backend left full back into rotation when load-aware routing is switched off', () => {
    // Full when the switch flipped: nothing reads it fast any more, so the plan must release it.
    const plan = planFleet({
      fleet: anUnmuteDeployment({ backend: { replicas: 2, routing: { loadAware: false } } }),
      nowMs: NOW,
      pods: [],
      observations: { backend: observed([pod('a', 4, { full: true }), pod('b', 1)]) },
      deployedReplicas: {},
      memory: { history: {}, samples: [] },
    });
    expect(plan.podPatches).toEqual([{ name: 'a', labels: { [LABEL_SERVING]: 'true' }, annotations: {} }]);
    expect(plan.hot).toEqual([]);
  });

  it('never marks full a backend the same plan drains', () => {
    const fleet = anUnmuteDeployment({ autoscaling: { enabled: true, minReplicas: 1, scaleDownStabilizationSeconds: 0 } });
    const plan = planFleet({ fleet, nowMs: NOW, pods: [], observations: { backend: observed([pod('a', 0), pod('b', 0)]) }, deployedReplicas: { backend: 2 }, memory: { history: {}, samples: [] } });
    expect(plan.podPatches.map((p) => [p.name, p.labels[LABEL_SERVING]])).toEqual([['a', 'false']]);
  });
});

describe('scaling up for room in rotation', () => {
  const input = (pods: ComponentPod[], over: Partial<PolicyInput> = {}): PolicyInput => ({
    nowMs: NOW,
    spec: autoscaling.parse({ enabled: true, minReplicas: 1, maxReplicas: 10, targetSessionsPerPod: 3 }),
    maxSessionsPerPod: 4,
    replicas: pods.length,
    pods,
    history: [],
    followers: {},
    fixedGpus: 0,
    gpuBudget: undefined,
    pendingGpuPods: 0,
    ...over,
  });

  it('adds a backend when no backend in rotation has a free slot, though the average fits', () => {
    // 9 sessions fit 3 backends at 3 per pod, but with acceptUntil 3 none of them takes a new caller.
    const d = decide(input([pod('a', 3, { full: true }), pod('b', 3, { full: true }), pod('c', 3)], { acceptUntil: 3 }));
    expect(d.serving).toBe(4);
    expect(d.reason).toBe('0 free slot(s) in rotation: one more backend');
  });

  it('does not when a pod is still starting, or when a reading is missing', () => {
    expect(decide(input([pod('a', 4, { full: true }), pod('b', 0, { phase: 'Pending' })])).direction).toBe('none');
    expect(decide(input([pod('a', 4, { full: true }), pod('b', undefined)])).direction).not.toBe('up');
  });
});

describe('a full backend and the ReplicaSet', () => {
  // The ReplicaSet's victim order: unscheduled, then Pending, then not ready, then lowest deletion
  // cost. A full backend stays Ready (only its serving label changes), so only the cost decides:
  // when replicas drop to remove a drained pod, the drained pod has the lowest cost, never the full one.
  it('removes the drained empty pod, never the full one, and leaves the full pod Ready with the default cost', () => {
    const fleet = anUnmuteDeployment({ autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 10, scaleDownStabilizationSeconds: 0 } });
    const drained = pod('drained', 0, { serving: false, drainingSinceMs: NOW - 60_000 });
    const full = pod('full', 4, { full: true, ready: true });
    const plan = planFleet({
      fleet,
      nowMs: NOW,
      pods: [],
      observations: { backend: observed([full, pod('open', 1), drained]) },
      deployedReplicas: { backend: 3 },
      memory: { history: {}, samples: [] },
    });
    expect(plan.decision?.remove).toEqual(['drained']);
    expect(plan.replicas.backend).toBe(2);
    const costs = new Map(plan.podPatches.map((p) => [p.name, p.annotations[ANNOTATION_POD_DELETION_COST]]));
    expect(costs.get('drained')).toBe(DELETION_COST_REMOVE);
    expect(costs.has('full')).toBe(false);
    expect(plan.podPatches.find((p) => p.name === 'full')?.labels[LABEL_SERVING] ?? 'full').toBe('full');
  });
});
