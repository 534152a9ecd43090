// The scaling decision of a fleet as a pure function: observed pods and loads in; for the backends
// and for every GPU component the autoscaler drives (its `follower` components), the pods wanted
// in service, the pods to drain, bring back or remove, and a reason. No clock, no I/O.
//
// Backends are sized on live sessions (worker_active_sessions). A follower (STT, TTS, the LLM) is
// sized on its own measured load (streams or requests), with a floor from the backends' count (the
// earlier signal: backends start in seconds, GPU servers in minutes) and headroom for the sessions
// that will arrive while a new GPU pod loads its model. Each scales down only by draining (pool.ts).
// The GPU budget bounds everything, draining GPU pods included.
import type { AutoscalingSpec } from '../api/v1alpha1/autoscaling.ts';
import type { ComponentName } from '../api/v1alpha1/components.ts';
import { knownLoad, poolPods, resizePool, type ComponentPod, type PoolDecision, type Recommendation } from './pool.ts';
import { freeSlots } from './rotation.ts';

export { DRAIN_SETTLE_MS, type ComponentPod, type Recommendation } from './pool.ts';

/** A GPU component the autoscaler sizes (scaling `follower` in its descriptor). */
export interface FollowerInput {
  /** Current replicas of its Deployment. */
  replicas: number;
  pods: ComponentPod[];
  slotsPerReplica: number;
  gpusPerReplica: number;
  history: Recommendation[];
  /** How long a new pod takes to serve (measured from its pods, else the spec's). */
  startupSeconds: number;
  /** Streams or requests per backend session, measured over the window; undefined before any. */
  perSession: number | undefined;
}

export interface PolicyInput {
  nowMs: number;
  spec: AutoscalingSpec;
  maxSessionsPerPod: number;
  /** Backend Deployment spec.replicas as observed. */
  replicas: number;
  pods: ComponentPod[];
  /** Earlier backend recommendations (only those inside the stabilisation window matter). */
  history: Recommendation[];
  followers: Partial<Record<ComponentName, FollowerInput>>;
  /** GPUs held by components the autoscaler does not drive (voice cloning, fixed ones). */
  fixedGpus: number;
  gpuBudget: number | undefined;
  /** Backend pods (or follower pods) waiting for a node. */
  pendingGpuPods: number;
  /** Sessions at which a backend leaves rotation (load-aware routing); default maxSessionsPerPod. */
  acceptUntil?: number;
  /** New sessions per second over the last minute (0 when flat or falling). */
  sessionRate?: number;
}

export interface FollowerDecision extends PoolDecision {
  /** Raw recommendation to remember for its stabilisation window. */
  recommendation: Recommendation;
  /** Load its live pods hold (read ones only). */
  load: number;
  /** Live pods without a fresh reading: the tier's scale-down is held while any. */
  unknownPods: number;
}

export interface PolicyDecision extends PoolDecision {
  followers: Partial<Record<ComponentName, FollowerDecision>>;
  /** Raw backend recommendation to remember for the stabilisation window. */
  recommendation: Recommendation;
  sessions: { active: number; capacity: number; unknownPods: number };
  metricsAvailable: boolean;
  /** Set when a limit kept the fleet below what the load asks for. */
  limited: { reason: 'MaxReplicas' | 'GpuBudget' | 'GpuPodsPending'; message: string } | undefined;
}

/** Work on pods on their way out (terminating in their preStop, or drained first by a rollout): read ones only. */
function leavingLoad(pods: ComponentPod[]): number {
  return pods.filter((p) => (p.terminating || p.leaving) && p.phase === 'Running').reduce((n, p) => n + (p.load ?? 0), 0);
}

/**
 * Pods of a follower holding GPUs beside those its load asks for: draining ones, and those on a
 * node being drained (they serve until their replacement is ready).
 */
function heldBesides(f: FollowerInput): number {
  const { serving, draining } = poolPods(f.pods, f.replicas);
  return draining.length + serving.filter((p) => p.evacuating === true).length;
}

