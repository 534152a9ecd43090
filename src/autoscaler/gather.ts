// The autoscaler's I/O: reads the live sessions of every backend pod from the fleet's session
// source (the pods' own /metrics, or Prometheus). Everything after this is pure (plan.ts).
import { SESSIONS_COMPONENT } from '../api/v1alpha1/components.ts';
import { LABEL_APP_COMPONENT } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { isTerminating, podPhase, type PodView } from '../runtime/views.ts';
import { toBackendPod } from './drain.ts';
import type { BackendPod } from './policy.ts';
import type { ReadingStore, SessionSource } from './session-readings.ts';

export interface SessionsObservation {
  pods: BackendPod[];
  /** Pod name → why its reading failed (only pods without a fresh reading). */
  errors: Map<string, string>;
  active: number;
  unknownPods: number;
}

/**
 * Far more sessions than a backend can hold (running plus waiting) is a broken exposition, not a
 * load: such a reading is unknown, so it can neither pin the fleet at maxReplicas nor overflow status.
 */
export const SANITY_FACTOR = 100;

/** Live pods of the sessions component (backends), in cache order. */
export function sessionPods(pods: PodView[]): PodView[] {
  return pods.filter((p) => p.metadata.labels?.[LABEL_APP_COMPONENT] === SESSIONS_COMPONENT && !isTerminating(p));
}

/**
 * Reads every running backend and merges the answers into `store` (last good reading per pod).
 * A pod whose last good reading is older than metricsStaleSeconds is unknown, never zero.
 */
export async function gatherSessions(
  fleet: UnmuteDeployment,
  pods: PodView[],
  source: SessionSource,
  store: ReadingStore,
  nowMs: () => number,
  signal?: AbortSignal,
  opts: { retain: boolean } = { retain: true },
): Promise<SessionsObservation> {
  const backends = sessionPods(pods);
  const readable = backends.filter((p) => podPhase(p) === 'Running');
  const { readings, errors } = await source.read(
    readable.map((p) => ({ pod: p.metadata.name ?? '', ip: p.status?.podIP, port: fleet.spec.backend.port })),
    signal,
  );
  const bound = fleet.spec.backend.maxSessionsPerPod * SANITY_FACTOR;
  for (const [pod, r] of readings) {
    if (r.sessions <= bound) continue;
    readings.delete(pod);
    errors.set(pod, `worker_active_sessions is ${r.sessions}, above ${bound} (${SANITY_FACTOR} × maxSessionsPerPod): not a real reading`);
  }
  store.update(readings);
  // Only a read of every backend knows which pods are gone.
  if (opts.retain) store.retain(backends.map((p) => p.metadata.name ?? ''));
  const now = nowMs();
  const staleMs = fleet.spec.autoscaling.metricsStaleSeconds * 1000;
  const observed = backends.map((p) => toBackendPod(p, store, now, staleMs));
  let active = 0;
  let unknownPods = 0;
  for (const p of observed) {
    // A pod that never ran holds no session and has nothing to read.
    if (p.phase === 'Pending') continue;
    if (p.sessions === undefined) unknownPods++;
    else active += p.sessions;
  }
  for (const p of observed) if (p.sessions !== undefined) errors.delete(p.name);
  return { pods: observed, errors, active, unknownPods };
}
