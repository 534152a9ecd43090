// The scaling decision as a pure function: observed pods and sessions in, wanted replicas,
// pods to drain or bring back, and a reason out. No clock, no I/O: the caller passes `now`.
//
// Vocabulary:
//   serving  - a backend pod in the Service (label unmute.sh/serving=true), takes new sessions
//   draining - taken out of the Service, finishing its sessions; removed when empty or timed out
//   R        - the backend Deployment's spec.replicas = serving (incl. not yet created) + draining
import type { AutoscalingSpec } from '../api/v1alpha1/autoscaling.ts';
import type { ComponentName } from '../api/v1alpha1/components.ts';
import { freeSlots } from './rotation.ts';

export interface BackendPod {
  name: string;
  /** In service: in rotation, or full (out of rotation only until a session ends). Not draining. */
  serving: boolean;
  /** Holds acceptUntil sessions and takes no new one (load-aware routing). */
  full?: boolean;
  /** ms since epoch the drain started; set on draining pods. */
  drainingSinceMs?: number;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  terminating: boolean;
  /** Live sessions (running + waiting); undefined when the reading is missing or stale. */
  sessions: number | undefined;
  /** When that reading was taken (ms since epoch). */
  observedAtMs?: number;
  /** The last good reading however old: what a pod that cannot be read now is assumed to hold at least. */
  lastSessions?: number;
  /** Marked for removal (lowest deletion cost) by an earlier decision. */
  removing?: boolean;
  /** The Ready condition; undefined when unknown (treated as ready). */
  ready?: boolean;
}

/** Time for an endpoint removal to reach every load balancer before an empty reading is trusted. */
export const DRAIN_SETTLE_MS = 2000;

export interface Recommendation {
  atMs: number;
  serving: number;
}

/** A GPU component the autoscaler sizes with the backends (scaling `follower` in its descriptor). */
export interface FollowerTier {
  /** Current replicas of its Deployment. */
  replicas: number;
  slotsPerReplica: number;
  gpusPerReplica: number;
}

export interface PolicyInput {
  nowMs: number;
  spec: AutoscalingSpec;
  maxSessionsPerPod: number;
  /** Backend Deployment spec.replicas as observed. */
  replicas: number;
  pods: BackendPod[];
  /** Earlier raw recommendations (only those inside the stabilisation window matter). */
  history: Recommendation[];
  followers: Partial<Record<ComponentName, FollowerTier>>;
  /** GPUs held by components the autoscaler does not drive (voice cloning, fixed ones). */
  fixedGpus: number;
  gpuBudget: number | undefined;
  /** Backend pods (or follower pods) waiting for a node. */
  pendingGpuPods: number;
  /** Sessions at which a backend leaves rotation (load-aware routing); default maxSessionsPerPod. */
  acceptUntil?: number;
}

export interface PolicyDecision {
  /** Backends wanted in rotation. */
  serving: number;
  /** New Deployment spec.replicas. */
  replicas: number;
  drain: string[];
  undrain: string[];
  /** Draining pods that are empty (or timed out): lowest deletion cost, then R goes down by their count. */
  remove: string[];
  followers: Partial<Record<ComponentName, number>>;
  /** Raw recommendation to remember for the stabilisation window. */
  recommendation: Recommendation;
  sessions: { active: number; capacity: number; unknownPods: number };
  metricsAvailable: boolean;
  /** Set when a limit kept the fleet below what the load asks for. */
  limited: { reason: 'MaxReplicas' | 'GpuBudget' | 'GpuPodsPending'; message: string } | undefined;
  /** One line saying why, for status, events and logs. */
  reason: string;
  direction: 'up' | 'down' | 'none';
}

const isLive = (p: BackendPod) => !p.terminating && p.phase !== 'Succeeded' && p.phase !== 'Failed';

/** Sessions that a pod holds, for counting: a pod that never ran cannot hold any. */
function knownSessions(p: BackendPod): number | undefined {
  if (p.phase === 'Pending') return 0;
  return p.sessions;
}

