// Events that mark a change of the fleet's state, from the conditions before and after a pass.
// Pure, so each transition is tested without a cluster; the reconciler records what this returns.
import type { Condition } from '../api/v1alpha1/unmute-deployment.ts';
import type { PlannedEvent } from '../autoscaler/plan.ts';
import type { PolicyDecision } from '../autoscaler/policy.ts';
import { CONDITION_METRICS_AVAILABLE, CONDITION_PROGRESSING, CONDITION_READY, CONDITION_SCALING_LIMITED } from './status.ts';

const find = (conditions: readonly Condition[], type: string) => conditions.find((c) => c.type === type);

export function transitionEvents(before: readonly Condition[], after: readonly Condition[], decision: PolicyDecision | undefined): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const wasReady = find(before, CONDITION_READY);
  const ready = find(after, CONDITION_READY);
  if (ready !== undefined && (wasReady?.status !== ready.status || wasReady.reason !== ready.reason)) {
    out.push({ type: ready.status === 'True' ? 'Normal' : 'Warning', reason: ready.reason, message: ready.message || ready.reason });
  }
  const wasRolling = find(before, CONDITION_PROGRESSING);
  const progressing = find(after, CONDITION_PROGRESSING);
  if (wasRolling?.reason === 'RollingOut' && progressing !== undefined && progressing.reason !== 'RollingOut') {
    out.push({ type: 'Normal', reason: 'RolloutCompleted', message: 'every component runs its current pod template; the old pods finished their work and are gone' });
  }
  if (decision === undefined) return out;
  const wasAvailable = find(before, CONDITION_METRICS_AVAILABLE)?.status !== 'False';
  if (wasAvailable && !decision.metricsAvailable) {
    out.push({ type: 'Warning', reason: 'MetricsUnavailable', message: `${decision.sessions.unknownPods} backend(s) without a fresh session count: scale-down held` });
  }
  const wasLimited = find(before, CONDITION_SCALING_LIMITED);
  if (decision.limited && (wasLimited?.status !== 'True' || wasLimited.reason !== decision.limited.reason)) {
    out.push({ type: 'Warning', reason: 'ScalingLimited', message: decision.limited.message });
  }
  return out;
}
