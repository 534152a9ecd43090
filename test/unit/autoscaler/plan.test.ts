// The plan: one pure answer per pass, from the gathered sessions and pods.
import { describe, expect, it } from 'vitest';
import { componentLabels, LABEL_SERVING } from '../../../src/api/v1alpha1/labels.ts';
import type { LoadObservation } from '../../../src/autoscaler/gather.ts';
import { baselineReplicas, initialReplicas, planFleet, type PlanInput, STATUS_REFRESH_MS } from '../../../src/autoscaler/plan.ts';
import type { ComponentPod } from '../../../src/autoscaler/pool.ts';
import { nextPassDelayMs } from '../../../src/autoscaler/schedule.ts';
import type { PodView } from '../../../src/runtime/views.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const NOW = 1_000_000;

const backend = (name: string, load: number | undefined, over: Partial<ComponentPod> = {}): ComponentPod => ({
  name,
  serving: true,
  phase: 'Running',
  terminating: false,
  load,
  observedAtMs: NOW,
  ...over,
});

const observed = (pods: ComponentPod[], errors: [string, string][] = []): LoadObservation => ({
  pods,
  errors: new Map(errors),
  active: pods.reduce((n, p) => n + (p.load ?? 0), 0),
  unknownPods: pods.filter((p) => p.load === undefined).length,
});

const podView = (name: string, component: string, phase: string, extra: Partial<PodView['status']> = {}): PodView => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { ...componentLabels('demo', component as 'backend'), ...(component === 'backend' ? { [LABEL_SERVING]: 'true' } : {}) } },
  status: { phase: phase as 'Running', ...extra },
});

function plan(spec: Record<string, unknown>, over: Partial<PlanInput> = {}) {
  return planFleet({ fleet: anUnmuteDeployment(spec), nowMs: NOW, pods: [], observations: {}, deployedReplicas: {}, memory: { history: {}, samples: [] }, ...over });
}

const autoscaling = (over: Record<string, unknown> = {}) => ({ autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 10, scaleDownStabilizationSeconds: 0, ...over } });

describe('planning without autoscaling', () => {
  it('runs the spec replicas, reports serving capacity and refreshes status while backends run', () => {
    const p = plan(
      { backend: { replicas: 3 } },
      { pods: [podView('a', 'backend', 'Running'), podView('b', 'backend', 'Pending')], observations: { backend: observed([backend('a', 2), backend('b', undefined, { phase: 'Pending' })]) } },
    );
    expect(p.replicas).toEqual({ backend: 3 });
    expect(p.decision).toBeUndefined();
    expect(p.sessions).toEqual({ active: 2, capacity: 4, unknownPods: 1, free: 2 });
    expect(p.podPatches).toEqual([]);
  });

  it('reads the backends at the autoscaling interval while load-aware routing needs it, else at the status refresh', () => {
    const running = { pods: [podView('a', 'backend', 'Running')], observations: { backend: observed([backend('a', 2)]) } };
    // A backend that fills up between two passes must be noticed within the interval, not 30 s later.
    // At the fleet's own slot of the interval (schedule.ts): between a quarter and one and a quarter intervals away.
    expect(plan({ backend: { replicas: 1 }, autoscaling: { intervalSeconds: 2 } }, running).requeueAfterMs).toBe(nextPassDelayMs('default/demo', NOW, 2_000));
    expect(plan({ backend: { replicas: 1, routing: { loadAware: false } }, autoscaling: { intervalSeconds: 2 } }, running).requeueAfterMs).toBe(STATUS_REFRESH_MS);
  });
});

