// Status as a pure function of what the reconcile observed and decided. Written once per pass,
// and only when it differs from what the object already says.
import { describeComponent, minimumReplicas, type ComponentName } from '../api/v1alpha1/components.ts';
import type { Condition, UnmuteDeployment, UnmuteDeploymentStatus } from '../api/v1alpha1/unmute-deployment.ts';
import type { PolicyDecision } from '../autoscaler/policy.ts';
import type { ComponentRollout } from '../autoscaler/rollout.ts';
import { setCondition } from '../runtime/conditions.ts';
import type { ObservedComponent } from './observe.ts';
import { dashboardLinks } from '../monitoring/dashboards/deliver.ts';

export const CONDITION_READY = 'Ready';
export const CONDITION_PROGRESSING = 'Progressing';
export const CONDITION_DEGRADED = 'Degraded';
export const CONDITION_METRICS_AVAILABLE = 'MetricsAvailable';
export const CONDITION_SCALING_LIMITED = 'ScalingLimited';
export const CONDITION_MONITORING = 'MonitoringConfigured';

/** An object of the fleet that this pass did not apply. */
export interface ApplyFailure {
  kind: string;
  name: string;
  reason: 'ApplyFailed' | 'NameConflict';
  message: string;
  /** A scrape object, rule or dashboard: the fleet still serves without it. */
  monitoring: boolean;
}

function describeFailures(failures: ApplyFailure[]): string {
  const shown = failures.slice(0, 5).map((f) => `${f.kind} ${f.name}: ${f.message}`);
  return failures.length > 5 ? `${shown.join('; ')}; and ${failures.length - 5} more` : shown.join('; ');
}

export interface StatusInput {
  fleet: UnmuteDeployment;
  now: Date;
  /** Every object this pass could not apply, with why. */
  applyFailures: ApplyFailure[];
  components: Partial<Record<ComponentName, ObservedComponent>>;
  backendSelector: string;
  backendPods: number;
  /** Undefined when autoscaling is off. */
  autoscaling?: {
    decision: PolicyDecision;
    readErrors: string[];
    lastScale?: { time: string; reason: string };
  };
  /** Live sessions, capacity in rotation and backends without a reading. */
  sessions?: { active: number; capacity: number; unknownPods: number };
  drainingPods: string[];
  /** Components with pods of an older template (rollout.ts). */
  rollouts?: Partial<Record<ComponentName, ComponentRollout>>;
  monitoring: { enabled: boolean; prometheusOperator: boolean };
}

type SetCondition = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string) => void;

/** Conditions of `prev` as a mutable list with a setter that stamps the generation. */
function conditionsOf(prev: UnmuteDeploymentStatus, generation: number, now: Date): { list: () => Condition[]; set: SetCondition; drop: (type: string) => void } {
  let conditions: Condition[] = prev.conditions ?? [];
  return {
    list: () => conditions,
    set: (type, status, reason, message) => {
      conditions = setCondition(conditions, { type, status, reason, message, observedGeneration: generation }, now);
    },
    drop: (type) => {
      conditions = conditions.filter((c) => c.type !== type);
    },
  };
}

/** Status of a fleet whose spec cannot work: nothing was applied; the rest of status is kept. */
export function invalidSpecStatus(prev: UnmuteDeploymentStatus, generation: number, problems: string[], now: Date): UnmuteDeploymentStatus {
  const c = conditionsOf(prev, generation, now);
  const message = problems.join('; ').slice(0, 4000);
  c.set(CONDITION_READY, 'False', 'InvalidSpec', message);
  c.set(CONDITION_PROGRESSING, 'False', 'InvalidSpec', 'nothing is applied until the spec is fixed');
  c.set(CONDITION_DEGRADED, 'True', 'InvalidSpec', message);
  return { ...prev, observedGeneration: generation, conditions: c.list() };
}

/** Status of a fleet being deleted: it drains; nothing else changes. */
export function deletingStatus(prev: UnmuteDeploymentStatus, generation: number, message: string, now: Date): UnmuteDeploymentStatus {
  const c = conditionsOf(prev, generation, now);
  c.set(CONDITION_READY, 'False', 'Deleting', 'the fleet is being deleted: no new conversation starts');
  c.set(CONDITION_PROGRESSING, 'True', 'Deleting', message);
  return { ...prev, conditions: c.list() };
}

