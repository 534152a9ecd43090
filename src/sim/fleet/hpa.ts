// The baseline the fleet benchmark compares against: the Horizontal Pod Autoscaler's algorithm on
// a per-pod sessions metric, with its default behaviour, as a pure function plus its memory.
//
//   desired = ceil(currentReplicas × avgSessions / target), unchanged within ±tolerance (10%);
//   scale-up per period at most max(+100%, +4 pods) (default scaleUp policies, selectPolicy Max);
//   scale-down to the highest recommendation of the stabilisation window (default 300 s).
//
// The ReplicaSet then picks which pods go; nothing drains. Pods without a reading (not started
// yet) count as 0 sessions, as the HPA assumes for not-yet-ready pods when it scales up.
export interface HpaSpec {
  minReplicas: number;
  maxReplicas: number;
  targetSessionsPerPod: number;
  /** Default 0.1. */
  tolerance?: number;
  /** Default 300 s (compress it with the trace). */
  scaleDownStabilizationMs: number;
}

export interface HpaInput {
  nowMs: number;
  spec: HpaSpec;
  /** Deployment spec.replicas. */
  currentReplicas: number;
  /** Sessions read from the pods that have a reading. */
  readings: number[];
  /** Recommendations of earlier periods (pruned to the window by the caller or not). */
  history: Array<{ atMs: number; replicas: number }>;
}

export interface HpaDecision {
  replicas: number;
  recommendation: { atMs: number; replicas: number };
  reason: string;
}

export function hpaDecide(input: HpaInput): HpaDecision {
  const { spec, currentReplicas, nowMs } = input;
  const tolerance = spec.tolerance ?? 0.1;
  const current = Math.max(1, currentReplicas);
  const total = input.readings.reduce((a, b) => a + b, 0);
  // Unready pods count as 0: the average is over every replica.
  const avg = total / current;
  const ratio = avg / spec.targetSessionsPerPod;
  let raw = currentReplicas;
  let reason = `avg ${avg.toFixed(2)} sessions per pod within tolerance`;
  if (Math.abs(ratio - 1) > tolerance) {
    raw = Math.ceil(current * ratio);
    reason = `avg ${avg.toFixed(2)} sessions per pod, target ${spec.targetSessionsPerPod}`;
  }
  raw = Math.min(spec.maxReplicas, Math.max(spec.minReplicas, raw));
  const recommendation = { atMs: nowMs, replicas: raw };
  let replicas = raw;
  if (raw > currentReplicas) {
    const limit = Math.max(currentReplicas * 2, currentReplicas + 4);
    replicas = Math.min(raw, limit);
  } else if (raw < currentReplicas) {
    const start = nowMs - spec.scaleDownStabilizationMs;
    const peak = Math.max(raw, ...input.history.filter((h) => h.atMs >= start).map((h) => h.replicas));
    replicas = Math.min(currentReplicas, peak);
    if (replicas === currentReplicas) reason = `scale-down to ${raw} held by the stabilisation window`;
  }
  return { replicas, recommendation, reason };
}

export function pruneHpaHistory(history: HpaInput['history'], nowMs: number, windowMs: number): HpaInput['history'] {
  return history.filter((h) => h.atMs >= nowMs - windowMs);
}