/** Load of a pool for sizing: read pods at their reading, unread ones at their last reading (at least `floor`). */
function poolLoad(pods: ComponentPod[], floor: number): { read: number; assumed: number; unknown: number } {
  let read = 0;
  let assumed = 0;
  let unknown = 0;
  for (const p of pods) {
    const l = knownLoad(p);
    if (l !== undefined) read += l;
    else {
      unknown++;
      // A pod that held work when last read and cannot be read now (slow, down, malformed) is busy,
      // not empty: counting it at 0, as the HPA does on scale-up, under-reacts exactly when pods
      // stall under load. A pod last read empty counts 0, and so does one never read: assuming
      // load for pods with nothing to show for it would add capacity pass after pass (new empty
      // pods that stall would each add a phantom target's worth and grow the fleet to its max).
      if (p.lastLoad !== undefined && p.lastLoad > 0) assumed += Math.max(p.lastLoad, floor);
    }
  }
  return { read, assumed, unknown };
}

/**
 * Replicas a follower needs when `servingBackends` backends serve: its own load at the target
 * utilisation, plus (with `headroom`) what arrives during its start-up, and at least what the
 * backends are sized to send it. One pod at least: every conversation passes through it.
 */
function followerNeed(input: PolicyInput, f: FollowerInput, servingBackends: number, headroom = true): number {
  const { spec } = input;
  const perPod = f.slotsPerReplica * spec.followers.targetUtilization;
  const { live } = poolPods(f.pods, f.replicas);
  const load = poolLoad(live, 0);
  const perSession = f.perSession ?? 1;
  const arriving = headroom ? (input.sessionRate ?? 0) * f.startupSeconds * perSession : 0;
  // Streams on pods on their way out are demand that stays: their sessions go on, and calls go on arriving.
  const own = Math.ceil((load.read + leavingLoad(f.pods) + load.assumed + arriving) / perPod);
  const floor = Math.ceil((servingBackends * spec.targetSessionsPerPod * perSession) / perPod);
  return Math.max(1, own, floor);
}

