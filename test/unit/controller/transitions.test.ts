// Events mark changes of state, once each.
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../../src/api/v1alpha1/unmute-deployment.ts';
import type { PolicyDecision } from '../../../src/autoscaler/policy.ts';
import { transitionEvents } from '../../../src/controller/transitions.ts';

const c = (type: string, status: 'True' | 'False', reason: string, message = ''): Condition => ({ type, status, reason, message, lastTransitionTime: '2026-01-01T00:00:00Z' });
const decision = (over: Partial<PolicyDecision>): PolicyDecision =>
  ({ metricsAvailable: true, limited: undefined, sessions: { active: 0, capacity: 0, unknownPods: 2 }, ...over }) as PolicyDecision;

describe('transition events', () => {
  it('records Ready when its status or reason changes, not when it stays', () => {
    expect(transitionEvents([], [c('Ready', 'True', 'AllComponentsReady', 'ok')], undefined)).toEqual([{ type: 'Normal', reason: 'AllComponentsReady', message: 'ok' }]);
    expect(transitionEvents([c('Ready', 'True', 'AllComponentsReady')], [c('Ready', 'False', 'ApplyFailed', 'x')], undefined)).toEqual([
      { type: 'Warning', reason: 'ApplyFailed', message: 'x' },
    ]);
    expect(transitionEvents([c('Ready', 'True', 'AllComponentsReady')], [c('Ready', 'True', 'AllComponentsReady')], undefined)).toEqual([]);
  });

  it('records MetricsUnavailable when readings go missing, once', () => {
    const lost = decision({ metricsAvailable: false });
    expect(transitionEvents([], [], lost).map((e) => e.reason)).toEqual(['MetricsUnavailable']);
    expect(transitionEvents([c('MetricsAvailable', 'False', 'SessionsUnknown')], [], lost)).toEqual([]);
  });

  it('records ScalingLimited when a limit starts or its reason changes', () => {
    const gpu = decision({ limited: { reason: 'GpuBudget', message: 'budget' } });
    expect(transitionEvents([], [], gpu)).toEqual([{ type: 'Warning', reason: 'ScalingLimited', message: 'budget' }]);
    expect(transitionEvents([c('ScalingLimited', 'True', 'GpuBudget')], [], gpu)).toEqual([]);
    expect(transitionEvents([c('ScalingLimited', 'True', 'MaxReplicas')], [], gpu)).toHaveLength(1);
  });
});
