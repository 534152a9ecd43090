// How any drainable component (backends, STT, TTS, the LLM) goes from the pods it has to the pods a
// target asks for, without cutting what they hold. Pure: pods and a target in, pod actions out.
//
// Vocabulary:
//   serving  - in its Service (label unmute.sh/serving=true, or =full for a full backend): takes work
//   draining - taken out of the Service, finishing what it holds; removed when empty or timed out
//   R        - the Deployment's spec.replicas = serving (incl. not yet created) + draining
// Up: draining pods come back first (warm, already holding work), new pods for the rest.
// Down: only to the highest recommendation of the stabilisation window, never on unknown readings,
// capacity that holds nothing first (pods not created or Pending), then the emptiest running pods.
// Away from a node being drained: a replacement first (R + 1), the old pod drains once the pods
// that stay are ready to carry the target without it.

/** A pod as the policy sees it: serving or draining, with a fresh load reading or none. */
export interface ComponentPod {
  name: string;
  /** In service: in rotation, or full (out of rotation only until a session ends). Not draining. */
  serving: boolean;
  /** Holds acceptUntil sessions and takes no new one (load-aware routing; backends only). */
  full?: boolean;
  /** ms since epoch the drain started; set on draining pods. */
  drainingSinceMs?: number;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  terminating: boolean;
  /** What it holds now (sessions of a backend, streams of STT/TTS, requests of the LLM); undefined when unread or stale. */
  load: number | undefined;
  /** When that reading was taken (ms since epoch). */
  observedAtMs?: number;
  /** The last good reading however old: what a pod that cannot be read now is assumed to hold at least. */
  lastLoad?: number;
  /** Marked for removal (lowest deletion cost) by an earlier decision. */
  removing?: boolean;
  /** The Ready condition; undefined when unknown (treated as ready). */
  ready?: boolean;
  /** Seconds from creation to Ready, for a pod that became Ready (how long this component takes to start). */
  startupSeconds?: number;
  /** Drained by a rollout (serving=outdated): on its way out, outside the pool's count like a terminating pod. */
  leaving?: boolean;
  /**
   * On a node being drained (cordoned, or tainted by a cluster autoscaler): outside the pool's
   * count, it keeps serving until a replacement is ready, then drains and is removed like any
   * drained pod. Its PodDisruptionBudget refuses the eviction meanwhile (disruption.ts).
   */
  evacuating?: boolean;
}

/** Time for an endpoint removal to reach every client before an empty reading is trusted. */
export const DRAIN_SETTLE_MS = 2000;

export interface Recommendation {
  atMs: number;
  serving: number;
}

export const isLive = (p: ComponentPod) => !p.terminating && !p.leaving && p.phase !== 'Succeeded' && p.phase !== 'Failed';

/** Load a pod holds, for counting: a pod that never ran holds nothing. */
export function knownLoad(p: ComponentPod): number | undefined {
  if (p.phase === 'Pending') return 0;
  return p.load;
}

/** Emptied since its drain started: a reading taken after the change settled says 0. */
export function emptySinceDrain(p: ComponentPod): boolean {
  return p.load === 0 && p.drainingSinceMs !== undefined && p.observedAtMs !== undefined && p.observedAtMs >= p.drainingSinceMs + DRAIN_SETTLE_MS;
}

/**
 * The pool's live pods, without the drained ones whose replica the Deployment already gave up: the
 * ReplicaSet deletes those next (lowest cost); counting them as draining again would lower
 * replicas a second time for the same pod (the pod cache lags the Deployment). Level-based: the
 * surplus of pods over replicas says how many of the marked pods are already given up.
 */
export function poolPods(pods: ComponentPod[], replicas: number): { live: ComponentPod[]; serving: ComponentPod[]; draining: ComponentPod[] } {
  const notTerminating = pods.filter(isLive);
  const surplus = Math.max(0, notTerminating.length - replicas);
  const givenUp = new Set(notTerminating.filter((p) => p.removing && !p.serving).slice(0, surplus).map((p) => p.name));
  const live = notTerminating.filter((p) => !givenUp.has(p.name));
  return { live, serving: live.filter((p) => p.serving), draining: live.filter((p) => !p.serving) };
}