export function decide(input: PolicyInput): PolicyDecision {
  const { spec, nowMs } = input;
  // A drained pod marked for removal whose replica the Deployment already gave up is on its way
  // out: the ReplicaSet deletes it next (lowest cost). Counting it as draining again would lower
  // replicas a second time for the same pod (the pod cache lags the Deployment). Level-based:
  // the surplus of pods over replicas says how many of the marked pods are already given up.
  const notTerminating = input.pods.filter(isLive);
  const surplus = Math.max(0, notTerminating.length - input.replicas);
  const givenUp = new Set(notTerminating.filter((p) => p.removing && !p.serving).slice(0, surplus).map((p) => p.name));
  const live = notTerminating.filter((p) => !givenUp.has(p.name));
  const draining = live.filter((p) => !p.serving);
  const servingPods = live.filter((p) => p.serving);
  // Replicas the Deployment asked for but the ReplicaSet has not created yet count as serving.
  const servingNow = Math.max(0, input.replicas - draining.length);

  let active = 0;
  let unknownPods = 0;
  // A pod read before that cannot be read now (slow, down, malformed) is busy, not empty: for
  // sizing it counts at its last good reading and at least at the target per pod. Counting it at 0,
  // as the HPA does on scale-up, under-reacts exactly when backends stall under load. A pod never
  // read counts 0: assuming load for pods whose metrics were always broken would add capacity
  // forever. Status shows only what was read.
  let assumed = 0;
  for (const p of live) {
    const s = knownSessions(p);
    if (s === undefined) {
      unknownPods++;
      if (p.lastSessions !== undefined) assumed += Math.max(p.lastSessions, spec.targetSessionsPerPod);
    } else active += s;
  }
  const metricsAvailable = unknownPods === 0;

  // 1. What the load asks for.
  const wanted = Math.ceil((active + assumed + spec.headroomSessions) / spec.targetSessionsPerPod);
  let raw = clamp(wanted, spec.minReplicas, spec.maxReplicas);
  let limited: PolicyDecision['limited'] =
    wanted > spec.maxReplicas
      ? { reason: 'MaxReplicas', message: `load wants ${wanted} backends, maxReplicas is ${spec.maxReplicas}` }
      : undefined;

  // 1b. Free slots in rotation, whatever the average says: when callers would find no free slot
  //     (sessions bunched on some backends), one more backend now. Pods still starting count as free.
  //     Only on complete readings: an unread pod has no known free slot, and must not grow the fleet.
  const until = input.acceptUntil ?? input.maxSessionsPerPod;
  const startingPods = Math.max(0, servingNow - servingPods.length) + servingPods.filter((p) => p.phase === 'Pending').length;
  const free = freeSlots(servingPods, until) + startingPods * until;
  const noRoom = metricsAvailable && free < Math.max(1, spec.headroomSessions) && raw <= servingNow && servingNow < spec.maxReplicas;
  if (noRoom) raw = servingNow + 1;

  // 2. GPU budget: followers size on the sessions the backends are sized for.
  const followerPlan = planFollowers(input, raw);
  if (followerPlan.cappedServing < raw) {
    raw = Math.max(spec.minReplicas, followerPlan.cappedServing);
    limited = { reason: 'GpuBudget', message: followerPlan.message };
  }
  if (limited === undefined && input.pendingGpuPods > 0) {
    limited = { reason: 'GpuPodsPending', message: `${input.pendingGpuPods} pod(s) wait for a GPU node` };
  }
  const recommendation = { atMs: nowMs, serving: raw };

  // 3. Up at once (bounded step); down only to the highest recommendation in the window,
  //    and never on unknown data.
  let serving: number;
  let why: string;
  if (raw > servingNow) {
    serving = Math.min(raw, servingNow + spec.scaleUpMaxStep);
    why = noRoom
      ? `${free} free slot(s) in rotation: one more backend`
      : `${active} sessions need ${raw} backends at ${spec.targetSessionsPerPod} per pod${spec.headroomSessions ? ` (+${spec.headroomSessions} headroom)` : ''}`;
    if (unknownPods > 0) why += `, counting ${unknownPods} unread backend(s) as ${assumed} sessions`;
    if (serving < raw) why += `; step limited to +${spec.scaleUpMaxStep}`;
  } else if (raw < servingNow) {
    const windowStart = nowMs - spec.scaleDownStabilizationSeconds * 1000;
    const peak = Math.max(raw, ...input.history.filter((h) => h.atMs >= windowStart).map((h) => h.serving));
    if (!metricsAvailable) {
      serving = servingNow;
      why = `scale-down held: ${unknownPods} backend(s) without a fresh session count`;
    } else if (peak >= servingNow) {
      serving = servingNow;
      why = `scale-down to ${raw} waits for the ${spec.scaleDownStabilizationSeconds}s stabilisation window (peak ${peak})`;
    } else {
      serving = peak;
      why =
        peak > raw
          ? `${active} sessions need ${raw} backends; the ${spec.scaleDownStabilizationSeconds}s window allows down to ${peak}: draining ${servingNow - peak}`
          : `${active} sessions need ${raw} backends: draining ${servingNow - peak}`;
    }
  } else {
    serving = servingNow;
    why = `${active} sessions fit ${servingNow} backends`;
  }

  // 4. Turn the serving target into pod actions.
  const drain: string[] = [];
  const undrain: string[] = [];
  let drainingLeft = [...draining];
  let replicasBeforeRemoval = servingNow + draining.length;
  if (serving > servingNow) {
    // Bring draining pods back first: they are warm and already hold sessions.
    const back = [...draining].sort((a, b) => (knownSessions(b) ?? 0) - (knownSessions(a) ?? 0)).slice(0, serving - servingNow);
    undrain.push(...back.map((p) => p.name));
    drainingLeft = draining.filter((p) => !undrain.includes(p.name));
    replicasBeforeRemoval = serving + drainingLeft.length;
  } else if (serving < servingNow) {
    let excess = servingNow - serving;
    // Capacity with no session at all goes first by lowering replicas: pods not yet created or
    // still Pending (the ReplicaSet deletes unscheduled and pending pods before running ones).
    const notCreated = Math.max(0, servingNow - servingPods.length);
    const pending = servingPods.filter((p) => p.phase === 'Pending').length;
    const free = Math.min(excess, notCreated + pending);
    excess -= free;
    const candidates = servingPods
      .filter((p) => p.phase === 'Running' && p.sessions !== undefined)
      .sort((a, b) => (a.sessions ?? 0) - (b.sessions ?? 0) || a.name.localeCompare(b.name));
    const chosen = candidates.slice(0, excess);
    drain.push(...chosen.map((p) => p.name));
    drainingLeft = [...draining, ...chosen.map((p) => ({ ...p, serving: false, drainingSinceMs: nowMs }))];
    replicasBeforeRemoval = serving + (excess - chosen.length) + drainingLeft.length;
  }

  // 5. Draining pods that are empty or past their deadline are removed now. "Empty" counts only
  //    from a reading taken after the pod left the Service (plus a settle time), so a session
  //    that arrived just before the drain started is never cut.
  const deadlineMs = spec.drainTimeoutSeconds * 1000;
  const emptySinceDrain = (p: BackendPod) =>
    p.sessions === 0 &&
    p.drainingSinceMs !== undefined &&
    p.observedAtMs !== undefined &&
    p.observedAtMs >= p.drainingSinceMs + DRAIN_SETTLE_MS;
  const timedOut = (p: BackendPod) => p.drainingSinceMs !== undefined && nowMs - p.drainingSinceMs >= deadlineMs;
  // The ReplicaSet deletes Pending pods before any pod marked with a low deletion cost: while a
  // serving pod is starting, lowering replicas would take it instead of the drained one. Removal
  // waits until it runs (a pass or a few). (A Running pod that is not ready also ranks first; it is
  // not waited for, as it may never become ready: the surplus rule above recovers from that.)
  const starting = servingPods.some((p) => p.phase === 'Pending');
  const remove = starting
    ? []
    : drainingLeft.filter((p) => p.phase === 'Pending' || emptySinceDrain(p) || timedOut(p)).map((p) => p.name);
  const replicas = replicasBeforeRemoval - remove.length;

  const direction = serving > servingNow ? 'up' : serving < servingNow ? 'down' : 'none';
  if (remove.length > 0) why += `; removing ${remove.length} drained backend(s)`;
  if (undrain.length > 0) why += `; ${undrain.length} draining backend(s) back in service`;
  return {
    serving,
    replicas,
    drain,
    undrain,
    remove,
    followers: followerPlan.replicas(serving),
    recommendation,
    sessions: { active, capacity: servingPods.filter((p) => p.phase === 'Running').length * input.maxSessionsPerPod, unknownPods },
    metricsAvailable,
    limited,
    reason: why,
    direction,
  };
}

