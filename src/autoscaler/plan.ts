// One plan per reconcile, as a pure function of what was gathered: replicas per component, the pod
// patches that drain or bring back backends, the events and scale counts to record, the sessions
// status shows, and when to look again. The reconciler applies the plan; it decides nothing itself.
import { SESSIONS_COMPONENT, fleetComponents, type ComponentName } from '../api/v1alpha1/components.ts';
import { LABEL_APP_COMPONENT, LABEL_SERVING, SERVING } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { isUnschedulable, type PodView } from '../runtime/views.ts';
import { drainPatches, type PodPatch } from './drain.ts';
import { acceptUntil, freeSlots, hotPods, rotationChanges, type RotationChanges } from './rotation.ts';
import type { SessionsObservation } from './gather.ts';
import { decide, pruneHistory, type BackendPod, type FollowerTier, type PolicyDecision, type Recommendation } from './policy.ts';

/** Sessions are refreshed this often in status when autoscaling is off. */
export const STATUS_REFRESH_MS = 30_000;

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

export interface PlanInput {
  fleet: UnmuteDeployment;
  nowMs: number;
  pods: PodView[];
  sessions: SessionsObservation;
  /** spec.replicas of each component's Deployment as cached (undefined: not created yet). */
  deployedReplicas: Partial<Record<ComponentName, number>>;
  /** Recommendations of the stabilisation window; undefined before the first decision of this process. */
  history: Recommendation[] | undefined;
}