export function computeStatus(input: StatusInput): UnmuteDeploymentStatus {
  const { fleet, now } = input;
  const prev = fleet.status ?? {};
  const generation = fleet.metadata.generation ?? 0;
  const cond = conditionsOf(prev, generation, now);
  const set = cond.set;

  const components: NonNullable<UnmuteDeploymentStatus['components']> = {};
  const short: string[] = [];
  const rolling: string[] = [];
  const unschedulable = { gpu: [] as string[], other: [] as string[] };
  let gpusRequested = 0;
  for (const [name, c] of Object.entries(input.components) as [ComponentName, ObservedComponent][]) {
    const rollout = input.rollouts?.[name];
    components[name] = {
      desiredReplicas: c.desiredReplicas,
      readyReplicas: c.readyReplicas,
      updatedReplicas: c.updatedReplicas,
      ...(c.endpoints === undefined ? {} : { endpoints: c.endpoints }),
      ...(c.gpusPerPod > 0 ? { gpusRequested: c.gpusPerPod * c.desiredReplicas } : {}),
      ...(rollout === undefined ? {} : { outdatedPods: rollout.outdated, outdatedLoad: Math.round(rollout.outdatedLoad) }),
    };
    gpusRequested += c.gpusPerPod * c.desiredReplicas;
    if (c.unschedulablePods > 0) (c.gpusPerPod > 0 ? unschedulable.gpu : unschedulable.other).push(`${c.unschedulablePods} ${name}`);
    // Ready means the fleet can take conversations as the spec asks: each component has at least
    // its minimum ready (autoscaling.minReplicas for the backends, the spec's replicas for a fixed
    // component), and the components a conversation passes through have at least one.
    const described = describeComponent(fleet.spec, name);
    const required = described === undefined ? 0 : Math.max(described.essential ? 1 : 0, minimumReplicas(fleet.spec, described));
    if (c.readyReplicas < required) short.push(`${name} ${c.readyReplicas}/${required}`);
    // Only a Deployment that exists can roll out. Old pods still present count as rolling: ready and
    // updated can both reach `desired` while the previous ReplicaSet is still being scaled down.
    if (rollout !== undefined) {
      const what = name === 'backend' ? 'session(s)' : name === 'llm' ? 'request(s)' : 'stream(s)';
      rolling.push(
        `${name}: ${rollout.updated} new pod(s), ${rollout.outdated} old pod(s) holding ${Math.round(rollout.outdatedLoad)} ${what}${rollout.drainFirst ? ', no GPU room to surge: draining one old pod at a time first' : ''}`,
      );
    } else if (c.exists && (!c.rolloutObserved || c.updatedReplicas < c.desiredReplicas || c.readyReplicas !== c.desiredReplicas || c.totalReplicas > c.updatedReplicas)) {
      rolling.push(`${name}: replicas not yet ready and updated`);
    }
  }

  const failed = input.applyFailures.filter((f) => !f.monitoring);
  const failedMonitoring = input.applyFailures.filter((f) => f.monitoring);
  const failureReason = failed.some((f) => f.reason === 'NameConflict') ? 'NameConflict' : 'ApplyFailed';
  const failureMessage = failed.length === 0 ? '' : `${failed.length} object(s) not applied: ${describeFailures(failed)}`;

  if (failed.length > 0) set(CONDITION_READY, 'False', failureReason, failureMessage);
  else if (short.length > 0) set(CONDITION_READY, 'False', 'ComponentsNotReady', `fewer ready pods than the spec asks (ready/required): ${short.join(', ')}`);
  else set(CONDITION_READY, 'True', 'AllComponentsReady', 'every component runs at least its minimum of ready pods');

  const draining = input.drainingPods.length;
  if (rolling.length > 0) {
    set(CONDITION_PROGRESSING, 'True', 'RollingOut', rolling.join('; '));
  } else if (draining > 0) {
    set(CONDITION_PROGRESSING, 'True', 'Draining', `${draining} pod(s) finishing their sessions or streams before removal: ${input.drainingPods.join(', ')}`);
  } else if (failed.length > 0) {
    set(CONDITION_PROGRESSING, 'False', failureReason, 'nothing moves towards the spec until the objects that failed can be applied');
  } else {
    set(CONDITION_PROGRESSING, 'False', 'Stable', 'every component runs its desired replicas');
  }

  if (failed.length > 0) {
    set(CONDITION_DEGRADED, 'True', failureReason, failureMessage);
  } else if (unschedulable.gpu.length > 0 || unschedulable.other.length > 0) {
    const parts = [
      ...(unschedulable.gpu.length > 0 ? [`GPU pods (${unschedulable.gpu.join(', ')}): no node with a free GPU of the requested product accepts them`] : []),
      ...(unschedulable.other.length > 0 ? [`pods without GPUs (${unschedulable.other.join(', ')}): no node matches their selector or has room`] : []),
    ];
    set(CONDITION_DEGRADED, 'True', 'PodsUnschedulable', `cannot be scheduled: ${parts.join('; ')}`);
  } else {
    set(CONDITION_DEGRADED, 'False', 'AsExpected', '');
  }

  const a = input.autoscaling;
  if (a === undefined) {
    cond.drop(CONDITION_METRICS_AVAILABLE);
    cond.drop(CONDITION_SCALING_LIMITED);
  } else {
    const unreadFollowers = Object.entries(a.decision.followers).filter(([, f]) => (f?.unknownPods ?? 0) > 0);
    if (a.decision.metricsAvailable && unreadFollowers.length === 0) set(CONDITION_METRICS_AVAILABLE, 'True', 'SessionsRead', 'every backend reported its sessions, every autoscaled GPU pod its load');
    else if (a.decision.metricsAvailable) {
      const which = unreadFollowers.map(([name, f]) => `${name} ${f!.unknownPods}`).join(', ');
      const detail = a.readErrors.slice(0, 3).join('; ');
      set(CONDITION_METRICS_AVAILABLE, 'False', 'LoadUnknown', `GPU pods without a fresh load reading (${which}); their scale-down held${detail ? `: ${detail}` : ''}`);
    } else {
      const detail = a.readErrors.slice(0, 3).join('; ');
      set(CONDITION_METRICS_AVAILABLE, 'False', 'SessionsUnknown', `${a.decision.sessions.unknownPods} backend(s) without a fresh reading; scale-down held${detail ? `: ${detail}` : ''}`);
    }
    if (a.decision.limited) set(CONDITION_SCALING_LIMITED, 'True', a.decision.limited.reason, a.decision.limited.message);
    else set(CONDITION_SCALING_LIMITED, 'False', 'WithinLimits', '');
  }

  if (!input.monitoring.enabled) set(CONDITION_MONITORING, 'False', 'Disabled', 'spec.monitoring.enabled is false');
  else if (failedMonitoring.length > 0) {
    set(CONDITION_MONITORING, 'False', 'ApplyFailed', `${failedMonitoring.length} monitoring object(s) not applied: ${describeFailures(failedMonitoring)}`);
  } else if (!input.monitoring.prometheusOperator) {
    set(CONDITION_MONITORING, 'False', 'PrometheusOperatorNotInstalled', 'monitoring.coreos.com is not served: ServiceMonitors and PrometheusRules skipped; use spec.monitoring.podAnnotations');
  } else set(CONDITION_MONITORING, 'True', 'Applied', 'scrape configuration, alerts and dashboards applied');

  const backend = input.components.backend;
  const status: UnmuteDeploymentStatus = {
    observedGeneration: generation,
    conditions: cond.list(),
    replicas: input.backendPods,
    selector: input.backendSelector,
    readyReplicas: backend?.readyReplicas ?? 0,
    desiredReplicas: a?.decision.serving ?? backend?.desiredReplicas ?? 0,
    components,
    drainingPods: input.drainingPods,
    gpus: { requested: gpusRequested, ...(fleet.spec.gpu.maxTotal === undefined ? {} : { budget: fleet.spec.gpu.maxTotal }) },
  };
  if (input.sessions !== undefined) status.sessions = { ...input.sessions };
  const dashboards = dashboardLinks(fleet);
  if (dashboards.length > 0) status.dashboards = dashboards;
  const lastScale = a?.lastScale ?? (prev.lastScaleTime ? { time: prev.lastScaleTime, reason: prev.lastScaleReason ?? '' } : undefined);
  if (lastScale) {
    status.lastScaleTime = lastScale.time;
    status.lastScaleReason = lastScale.reason;
  }
  return status;
}
