// Status as a pure function: each condition from what one pass observed and decided.
import { describe, expect, it } from 'vitest';
import type { ComponentName } from '../../../src/api/v1alpha1/components.ts';
import type { PolicyDecision } from '../../../src/autoscaler/policy.ts';
import type { ObservedComponent } from '../../../src/controller/observe.ts';
import { computeStatus, invalidSpecStatus, type ApplyFailure, type StatusInput } from '../../../src/controller/status.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const NOW = new Date('2026-01-01T00:00:00Z');

const component = (over: Partial<ObservedComponent> = {}): ObservedComponent => ({
  desiredReplicas: 1,
  readyReplicas: 1,
  updatedReplicas: 1,
  totalReplicas: 1,
  endpoints: 1,
  gpusPerPod: 0,
  unschedulablePods: 0,
  pendingPods: 0,
  rolloutObserved: true,
  exists: true,
  ...over,
});

const allReady = (): Partial<Record<ComponentName, ObservedComponent>> => ({ backend: component(), stt: component({ gpusPerPod: 1 }), tts: component({ gpusPerPod: 1 }) });

function status(over: Partial<StatusInput> = {}) {
  return computeStatus({
    fleet: anUnmuteDeployment({ gpu: { maxTotal: 4 } }),
    now: NOW,
    components: allReady(),
    backendSelector: 'a=b',
    backendPods: 1,
    drainingPods: [],
    monitoring: { enabled: true, prometheusOperator: true },
    applyFailures: [],
    ...over,
  });
}

const cond = (s: ReturnType<typeof status>, type: string) => s.conditions?.find((c) => c.type === type);

const decision = (over: Partial<PolicyDecision> = {}): PolicyDecision => ({
  serving: 2,
  replicas: 2,
  drain: [],
  undrain: [],
  remove: [],
  draining: 0,
  followers: {},
  recommendation: { atMs: 0, serving: 2 },
  sessions: { active: 5, capacity: 8, unknownPods: 0 },
  metricsAvailable: true,
  limited: undefined,
  reason: '5 sessions fit 2 backends',
  direction: 'none',
  ...over,
});