export interface PoolInput {
  /** What the pool is, for reasons: `backend`, `stt`, ... */
  what: string;
  nowMs: number;
  /** The Deployment's spec.replicas as observed. */
  replicas: number;
  pods: ComponentPod[];
  /** What the load asks for now (already within the pool's min and max). */
  target: number;
  /** Earlier targets (only those inside the stabilisation window matter). */
  history: Recommendation[];
  stabilizationSeconds: number;
  scaleUpMaxStep: number;
  drainTimeoutSeconds: number;
  /** Every live pod has a fresh reading: only then may the pool shrink. */
  readingsComplete: boolean;
  /** Why the target is what it is, for the reason line. */
  why: string;
  /**
   * Most pods the pool may hold in service, evacuating ones included (the GPU budget's room); a
   * pod on a node being drained then drains before its replacement starts. Unbounded when absent.
   */
  maxPods?: number;
}

export interface PoolDecision {
  /** Pods wanted in service. */
  serving: number;
  /** New Deployment spec.replicas. */
  replicas: number;
  drain: string[];
  undrain: string[];
  /** Draining pods that are empty (or timed out): lowest deletion cost, then R goes down by their count. */
  remove: string[];
  /** Still draining after this decision. */
  draining: number;
  reason: string;
  direction: 'up' | 'down' | 'none';
}

