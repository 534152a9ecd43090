// One plan per reconcile, as a pure function of what was gathered: replicas per component, the pod
// patches that drain or bring back pods (backends and the GPU components the autoscaler sizes) or
// move full backends out of rotation, the events and scale counts to record, the sessions status
// shows, and when to look again. The reconciler applies the plan; it decides nothing itself.
import { SESSIONS_COMPONENT, fleetComponents, type ComponentName } from '../api/v1alpha1/components.ts';
import { LABEL_APP_COMPONENT, LABEL_SERVING, SERVING } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { isUnschedulable, type PodView } from '../runtime/views.ts';
import { drainPatches, type PodPatch } from './drain.ts';
import type { LoadObservation } from './gather.ts';
import { poolPods, type ComponentPod, type PoolDecision } from './pool.ts';
import { planRollout, type RolloutPlan } from './rollout.ts';
import { decide, pruneHistory, type FollowerDecision, type FollowerInput, type PolicyDecision, type Recommendation } from './policy.ts';
import { acceptUntil, freeSlots, hotPods, rotationChanges, rotationOff, type RotationChanges } from './rotation.ts';
import { nextPassDelayMs } from './schedule.ts';

/** Sessions are refreshed this often in status when autoscaling is off. */
export const STATUS_REFRESH_MS = 30_000;
/** While a rollout replaces pods, loads are read this often: an old pod drained first is removed soon after it empties. */
export const ROLLOUT_REFRESH_MS = 5_000;
/** Start-up of a GPU pod assumed before any of its pods was seen starting. */
export const DEFAULT_STARTUP_SECONDS = 120;
/** How far back the session rate looks. */
const RATE_WINDOW_MS = 60_000;

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** A replica change, counted in unmute_operator_scale_events_total. */
export interface ScaleEvent {
  component: ComponentName;
  direction: 'up' | 'down';
  /** A short fixed word: load, drain, undrain. */
  reason: string;
}

/** The fleet's load at one pass: backend sessions, and what each sized component held. */
export interface LoadSample {
  atMs: number;
  sessions: number;
  load: Partial<Record<ComponentName, number>>;
}

/** What the plan remembers between passes (kept by FleetAutoscaler). */
export interface FleetMemory {
  /** Recommendations of each stabilisation window; undefined before the first decision of this process. */
  history: Partial<Record<ComponentName, Recommendation[]>> | undefined;
  samples: LoadSample[];
}

export interface PlanInput {
  fleet: UnmuteDeployment;
  nowMs: number;
  pods: PodView[];
  /** Loads read this pass, per component (the backends always; the components the autoscaler sizes). */
  observations: Partial<Record<ComponentName, LoadObservation>>;
  /** spec.replicas of each component's Deployment as cached (undefined: not created yet). */
  deployedReplicas: Partial<Record<ComponentName, number>>;
  /** The pod-template hash each Deployment runs (rollout.ts); absent before the first apply. */
  templateHashes?: Partial<Record<ComponentName, string>>;
  memory: FleetMemory;
}

