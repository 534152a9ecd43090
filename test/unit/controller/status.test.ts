// Status as a pure function: each condition from what one pass observed and decided.
import { describe, expect, it } from 'vitest';
import type { ComponentName } from '../../../src/api/v1alpha1/components.ts';
import type { PolicyDecision } from '../../../src/autoscaler/policy.ts';
import type { ObservedComponent } from '../../../src/controller/observe.ts';
import { computeStatus, invalidSpecStatus, type StatusInput } from '../../../src/controller/status.ts';
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
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ComponentsNotReady', message: 'no ready pod yet: tts' });
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

  it('says ApplyFailed with the message when an apply failed', () => {
    const s = status({ applyError: 'Service demo-stt: invalid' });
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: 'Service demo-stt: invalid' });
    expect(cond(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'ApplyFailed' });
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
    const after = computeStatus({ fleet, now: NOW, components: allReady(), backendSelector: '', backendPods: 1, drainingPods: [], monitoring: { enabled: true, prometheusOperator: true } });
    expect(cond(after, 'MetricsAvailable')).toBeUndefined();
    expect(cond(after, 'ScalingLimited')).toBeUndefined();
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = status();
    const fleet = { ...anUnmuteDeployment({ gpu: { maxTotal: 4 } }), status: first };
    const later = computeStatus({ fleet, now: new Date(NOW.getTime() + 60_000), components: allReady(), backendSelector: 'a=b', backendPods: 1, drainingPods: [], monitoring: { enabled: true, prometheusOperator: true } });
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