describe('planning with autoscaling', () => {
  it('scales up at once, with an event and a scale count', () => {
    const p = plan(autoscaling(), { deployedReplicas: { backend: 1 }, observations: { backend: observed([backend('a', 4)]) } });
    expect(p.replicas.backend).toBe(2);
    expect(p.events).toEqual([expect.objectContaining({ reason: 'ScaledUp' })]);
    expect(p.scaleEvents).toEqual([{ component: 'backend', direction: 'up', reason: 'load' }]);
  });

  it('never shrinks on the first pass of a process: what runs seeds the stabilisation window', () => {
    const input = { deployedReplicas: { backend: 3 }, observations: { backend: observed([backend('a', 0), backend('b', 0), backend('c', 0)]) } };
    expect(plan(autoscaling(), { ...input, memory: { history: undefined, samples: [] } }).podPatches).toEqual([]);
    expect(plan(autoscaling(), { ...input, memory: { history: {}, samples: [] } }).podPatches.map((x) => x.name)).toEqual(['a', 'b']);
  });

  it('gives the follower components replicas and leaves the fixed ones to their spec', () => {
    const p = plan({ ...autoscaling({ followers: { stt: true, tts: false } }), stt: { slotsPerReplica: 8 } }, { deployedReplicas: { backend: 4 }, observations: { backend: observed([backend('a', 3), backend('b', 3), backend('c', 3), backend('d', 3)]), stt: observed([]) } });
    // No STT pod read yet: one stream per session, 4 × 3 / (8 slots × 80 %) = 1.9 → 2.
    expect(p.replicas).toMatchObject({ backend: 4, stt: 2 });
    expect(p.replicas.tts).toBeUndefined();
  });

  it('counts only GPU components as waiting for a GPU', () => {
    const unschedulable = { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] };
    const pods = [podView('b', 'backend', 'Pending', unschedulable), podView('s', 'stt', 'Pending', unschedulable)];
    const p = plan(autoscaling(), { pods, deployedReplicas: { backend: 1 }, observations: { backend: observed([backend('a', 1)]) } });
    expect(p.decision?.limited).toEqual({ reason: 'GpuPodsPending', message: '1 pod(s) wait for a GPU node' });
  });

  it('lists the pods it could not read', () => {
    const p = plan(autoscaling(), { deployedReplicas: { backend: 2 }, observations: { backend: observed([backend('a', 1), backend('b', undefined)], [['b', 'timeout']]) } });
    expect(p.readErrors).toEqual(['b: timeout']);
    expect(p.decision?.metricsAvailable).toBe(false);
  });

  it('remembers recommendations only inside the window', () => {
    const p = plan(autoscaling({ scaleDownStabilizationSeconds: 60 }), { memory: { history: { backend: [{ atMs: NOW - 120_000, serving: 9 }] }, samples: [] }, deployedReplicas: { backend: 1 }, observations: { backend: observed([backend('a', 1)]) } });
    expect(p.memory.history).toEqual({ backend: [{ atMs: NOW, serving: 1 }] });
  });
});

describe('replicas before any decision', () => {
  it('starts a new fleet from the spec within min..max, and raises what runs to minReplicas', () => {
    const fleet = anUnmuteDeployment({ backend: { replicas: 40 }, ...autoscaling({ minReplicas: 2, maxReplicas: 8 }) });
    expect(baselineReplicas(fleet, undefined)).toBe(8);
    expect(baselineReplicas(fleet, 1)).toBe(2);
    expect(initialReplicas(fleet)).toEqual({ backend: 8 });
    expect(baselineReplicas(anUnmuteDeployment({ backend: { replicas: 5 } }), 9)).toBe(5);
  });

  it('never lowers what runs to a lowered maxReplicas: the backends above it are drained, none deleted with its sessions', () => {
    // Found by the gateway test: maxReplicas 3 -> 2 clamped the Deployment to 2 at once, and the
    // ReplicaSet deleted a backend holding two conversations.
    const fleet = { backend: { replicas: 3 }, ...autoscaling({ minReplicas: 2, maxReplicas: 2, scaleDownStabilizationSeconds: 4 }) };
    const running = { deployedReplicas: { backend: 3 }, observations: { backend: observed([backend('a', 4), backend('b', 2), backend('c', 1)]) } };
    expect(baselineReplicas(anUnmuteDeployment(fleet), 3)).toBe(3);
    // Inside the stabilisation window (what ran was recommended 1 s ago): nothing changes yet.
    const early = plan(fleet, { ...running, memory: { history: { backend: [{ atMs: NOW - 1_000, serving: 3 }] }, samples: [] } });
    expect(early.replicas.backend).toBe(3);
    expect(early.decision?.drain).toEqual([]);
    // After it: the emptiest backend drains, and replicas stay until it is empty.
    const later = plan(fleet, { ...running, memory: { history: { backend: [{ atMs: NOW - 5_000, serving: 3 }] }, samples: [] } });
    expect(later.decision?.drain).toEqual(['c']);
    expect(later.replicas.backend).toBe(3);
  });
});