export interface FleetPlan {
  /** Replicas for the renderer; components absent here run their spec replicas. */
  replicas: Partial<Record<ComponentName, number>>;
  /** Applied to pods before the Deployments, so the ReplicaSet sees deletion costs before replicas drop. */
  podPatches: PodPatch[];
  /** Backends one session from full, or full: the rotation controller reads them fast. */
  hot: string[];
  events: PlannedEvent[];
  scaleEvents: ScaleEvent[];
  sessions: { active: number; capacity: number; unknownPods: number; free: number };
  /** The autoscaler's decision; undefined when autoscaling is off. */
  decision: PolicyDecision | undefined;
  /** Every live backend as the policy saw it (sessions, drain state). */
  backends: BackendPod[];
  /** `pod: why` for each backend without a fresh reading. */
  readErrors: string[];
  /** The window's recommendations to remember for the next pass. */
  history: Recommendation[];
  requeueAfterMs: number | undefined;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/**
 * Backend replicas when no decision exists yet (first reconcile, offline render): the spec's when
 * autoscaling is off (`kubectl scale` writes it); otherwise what the Deployment runs (the previous
 * decision), within min..max, starting from the spec's.
 */
export function baselineReplicas(fleet: UnmuteDeployment, deployed: number | undefined): number {
  const { spec } = fleet;
  if (!spec.autoscaling.enabled) return spec.backend.replicas;
  return clamp(deployed ?? spec.backend.replicas, spec.autoscaling.minReplicas, spec.autoscaling.maxReplicas);
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

export function planFleet(input: PlanInput): FleetPlan {
  const { fleet, nowMs, sessions, pods } = input;
  const { spec } = fleet;
  const readErrors = [...sessions.errors.entries()].map(([pod, err]) => `${pod}: ${err}`);
  const backendReplicas = baselineReplicas(fleet, input.deployedReplicas[SESSIONS_COMPONENT]);

  const until = acceptUntil(fleet);
  const routing = (exclude: ReadonlySet<string>) => (spec.backend.routing.loadAware ? rotationChanges(sessions.pods, until, exclude) : { toFull: [], toRotation: [] });
  const hot = spec.backend.routing.loadAware ? hotPods(sessions.pods, until) : [];
  const free = freeSlots(sessions.pods, until);

  if (!spec.autoscaling.enabled) {
    const inService = sessions.pods.filter((p) => p.serving && !p.terminating && p.phase === 'Running').length;
    return {
      replicas: { [SESSIONS_COMPONENT]: backendReplicas },
      podPatches: rotationPatches(routing(new Set())),
      hot,
      events: [],
      scaleEvents: [],
      sessions: { active: sessions.active, capacity: inService * spec.backend.maxSessionsPerPod, unknownPods: sessions.unknownPods, free },
      decision: undefined,
      backends: sessions.pods,
      readErrors,
      history: [],
      requeueAfterMs: sessions.pods.some((p) => p.phase === 'Running') ? STATUS_REFRESH_MS : undefined,
    };
  }

  const components = fleetComponents(spec);
  const followers: Partial<Record<ComponentName, FollowerTier>> = {};
  let fixedGpus = 0;
  for (const c of components) {
    const current = input.deployedReplicas[c.name] ?? c.replicas;
    if (c.scaling === 'follower' && c.load !== undefined) {
      followers[c.name] = { replicas: current, slotsPerReplica: c.load.slotsPerReplica, gpusPerReplica: c.gpusPerReplica };
    } else if (c.scaling === 'fixed') {
      fixedGpus += c.gpusPerReplica * c.replicas;
    }
  }
  const gpuComponents = new Set(components.filter((c) => c.gpu !== undefined).map((c) => c.name as string));
  const pendingGpuPods = pods.filter((p) => isUnschedulable(p) && gpuComponents.has(p.metadata.labels?.[LABEL_APP_COMPONENT] ?? '')).length;

  // What runs now counts as a recommendation made now: after a restart the window starts over,
  // so a restarted operator does not shrink the fleet before one window has passed.
  const history = input.history ?? [{ atMs: nowMs, serving: Math.max(0, backendReplicas - sessions.pods.filter((p) => !p.serving).length) }];
  const decision = decide({
    nowMs,
    spec: spec.autoscaling,
    maxSessionsPerPod: spec.backend.maxSessionsPerPod,
    replicas: backendReplicas,
    pods: sessions.pods,
    history,
    followers,
    fixedGpus,
    gpuBudget: spec.gpu.maxTotal,
    pendingGpuPods,
    acceptUntil: until,
  });

  const events: PlannedEvent[] = [];
  const scaleEvents: ScaleEvent[] = [];
  if (decision.drain.length > 0) {
    events.push({ type: 'Normal', reason: 'DrainStarted', message: `taking ${decision.drain.join(', ')} out of service: ${decision.reason}` });
    scaleEvents.push({ component: SESSIONS_COMPONENT, direction: 'down', reason: 'drain' });
  }
  if (decision.remove.length > 0) {
    events.push({ type: 'Normal', reason: 'DrainCompleted', message: `removing drained backend(s) ${decision.remove.join(', ')}` });
  }
  if (decision.direction === 'up') {
    events.push({ type: 'Normal', reason: 'ScaledUp', message: `backends → ${decision.serving}: ${decision.reason}` });
    scaleEvents.push({ component: SESSIONS_COMPONENT, direction: 'up', reason: decision.undrain.length > 0 ? 'undrain' : 'load' });
  }

  return {
    replicas: { ...decision.followers, [SESSIONS_COMPONENT]: decision.replicas },
    podPatches: [
      ...drainPatches(decision, sessions.pods, new Date(nowMs).toISOString()),
      ...rotationPatches(routing(new Set([...decision.drain, ...decision.undrain, ...decision.remove]))),
    ],
    hot,
    events,
    scaleEvents,
    sessions: { ...decision.sessions, free },
    decision,
    backends: sessions.pods,
    readErrors,
    history: pruneHistory([...history, decision.recommendation], nowMs, spec.autoscaling.scaleDownStabilizationSeconds),
    requeueAfterMs: spec.autoscaling.intervalSeconds * 1000,
  };
}

/** True when the plan changes something worth a log line. */
export function planActs(plan: FleetPlan): boolean {
  const d = plan.decision;
  return d !== undefined && (d.drain.length + d.undrain.length + d.remove.length > 0 || d.direction !== 'none');
}