export function decide(input: PolicyInput): PolicyDecision {
  const { spec, nowMs } = input;
  const { live, serving: servingPods, draining } = poolPods(input.pods, input.replicas);
  const servingNow = Math.max(0, input.replicas - draining.length);

  const load = poolLoad(live, spec.targetSessionsPerPod);
  // Sessions on backends on their way out (a rollout, an eviction) are part of the demand: while
  // they last, the fleet keeps room for as many, so a rollout never looks like a drop in load.
  const active = load.read + leavingLoad(input.pods);
  const unknownPods = load.unknown;
  const metricsAvailable = unknownPods === 0;

  // 1. What the load asks for.
  const wanted = Math.ceil((active + load.assumed + spec.headroomSessions) / spec.targetSessionsPerPod);
  let raw = clamp(wanted, spec.minReplicas, spec.maxReplicas);
  let limited: PolicyDecision['limited'] =
    wanted > spec.maxReplicas ? { reason: 'MaxReplicas', message: `load wants ${wanted} backends, maxReplicas is ${spec.maxReplicas}` } : undefined;

  // 1b. Free slots in rotation, whatever the average says: when callers would find no free slot
  //     (sessions bunched on some backends), one more backend now. Pods still starting count as free.
  //     Only on complete readings: an unread pod has no known free slot, and must not grow the fleet.
  const until = input.acceptUntil ?? input.maxSessionsPerPod;
  const startingPods = Math.max(0, servingNow - servingPods.length) + servingPods.filter((p) => p.phase === 'Pending').length;
  const free = freeSlots(servingPods, until) + startingPods * until;
  const noRoom = metricsAvailable && free < Math.max(1, spec.headroomSessions) && raw <= servingNow && servingNow < spec.maxReplicas;
  if (noRoom) raw = servingNow + 1;

  // 2. GPU budget: followers size on their load and on the backends; when their GPUs (draining
  //    pods included, they hold GPUs until gone) and the fixed ones exceed the budget, the backend
  //    target comes down to what the followers can serve.
  //    The start-up headroom is not part of it: it does not shrink with fewer backends, so counting
  //    it would cap a fast ramp at minReplicas; it takes what the budget leaves (step 3).
  const followers = Object.entries(input.followers) as [ComponentName, FollowerInput][];
  const gpusAt = (servingBackends: number) =>
    input.fixedGpus + followers.reduce((sum, [, f]) => sum + (followerNeed(input, f, servingBackends, false) + heldBesides(f)) * f.gpusPerReplica, 0);
  const budget = input.gpuBudget;
  if (budget !== undefined && gpusAt(raw) > budget) {
    let capped = raw;
    while (capped > spec.minReplicas && gpusAt(capped) > budget) capped--;
    limited = { reason: 'GpuBudget', message: `GPU budget ${budget} allows ${capped} backends' worth of STT/TTS/LLM; load wants ${raw}` };
    raw = capped;
  }
  if (limited === undefined && input.pendingGpuPods > 0) {
    limited = { reason: 'GpuPodsPending', message: `${input.pendingGpuPods} pod(s) wait for a GPU node` };
  }

  let why: string;
  if (noRoom) why = `${free} free slot(s) in rotation: one more backend`;
  else if (raw > servingNow) why = `${active} sessions need ${raw} backends at ${spec.targetSessionsPerPod} per pod${spec.headroomSessions ? ` (+${spec.headroomSessions} headroom)` : ''}`;
  else if (raw < servingNow) why = `${active} sessions need ${raw} backends`;
  else why = `${active} sessions fit ${servingNow} backends`;
  if (unknownPods > 0 && raw > servingNow) why += `, counting ${unknownPods} unread backend(s) as ${load.assumed} sessions`;

  const backends = resizePool({
    what: 'backend',
    nowMs,
    replicas: input.replicas,
    pods: input.pods,
    target: raw,
    history: input.history,
    stabilizationSeconds: spec.scaleDownStabilizationSeconds,
    scaleUpMaxStep: spec.scaleUpMaxStep,
    drainTimeoutSeconds: spec.drainTimeoutSeconds,
    readingsComplete: metricsAvailable,
    why,
  });
  if (!metricsAvailable && backends.direction === 'none' && raw < servingNow) {
    backends.reason = `scale-down held: ${unknownPods} backend(s) without a fresh session count`;
  }

  // 3. Followers, for the backends that will serve; never above what the budget leaves them.
  const decided: Partial<Record<ComponentName, FollowerDecision>> = {};
  for (const [name, f] of followers) {
    let target = followerNeed(input, f, backends.serving);
    // Pods the budget leaves this tier in service (those on a node being drained included).
    let maxPods: number | undefined;
    if (budget !== undefined) {
      const others = gpusAt(backends.serving) - (followerNeed(input, f, backends.serving, false) + heldBesides(f)) * f.gpusPerReplica;
      maxPods = Math.floor((budget - others) / Math.max(1, f.gpusPerReplica)) - poolPods(f.pods, f.replicas).draining.length;
      target = Math.max(1, Math.min(target, maxPods));
    }
    const { live: fLive } = poolPods(f.pods, f.replicas);
    const fLoad = poolLoad(fLive, 0);
    const perPod = f.slotsPerReplica * spec.followers.targetUtilization;
    const pool = resizePool({
      what: name,
      nowMs,
      replicas: f.replicas,
      pods: f.pods,
      target,
      history: f.history,
      stabilizationSeconds: spec.scaleDownStabilizationSeconds,
      scaleUpMaxStep: spec.scaleUpMaxStep,
      drainTimeoutSeconds: spec.drainTimeoutSeconds,
      readingsComplete: fLoad.unknown === 0,
      ...(maxPods === undefined ? {} : { maxPods }),
      why: `${name}: ${fLoad.read} in use of ${Math.round(perPod)} per pod at ${Math.round(spec.followers.targetUtilization * 100)} % of ${f.slotsPerReplica} slots, ${backends.serving} backends → ${target}`,
    });
    decided[name] = { ...pool, recommendation: { atMs: nowMs, serving: target }, load: fLoad.read, unknownPods: fLoad.unknown };
  }

  return {
    ...backends,
    followers: decided,
    recommendation: { atMs: nowMs, serving: raw },
    sessions: { active, capacity: servingPods.filter((p) => p.phase === 'Running').length * input.maxSessionsPerPod, unknownPods },
    metricsAvailable,
    limited,
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
