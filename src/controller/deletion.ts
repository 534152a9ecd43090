// Deleting a fleet drains it first: every backend leaves rotation at once (no new conversation
// starts), and the fleet's finalizer is released when the live sessions have ended, or at
// autoscaling.drainTimeoutSeconds after the deletion at the latest. Only then does the garbage
// collector remove the children, STT/TTS/LLM included, which the draining sessions still use.
// Pure: the reconciler gathers the sessions and carries out the answer.
import { ANNOTATION_SKIP_DRAIN } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { emptySinceDrain, type ComponentPod } from '../autoscaler/pool.ts';

export type DeletionStep =
  | { done: true; reason: 'SkipDrain' | 'Drained' | 'DrainTimeout'; message: string }
  | { done: false; drain: string[]; message: string; requeueAfterMs: number };

export function deletionStep(fleet: UnmuteDeployment, backends: ComponentPod[], deletedAtMs: number, nowMs: number): DeletionStep {
  if (fleet.metadata.annotations?.[ANNOTATION_SKIP_DRAIN] === 'true') {
    return { done: true, reason: 'SkipDrain', message: `${ANNOTATION_SKIP_DRAIN} is set: deleted without draining` };
  }
  const live = backends.filter((p) => !p.terminating && (p.phase === 'Running' || p.phase === 'Unknown'));
  const deadlineMs = deletedAtMs + fleet.spec.autoscaling.drainTimeoutSeconds * 1000;
  // Empty only counts from a reading taken after the pod left rotation and the change settled.
  const busy = live.filter((p) => p.serving || !emptySinceDrain(p));
  if (busy.length === 0) return { done: true, reason: 'Drained', message: `every backend drained: deleting the fleet` };
  if (nowMs >= deadlineMs) {
    const left = busy.reduce((n, p) => n + (p.load ?? 0), 0);
    return { done: true, reason: 'DrainTimeout', message: `drain timeout (${fleet.spec.autoscaling.drainTimeoutSeconds}s) reached with ${left} session(s) left on ${busy.length} backend(s): deleting the fleet` };
  }
  const sessions = busy.reduce((n, p) => n + (p.load ?? 0), 0);
  const unknown = busy.filter((p) => p.load === undefined).length;
  return {
    done: false,
    drain: live.filter((p) => p.serving).map((p) => p.name),
    message: `deleting: waiting for ${sessions} session(s) on ${busy.length} backend(s) to end${unknown > 0 ? ` (${unknown} without a reading)` : ''}; deleted at the latest in ${Math.ceil((deadlineMs - nowMs) / 1000)}s`,
    requeueAfterMs: fleet.spec.autoscaling.intervalSeconds * 1000,
  };
}
