// Drain state lives on the pods themselves (labels and annotations), not in operator memory,
// so a restarted operator picks up a drain where the previous one left it.
import { ANNOTATION_DRAINING_SINCE, ANNOTATION_POD_DELETION_COST, LABEL_SERVING, SERVING } from '../api/v1alpha1/labels.ts';
import { isReady, isTerminating, podPhase, type PodView } from '../runtime/views.ts';
import type { ComponentPod } from './pool.ts';
import type { ReadingStore } from './readings.ts';

/** ReplicaSets delete the pods with the lowest cost first. */
export const DELETION_COST_REMOVE = '-2147483648';
/** Draining but busy: below every serving pod (default 0), above pods that are ready to go. */
export const DELETION_COST_DRAINING = '-1000000000';

/** The pod as the policy sees it: serving or draining, with a fresh load reading or none. */
export function toComponentPod(pod: PodView, readings: ReadingStore, nowMs: number, staleMs: number, leavingNodes?: ReadonlySet<string>): ComponentPod {
  const name = pod.metadata.name ?? '';
  const label = pod.metadata.labels?.[LABEL_SERVING];
  const full = label === SERVING.full;
  // No label: a pod of an operator version before its component drained; the plan labels it in rotation.
  const draining = label !== undefined && label !== SERVING.inRotation && !full;
  const leaving = label === SERVING.outdated;
  const since = Date.parse(pod.metadata.annotations?.[ANNOTATION_DRAINING_SINCE] ?? '');
  const reading = readings.fresh(name, nowMs, staleMs);
  const last = readings.last(name);
  const ready = isReady(pod);
  const started = startupSeconds(pod);
  return {
    name,
    serving: !draining,
    ...(full ? { full } : {}),
    drainingSinceMs: draining && Number.isFinite(since) ? Math.max(since, readings.drainSeenAt(name, String(since), nowMs)) : undefined,
    phase: podPhase(pod),
    terminating: isTerminating(pod),
    load: reading?.load,
    observedAtMs: reading?.observedAtMs,
    ...(last === undefined ? {} : { lastLoad: last.load }),
    ...(started === undefined ? {} : { startupSeconds: started }),
    removing: draining && pod.metadata.annotations?.[ANNOTATION_POD_DELETION_COST] === DELETION_COST_REMOVE,
    ...(ready === undefined ? {} : { ready }),
    ...(leaving ? { leaving } : {}),
    ...(pod.spec?.nodeName !== undefined && leavingNodes?.has(pod.spec.nodeName) === true ? { evacuating: true } : {}),
  };
}

/**
 * Seconds from the pod's creation to its Ready condition, when it became Ready once and stayed
 * (a later readiness flap would say nothing about how long start-up takes).
 */
function startupSeconds(pod: PodView): number | undefined {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  const created = Date.parse(pod.metadata.creationTimestamp ?? '');
  const at = Date.parse(ready?.lastTransitionTime ?? '');
  if (!Number.isFinite(created) || !Number.isFinite(at) || at < created) return undefined;
  return (at - created) / 1000;
}

export interface PodPatch {
  name: string;
  labels: Record<string, string>;
  /** null removes the annotation. */
  annotations: Record<string, string | null>;
}

/**
 * Merge-patch bodies for the pods the decision touches. A merge patch, not an apply: a pod that
 * vanished meanwhile must answer 404, whereas an apply would try to create it.
 */
export function drainPatches(
  decision: { drain: string[]; undrain: string[]; remove: string[] },
  pods: ComponentPod[],
  nowIso: string,
): PodPatch[] {
  const byName = new Map(pods.map((p) => [p.name, p]));
  const out: PodPatch[] = [];
  const sinceOf = (name: string) => {
    const ms = byName.get(name)?.drainingSinceMs;
    return ms === undefined ? nowIso : new Date(ms).toISOString();
  };
  for (const name of decision.undrain) {
    out.push({ name, labels: { [LABEL_SERVING]: SERVING.inRotation }, annotations: { [ANNOTATION_DRAINING_SINCE]: null, [ANNOTATION_POD_DELETION_COST]: null } });
  }
  for (const name of decision.drain) {
    if (decision.remove.includes(name)) continue;
    out.push({
      name,
      labels: { [LABEL_SERVING]: SERVING.draining },
      annotations: { [ANNOTATION_DRAINING_SINCE]: nowIso, [ANNOTATION_POD_DELETION_COST]: DELETION_COST_DRAINING },
    });
  }
  for (const name of decision.remove) {
    out.push({
      name,
      labels: { [LABEL_SERVING]: SERVING.draining },
      annotations: { [ANNOTATION_DRAINING_SINCE]: decision.drain.includes(name) ? nowIso : sinceOf(name), [ANNOTATION_POD_DELETION_COST]: DELETION_COST_REMOVE },
    });
  }
  return out;
}