describe('fleet status', () => {
  it('is Ready, Stable and not Degraded when every component runs its ready pods', () => {
    const s = status();
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True', reason: 'AllComponentsReady', observedGeneration: 1 });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: 'Stable' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    expect(s.gpus).toEqual({ requested: 2, budget: 4 });
  });

  it('is not Ready while a component has no ready pod, and names it', () => {
    const s = status({ components: { ...allReady(), tts: component({ readyReplicas: 0 }) } });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ComponentsNotReady', message: 'fewer ready pods than the spec asks (ready/required): tts 0/1' });
  });

  it.each([
    ['the Deployment controller has not seen the new spec', { rolloutObserved: false }],
    ['updated pods are fewer than desired', { updatedReplicas: 0 }],
    ['old pods are still present', { totalReplicas: 2 }],
  ])('is Progressing RollingOut while %s', (_, over) => {
    expect(cond(status({ components: { ...allReady(), backend: component(over) } }), 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });
  });

  it('is Progressing Draining while backends finish their sessions', () => {
    const s = status({ drainingPods: ['demo-backend-x'] });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'Draining' });
    expect(s.drainingPods).toEqual(['demo-backend-x']);
  });

  it('is Degraded when pods cannot be scheduled', () => {
    expect(cond(status({ components: { ...allReady(), stt: component({ unschedulablePods: 2 }) } }), 'Degraded')).toMatchObject({ status: 'True', reason: 'PodsUnschedulable' });
  });

  const failure = (kind: string, name: string, over: Partial<ApplyFailure> = {}): ApplyFailure => ({ kind, name, reason: 'ApplyFailed', message: 'invalid', monitoring: false, ...over });

  it('names every object an apply failed for, and does not claim progress', () => {
    const s = status({ applyFailures: [failure('Service', 'demo-stt'), failure('Deployment', 'demo-tts', { message: 'quota' })] });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: '2 object(s) not applied: Service demo-stt: invalid; Deployment demo-tts: quota' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'ApplyFailed' });
    expect(cond(s, 'Progressing')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
  });

  it('says NameConflict when a child name is taken by an object that is not the fleet\'s', () => {
    const s = status({ applyFailures: [failure('Service', 'demo-backend', { reason: 'NameConflict', message: 'exists and is not this fleet\'s' })] });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'NameConflict' });
    expect(cond(s, 'Ready')?.message).toContain('Service demo-backend');
  });

  it('keeps Ready when only monitoring objects failed, and says so in MonitoringConfigured', () => {
    const s = status({ applyFailures: [failure('ServiceMonitor', 'demo-backend', { monitoring: true, message: 'denied' })] });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'True' });
    expect(cond(s, 'MonitoringConfigured')).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: '1 monitoring object(s) not applied: ServiceMonitor demo-backend: denied' });
  });

  it('is not Ready without a single ready backend, even when the spec asks for none', () => {
    const fleet = anUnmuteDeployment({ backend: { replicas: 0 } });
    const s = status({ fleet, components: { ...allReady(), backend: component({ desiredReplicas: 0, readyReplicas: 0 }) } });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ComponentsNotReady', message: 'fewer ready pods than the spec asks (ready/required): backend 0/1' });
  });

  it('is not Ready below the spec\'s replicas of a fixed component or autoscaling.minReplicas', () => {
    const fixed = status({ fleet: anUnmuteDeployment({ backend: { replicas: 1000 } }), components: { ...allReady(), backend: component({ desiredReplicas: 1000, readyReplicas: 62 }) } });
    expect(cond(fixed, 'Ready')?.message).toContain('backend 62/1000');
    const scaled = anUnmuteDeployment({ autoscaling: { enabled: true, minReplicas: 3 } });
    expect(cond(status({ fleet: scaled, components: { ...allReady(), backend: component({ desiredReplicas: 5, readyReplicas: 2 }) } }), 'Ready')?.message).toContain('backend 2/3');
    expect(cond(status({ fleet: scaled, components: { ...allReady(), backend: component({ desiredReplicas: 5, readyReplicas: 3 }) } }), 'Ready')?.status).toBe('True');
  });

  it('does not say RollingOut for a component whose Deployment does not exist yet', () => {
    expect(cond(status({ components: { ...allReady(), tts: component({ exists: false, rolloutObserved: false, readyReplicas: 0 }) } }), 'Progressing')).toMatchObject({ status: 'False' });
  });

  it('blames GPUs only for pods that ask for them', () => {
    const s = status({ components: { ...allReady(), backend: component({ unschedulablePods: 1 }), stt: component({ gpusPerPod: 1, unschedulablePods: 2 }) } });
    expect(cond(s, 'Degraded')?.message).toBe(
      'cannot be scheduled: GPU pods (2 stt): no node with a free GPU of the requested product accepts them; pods without GPUs (1 backend): no node matches their selector or has room',
    );
  });

  it('reports unknown sessions and the first read errors, and a limit when the autoscaler hits one', () => {
    const s = status({
      autoscaling: {
        decision: decision({ metricsAvailable: false, sessions: { active: 3, capacity: 8, unknownPods: 1 }, limited: { reason: 'MaxReplicas', message: 'load wants 12 backends, maxReplicas is 10' } }),
        readErrors: ['demo-backend-a: timeout'],
      },
    });
    expect(cond(s, 'MetricsAvailable')).toMatchObject({ status: 'False', reason: 'SessionsUnknown' });
    expect(cond(s, 'MetricsAvailable')?.message).toContain('demo-backend-a: timeout');
    expect(cond(s, 'ScalingLimited')).toMatchObject({ status: 'True', reason: 'MaxReplicas' });
    expect(s.desiredReplicas).toBe(2);
  });

  it('drops the autoscaling conditions when autoscaling is off', () => {
    const before = status({ autoscaling: { decision: decision(), readErrors: [] } });
    const fleet = { ...anUnmuteDeployment(), status: before };
    const after = computeStatus({ fleet, now: NOW, components: allReady(), backendSelector: '', backendPods: 1, drainingPods: [], monitoring: { enabled: true, prometheusOperator: true }, applyFailures: [] });
    expect(cond(after, 'MetricsAvailable')).toBeUndefined();
    expect(cond(after, 'ScalingLimited')).toBeUndefined();
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = status();
    const fleet = { ...anUnmuteDeployment({ gpu: { maxTotal: 4 } }), status: first };
    const later = computeStatus({ fleet, now: new Date(NOW.getTime() + 60_000), components: allReady(), backendSelector: 'a=b', backendPods: 1, drainingPods: [], monitoring: { enabled: true, prometheusOperator: true }, applyFailures: [] });
    expect(cond(later, 'Ready')?.lastTransitionTime).toBe(cond(first, 'Ready')?.lastTransitionTime);
  });

  it('says why monitoring is not configured', () => {
    expect(cond(status({ monitoring: { enabled: false, prometheusOperator: true } }), 'MonitoringConfigured')).toMatchObject({ status: 'False', reason: 'Disabled' });
    expect(cond(status({ monitoring: { enabled: true, prometheusOperator: false } }), 'MonitoringConfigured')).toMatchObject({ status: 'False', reason: 'PrometheusOperatorNotInstalled' });
  });
});

describe('invalid spec status', () => {
  it('sets Ready=False InvalidSpec with every problem and keeps the rest of status', () => {
    const s = invalidSpecStatus({ readyReplicas: 3 }, 4, ['a is wrong', 'b is wrong'], NOW);
    expect(s.readyReplicas).toBe(3);
    expect(s.observedGeneration).toBe(4);
    expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: 'a is wrong; b is wrong', observedGeneration: 4 });
    expect(s.conditions?.find((c) => c.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  });
});