export interface FleetPlan {
  /** Replicas for the renderer; components absent here run their spec replicas. */
  replicas: Partial<Record<ComponentName, number>>;
  /** Applied to pods before the Deployments, so the ReplicaSet sees deletion costs before replicas drop. */
  podPatches: PodPatch[];
  /** Rollouts and the GPU budget: gates to lift, old pods to delete, what each component has of old pods. */
  rollout: RolloutPlan;
  /** Backends one session from full, or full: the rotation controller reads them fast. */
  hot: string[];
  events: PlannedEvent[];
  scaleEvents: ScaleEvent[];
  sessions: { active: number; capacity: number; unknownPods: number; free: number };
  /** The autoscaler's decision; undefined when autoscaling is off. */
  decision: PolicyDecision | undefined;
  /** Every live backend as the policy saw it (sessions, drain state). */
  backends: ComponentPod[];
  /** Pods draining per component, with when their drain started. */
  draining: Array<{ component: ComponentName; pod: string; sinceMs: number | undefined }>;
  /** `pod: why` for each pod without a fresh reading. */
  readErrors: string[];
  memory: FleetMemory;
  requeueAfterMs: number | undefined;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * Backend replicas when no decision exists yet (first reconcile, offline render): the spec's when
 * autoscaling is off (`kubectl scale` writes it); otherwise what the Deployment runs (the previous
 * decision), raised to minReplicas, or the spec's within min..max for a new fleet. What runs is
 * never lowered to maxReplicas here: a lowered maxReplicas is reached by draining (the policy), while
 * fewer replicas now would let the ReplicaSet delete pods that hold conversations.
 */
export function baselineReplicas(fleet: UnmuteDeployment, deployed: number | undefined): number {
  const { spec } = fleet;
  if (!spec.autoscaling.enabled) return spec.backend.replicas;
  if (deployed !== undefined) return Math.max(deployed, spec.autoscaling.minReplicas);
  return clamp(spec.backend.replicas, spec.autoscaling.minReplicas, spec.autoscaling.maxReplicas);
}

/** Replicas for an offline render (no cluster): what a new fleet starts with. */
export function initialReplicas(fleet: UnmuteDeployment): Partial<Record<ComponentName, number>> {
  return { [SESSIONS_COMPONENT]: baselineReplicas(fleet, undefined) };
}

/** Label patches that move backends into or out of rotation (load-aware routing). */
function rotationPatches(changes: RotationChanges): PodPatch[] {
  return [
    ...changes.toFull.map((name) => ({ name, labels: { [LABEL_SERVING]: SERVING.full }, annotations: {} })),
    ...changes.toRotation.map((name) => ({ name, labels: { [LABEL_SERVING]: SERVING.inRotation }, annotations: {} })),
  ];
}

/** New sessions per second over the last minute, from the samples (0 when flat or falling). */
export function sessionRate(samples: LoadSample[], now: LoadSample): number {
  const old = samples.find((s) => s.atMs >= now.atMs - RATE_WINDOW_MS);
  if (old === undefined || now.atMs <= old.atMs) return 0;
  return Math.max(0, (now.sessions - old.sessions) / ((now.atMs - old.atMs) / 1000));
}

/** The most streams (or requests) per session a component held in the samples; undefined before any busy sample. */
export function perSession(samples: LoadSample[], component: ComponentName): number | undefined {
  let most: number | undefined;
  for (const s of samples) {
    const load = s.load[component];
    // Few sessions say little about the ratio (one speaking assistant of two is 50 %).
    if (load === undefined || s.sessions < 4) continue;
    most = Math.max(most ?? 0, load / s.sessions);
  }
  return most;
}

export function planFleet(input: PlanInput): FleetPlan {
  const { fleet, nowMs, pods } = input;
  const { spec } = fleet;
  const empty: LoadObservation = { pods: [], errors: new Map(), active: 0, unknownPods: 0 };
  const backendsSeen = input.observations[SESSIONS_COMPONENT] ?? empty;
  const readErrors = Object.values(input.observations).flatMap((o) => [...(o?.errors ?? new Map<string, string>()).entries()].map(([pod, err]) => `${pod}: ${err}`));
  const backendReplicas = baselineReplicas(fleet, input.deployedReplicas[SESSIONS_COMPONENT]);

  const until = acceptUntil(fleet);
  const routing = (exclude: ReadonlySet<string>) => (spec.backend.routing.loadAware ? rotationChanges(backendsSeen.pods, until, exclude) : rotationOff(backendsSeen.pods, exclude));
  const hot = spec.backend.routing.loadAware ? hotPods(backendsSeen.pods, until) : [];
  const free = freeSlots(backendsSeen.pods, until);
  const drainingOf = (component: ComponentName, observed: LoadObservation) =>
    observed.pods.filter((p) => !p.serving && !p.terminating).map((p) => ({ component, pod: p.name, sinceMs: p.drainingSinceMs }));
  const rollout = planRollout({ fleet, nowMs, pods, templateHashes: input.templateHashes ?? {}, observations: input.observations });
  // Every component that drains shows its draining pods (drained by the autoscaler or first by a rollout).
  const allDraining = () =>
    (Object.entries(input.observations) as [ComponentName, LoadObservation][]).flatMap(([name, observed]) => drainingOf(name, observed));

  if (!spec.autoscaling.enabled) {
    // Load-aware routing needs fresh readings without autoscaling too: the fast path only follows
    // backends a pass found one session from full, so a backend filling up between two passes
    // stays in rotation until the next one (30 s at the status refresh alone).
    const refresh = spec.backend.routing.loadAware ? Math.min(STATUS_REFRESH_MS, spec.autoscaling.intervalSeconds * 1000) : STATUS_REFRESH_MS;
    const inService = backendsSeen.pods.filter((p) => p.serving && !p.terminating && p.phase === 'Running').length;
    return {
      replicas: { [SESSIONS_COMPONENT]: backendReplicas },
      podPatches: [...rollout.podPatches, ...rotationPatches(routing(new Set()))],
      rollout,
      hot,
      events: rollout.events,
      scaleEvents: [],
      sessions: { active: backendsSeen.active, capacity: inService * spec.backend.maxSessionsPerPod, unknownPods: backendsSeen.unknownPods, free },
      decision: undefined,
      backends: backendsSeen.pods,
      draining: allDraining(),
      readErrors,
      memory: { history: undefined, samples: [] },
      requeueAfterMs: rolling(rollout) ? Math.min(ROLLOUT_REFRESH_MS, refresh) : backendsSeen.pods.some((p) => p.phase === 'Running') ? (spec.backend.routing.loadAware ? nextPass(fleet, nowMs, refresh) : refresh) : undefined,
    };
  }

  const components = fleetComponents(spec);
  const seed = (replicas: number, observed: LoadObservation): Recommendation[] => [
    { atMs: nowMs, serving: Math.max(0, replicas - poolPods(observed.pods, replicas).draining.length) },
  ];
  // What runs now counts as a recommendation made now: after a restart each window starts over,
  // so a restarted operator does not shrink anything before one window has passed.
  const history: Partial<Record<ComponentName, Recommendation[]>> = input.memory.history ?? { [SESSIONS_COMPONENT]: seed(backendReplicas, backendsSeen) };
  const sample: LoadSample = { atMs: nowMs, sessions: backendsSeen.active, load: {} };
  const followers: Partial<Record<ComponentName, FollowerInput>> = {};
  let fixedGpus = 0;
  for (const c of components) {
    const current = input.deployedReplicas[c.name] ?? c.replicas;
    const observed = input.observations[c.name];
    if (c.scaling === 'follower' && c.load !== undefined && observed !== undefined) {
      // Streams per session only from a complete reading of running pods: none running, or one unread, says nothing.
      if (observed.unknownPods === 0 && observed.pods.some((p) => p.phase === 'Running')) sample.load[c.name] = observed.active;
      const measured = Math.max(0, ...observed.pods.map((p) => p.startupSeconds ?? 0));
      const settings = c.settings as { startupSeconds?: number | undefined };
      followers[c.name] = {
        replicas: current,
        pods: observed.pods,
        slotsPerReplica: c.load.slotsPerReplica,
        gpusPerReplica: c.gpusPerReplica,
        history: history[c.name] ?? seed(current, observed),
        startupSeconds: settings.startupSeconds ?? (measured > 0 ? measured : DEFAULT_STARTUP_SECONDS),
        perSession: perSession([...input.memory.samples, sample], c.name),
      };
    } else if (c.scaling === 'fixed') {
      fixedGpus += c.gpusPerReplica * c.replicas;
    }
  }
  const gpuComponents = new Set(components.filter((c) => c.gpu !== undefined).map((c) => c.name as string));
  const pendingGpuPods = pods.filter((p) => isUnschedulable(p) && gpuComponents.has(p.metadata.labels?.[LABEL_APP_COMPONENT] ?? '')).length;

  const decision = decide({
    nowMs,
    spec: spec.autoscaling,
    maxSessionsPerPod: spec.backend.maxSessionsPerPod,
    replicas: backendReplicas,
    pods: backendsSeen.pods,
    history: history[SESSIONS_COMPONENT] ?? [],
    followers,
    fixedGpus,
    gpuBudget: spec.gpu.maxTotal,
    pendingGpuPods,
    acceptUntil: until,
    sessionRate: sessionRate(input.memory.samples, sample),
  });

  const events: PlannedEvent[] = [];
  const scaleEvents: ScaleEvent[] = [];
  // Rollout patches first: a drain of the same pod decided by the pool below wins.
  const podPatches: PodPatch[] = [...rollout.podPatches];
  events.push(...rollout.events);
  const replicas: Partial<Record<ComponentName, number>> = { [SESSIONS_COMPONENT]: decision.replicas };
  const nowIso = new Date(nowMs).toISOString();
  const pools: Array<[ComponentName, PoolDecision, ComponentPod[]]> = [
    [SESSIONS_COMPONENT, decision, backendsSeen.pods],
    ...(Object.entries(decision.followers) as [ComponentName, FollowerDecision][]).map(
      ([name, d]): [ComponentName, PoolDecision, ComponentPod[]] => [name, d, followers[name]?.pods ?? []],
    ),
  ];
  for (const [name, d, poolMembers] of pools) {
    if (name !== SESSIONS_COMPONENT) replicas[name] = d.replicas;
    podPatches.push(...drainPatches(d, poolMembers, nowIso));
    const what = name === SESSIONS_COMPONENT ? 'backend' : name;
    if (d.drain.length > 0) {
      events.push({ type: 'Normal', reason: 'DrainStarted', message: `taking ${d.drain.join(', ')} out of service: ${d.reason}` });
      scaleEvents.push({ component: name, direction: 'down', reason: 'drain' });
    }
    if (d.remove.length > 0) events.push({ type: 'Normal', reason: 'DrainCompleted', message: `removing drained ${what} pod(s) ${d.remove.join(', ')}` });
    if (d.direction === 'up') {
      events.push({ type: 'Normal', reason: 'ScaledUp', message: `${what} → ${d.serving}: ${d.reason}` });
      scaleEvents.push({ component: name, direction: 'up', reason: d.undrain.length > 0 ? 'undrain' : 'load' });
    }
  }
  const backendActions = new Set([...decision.drain, ...decision.undrain, ...decision.remove]);
  podPatches.push(...rotationPatches(routing(backendActions)));

  const window = spec.autoscaling.scaleDownStabilizationSeconds;
  const nextHistory: Partial<Record<ComponentName, Recommendation[]>> = {
    [SESSIONS_COMPONENT]: pruneHistory([...(history[SESSIONS_COMPONENT] ?? []), decision.recommendation], nowMs, window),
  };
  for (const [name, d] of Object.entries(decision.followers) as [ComponentName, NonNullable<PolicyDecision['followers'][ComponentName]>][]) {
    nextHistory[name] = pruneHistory([...(followers[name]?.history ?? []), d.recommendation], nowMs, window);
  }
  const keepMs = Math.max(window * 1000, RATE_WINDOW_MS);
  return {
    replicas,
    podPatches,
    rollout,
    hot,
    events,
    scaleEvents,
    sessions: { ...decision.sessions, free },
    decision,
    backends: backendsSeen.pods,
    draining: allDraining(),
    readErrors,
    memory: { history: nextHistory, samples: [...input.memory.samples.filter((s) => s.atMs >= nowMs - keepMs), sample] },
    requeueAfterMs: Math.min(nextPass(fleet, nowMs, spec.autoscaling.intervalSeconds * 1000), rolling(rollout) ? ROLLOUT_REFRESH_MS : Infinity),
  };
}

/** The fleet's next slot of its period (schedule.ts): fleets' reads spread over the interval. */
const nextPass = (fleet: PlanInput['fleet'], nowMs: number, periodMs: number) => nextPassDelayMs(`${fleet.metadata.namespace}/${fleet.metadata.name}`, nowMs, periodMs);

const rolling = (r: RolloutPlan) => Object.keys(r.components).length > 0 || r.gpus.gated > 0;

/** True when the plan changes something worth a log line. */
export function planActs(plan: FleetPlan): boolean {
  const d = plan.decision;
  if (d === undefined) return false;
  const pools = [d, ...Object.values(d.followers)];
  return pools.some((p) => p !== undefined && (p.drain.length + p.undrain.length + p.remove.length > 0 || p.direction !== 'none'));
}