export function resizePool(input: PoolInput): PoolDecision {
  const { nowMs, what } = input;
  let target = input.target;
  const { serving: inService, draining } = poolPods(input.pods, input.replicas);
  // Pods on a node being drained serve on, outside the count: the pool sizes itself without them.
  const evacuating = inService.filter((p) => p.evacuating === true);
  const servingPods = inService.filter((p) => p.evacuating !== true);
  // Replicas the Deployment asked for but the ReplicaSet has not created yet count as serving.
  const servingNow = Math.max(0, input.replicas - draining.length - evacuating.length);
  // They are replaced as far as the stabilisation window would have kept them (a drain is not a
  // drop in load), and replacements are not held to the scale-up step.
  let replacing = 0;
  if (evacuating.length > 0) {
    const windowStart = nowMs - input.stabilizationSeconds * 1000;
    const kept = Math.max(target, ...input.history.filter((h) => h.atMs >= windowStart).map((h) => h.serving));
    replacing = Math.max(0, Math.min(servingNow + evacuating.length, kept) - servingNow);
    target = Math.max(target, servingNow + replacing);
  }

  // Up at once (bounded step); down only to the highest recommendation in the window, and never on unknown data.
  let serving: number;
  let why = input.why;
  if (target > servingNow) {
    serving = Math.min(target, servingNow + replacing + input.scaleUpMaxStep);
    if (serving < target) why += `; step limited to +${input.scaleUpMaxStep}`;
  } else if (target < servingNow) {
    const windowStart = nowMs - input.stabilizationSeconds * 1000;
    const peak = Math.max(target, ...input.history.filter((h) => h.atMs >= windowStart).map((h) => h.serving));
    if (!input.readingsComplete) {
      serving = servingNow;
      why = `${what}: scale-down held: some pods without a fresh reading`;
    } else if (peak >= servingNow) {
      serving = servingNow;
      why = `${why}; scale-down to ${target} waits for the ${input.stabilizationSeconds}s stabilisation window (peak ${peak})`;
    } else {
      serving = peak;
      why = peak > target ? `${why}; the ${input.stabilizationSeconds}s window allows down to ${peak}: draining ${servingNow - peak}` : `${why}: draining ${servingNow - peak}`;
    }
  } else {
    serving = servingNow;
  }

  const drain: string[] = [];
  const undrain: string[] = [];
  let drainingLeft = [...draining];
  let replicasBeforeRemoval = servingNow + draining.length;
  if (serving > servingNow) {
    // Bring draining pods back first: they are warm and already hold work (not from a node being drained).
    const back = draining.filter((p) => p.evacuating !== true).sort((a, b) => (knownLoad(b) ?? 0) - (knownLoad(a) ?? 0)).slice(0, serving - servingNow);
    undrain.push(...back.map((p) => p.name));
    drainingLeft = draining.filter((p) => !undrain.includes(p.name));
    replicasBeforeRemoval = serving + drainingLeft.length;
  } else if (serving < servingNow) {
    let excess = servingNow - serving;
    // Capacity holding nothing goes first by lowering replicas: pods not yet created or still
    // Pending (the ReplicaSet deletes unscheduled and pending pods before running ones).
    const notCreated = Math.max(0, servingNow - servingPods.length);
    const pending = servingPods.filter((p) => p.phase === 'Pending').length;
    excess -= Math.min(excess, notCreated + pending);
    const candidates = servingPods
      .filter((p) => p.phase === 'Running' && p.load !== undefined)
      .sort((a, b) => (a.load ?? 0) - (b.load ?? 0) || a.name.localeCompare(b.name));
    const chosen = candidates.slice(0, excess);
    drain.push(...chosen.map((p) => p.name));
    drainingLeft = [...draining, ...chosen.map((p) => ({ ...p, serving: false, drainingSinceMs: nowMs }))];
    replicasBeforeRemoval = serving + (excess - chosen.length) + drainingLeft.length;
  }

  // Pods on a node being drained leave service once the ready pods that stay carry the target
  // without them (their replacements are ready), or at once as far as the pool's room (the GPU
  // budget) has no place for a replacement beside them.
  if (evacuating.length > 0) {
    const readyStaying = servingPods.filter((p) => p.phase === 'Running' && p.ready !== false && !drain.includes(p.name)).length;
    const replaced = Math.max(0, readyStaying + evacuating.length - serving);
    const noRoom = input.maxPods === undefined ? 0 : Math.max(0, serving + evacuating.length - input.maxPods);
    const leave = [...evacuating].sort((a, b) => (knownLoad(a) ?? 0) - (knownLoad(b) ?? 0) || a.name.localeCompare(b.name)).slice(0, Math.min(evacuating.length, Math.max(replaced, noRoom)));
    drain.push(...leave.map((p) => p.name));
    drainingLeft = [...drainingLeft, ...leave.map((p) => ({ ...p, serving: false, drainingSinceMs: nowMs }))];
    const stay = evacuating.length - leave.length;
    replicasBeforeRemoval += evacuating.length;
    if (leave.length > 0) why += `; ${leave.length} ${what} pod(s) on a node being drained leave service${noRoom > replaced ? ' before their replacement (no room beside them)' : ', replaced'}`;
    if (stay > 0) why += `; ${stay} ${what} pod(s) on a node being drained serve until their replacement is ready`;
  }

  // Draining pods that are empty or past their deadline are removed now. "Empty" counts only from
  // a reading taken after the pod left the Service (plus a settle time), so work that arrived just
  // before the drain started is never cut.
  const timedOut = (p: ComponentPod) => p.drainingSinceMs !== undefined && nowMs - p.drainingSinceMs >= input.drainTimeoutSeconds * 1000;
  const removable = drainingLeft.filter((p) => p.phase === 'Pending' || emptySinceDrain(p) || timedOut(p));
  // The ReplicaSet's victim order puts Pending, Unknown and not-ready pods before any deletion
  // cost: while another pod of the pool is one of those (starting, or marked NotReady after a
  // control-plane pause), lowering replicas would take it, busy or not, instead of the drained one.
  // Removal waits until every other pod is running and ready (a pass or a few).
  const blockers = [...servingPods, ...drainingLeft].filter((p) => !removable.includes(p) && (p.phase !== 'Running' || p.ready === false));
  const remove = blockers.length > 0 ? [] : removable.map((p) => p.name);
  const replicas = replicasBeforeRemoval - remove.length;

  if (blockers.length > 0 && removable.length > 0) {
    why += `; removal of ${removable.length} drained ${what} pod(s) waits: ${blockers.map((p) => p.name).slice(0, 3).join(', ')} not running and ready (the ReplicaSet would delete it first)`;
  }
  if (remove.length > 0) why += `; removing ${remove.length} drained ${what} pod(s)`;
  if (undrain.length > 0) why += `; ${undrain.length} draining ${what} pod(s) back in service`;
  return {
    serving,
    replicas,
    drain,
    undrain,
    remove,
    draining: drainingLeft.length - remove.length,
    reason: why,
    direction: serving > servingNow ? 'up' : serving < servingNow ? 'down' : 'none',
  };
}