/**
 * Follower replicas for a given backend count, and the most backends the GPU budget lets the
 * followers serve. Followers are sized on `serving * targetSessionsPerPod` sessions plus a
 * headroom fraction, so they move with (stabilised) backend decisions, not with every blip.
 */
function planFollowers(input: PolicyInput, rawServing: number) {
  const { spec } = input;
  const tiers = Object.entries(input.followers) as [ComponentName, FollowerTier][];
  const wantFor = (serving: number) => {
    const sessions = serving * spec.targetSessionsPerPod * (1 + spec.followers.headroomFraction);
    const out: Partial<Record<ComponentName, number>> = {};
    for (const [n, tier] of tiers) out[n] = Math.max(1, Math.ceil(sessions / tier.slotsPerReplica));
    return out;
  };
  const gpusFor = (plan: Partial<Record<ComponentName, number>>) =>
    input.fixedGpus + tiers.reduce((sum, [n, tier]) => sum + (plan[n] ?? tier.replicas) * tier.gpusPerReplica, 0);

  const budget = input.gpuBudget;
  let cappedServing = rawServing;
  let message = '';
  if (budget !== undefined && gpusFor(wantFor(rawServing)) > budget) {
    // Largest backend count whose followers still fit the budget.
    while (cappedServing > 0 && gpusFor(wantFor(cappedServing)) > budget) cappedServing--;
    message = `GPU budget ${budget} allows ${cappedServing} backends' worth of STT/TTS/LLM; load wants ${rawServing}`;
  }
  return {
    cappedServing,
    message,
    replicas: (serving: number) => {
      const plan = wantFor(serving);
      // Never shrink a follower below what the budget-capped plan asks; never grow past the budget.
      if (budget !== undefined) {
        for (const [n] of tiers) {
          while ((plan[n] ?? 0) > 1 && gpusFor(plan) > budget) plan[n] = (plan[n] ?? 1) - 1;
        }
      }
      return plan;
    },
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** Keeps only the recommendations still inside the window (plus the newest). */
export function pruneHistory(history: Recommendation[], nowMs: number, windowSeconds: number): Recommendation[] {
  const start = nowMs - windowSeconds * 1000;
  return history.filter((h) => h.atMs >= start);
}
