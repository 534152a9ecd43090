// Status as a pure function of what the reconcile observed and decided. Written once per pass,
// and only when it differs from what the object already says.
import type { ComponentName } from '../api/v1alpha1/components.ts';
import type { Condition, UnmuteDeployment, UnmuteDeploymentStatus } from '../api/v1alpha1/unmute-deployment.ts';
import type { PolicyDecision } from '../autoscaler/policy.ts';
import { setCondition } from '../runtime/conditions.ts';
import type { ObservedComponent } from './observe.ts';

export const CONDITION_READY = 'Ready';
export const CONDITION_PROGRESSING = 'Progressing';
export const CONDITION_DEGRADED = 'Degraded';
export const CONDITION_METRICS_AVAILABLE = 'MetricsAvailable';
export const CONDITION_SCALING_LIMITED = 'ScalingLimited';
export const CONDITION_MONITORING = 'MonitoringConfigured';

export interface StatusInput {
  fleet: UnmuteDeployment;
  now: Date;
  /** First error of the apply step, when it failed. */
  applyError?: string;
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

export function computeStatus(input: StatusInput): UnmuteDeploymentStatus {
  const { fleet, now } = input;
  const prev = fleet.status ?? {};
  const generation = fleet.metadata.generation ?? 0;
  const cond = conditionsOf(prev, generation, now);
  const set = cond.set;

  const components: NonNullable<UnmuteDeploymentStatus['components']> = {};
  const notReady: string[] = [];
  const rolling: string[] = [];
  let unschedulable = 0;
  let gpusRequested = 0;
  for (const [name, c] of Object.entries(input.components) as [ComponentName, ObservedComponent][]) {
    components[name] = {
      desiredReplicas: c.desiredReplicas,
      readyReplicas: c.readyReplicas,
      updatedReplicas: c.updatedReplicas,
      ...(c.endpoints === undefined ? {} : { endpoints: c.endpoints }),
      ...(c.gpusPerPod > 0 ? { gpusRequested: c.gpusPerPod * c.desiredReplicas } : {}),
    };
    gpusRequested += c.gpusPerPod * c.desiredReplicas;
    unschedulable += c.unschedulablePods;
    // Ready means the fleet can take a conversation: every tier has a ready pod. Progressing
    // carries the finer detail, so a scale-up does not flip Ready.
    if (c.desiredReplicas > 0 && c.readyReplicas === 0) notReady.push(name);
    // Old pods still present count as rolling: ready and updated can both reach `desired` while
    // the previous ReplicaSet is still being scaled down.
    if (!c.rolloutObserved || c.updatedReplicas < c.desiredReplicas || c.readyReplicas !== c.desiredReplicas || c.totalReplicas > c.updatedReplicas) {
      rolling.push(name);
    }
  }

  if (input.applyError !== undefined) {
    set(CONDITION_READY, 'False', 'ApplyFailed', input.applyError);
  } else if (notReady.length > 0) {
    set(CONDITION_READY, 'False', 'ComponentsNotReady', `no ready pod yet: ${notReady.join(', ')}`);
  } else {
    set(CONDITION_READY, 'True', 'AllComponentsReady', 'every component has ready pods');
  }

  const draining = input.drainingPods.length;
  if (rolling.length > 0) {
    set(CONDITION_PROGRESSING, 'True', 'RollingOut', `replicas not yet ready and updated: ${rolling.join(', ')}`);
  } else if (draining > 0) {
    set(CONDITION_PROGRESSING, 'True', 'Draining', `${draining} backend(s) finishing their sessions before removal`);
  } else {
    set(CONDITION_PROGRESSING, 'False', 'Stable', 'every component runs its desired replicas');
  }

  if (input.applyError !== undefined) {
    set(CONDITION_DEGRADED, 'True', 'ApplyFailed', input.applyError);
  } else if (unschedulable > 0) {
    set(CONDITION_DEGRADED, 'True', 'PodsUnschedulable', `${unschedulable} pod(s) cannot be scheduled (no node with a free GPU or matching selector)`);
  } else {
    set(CONDITION_DEGRADED, 'False', 'AsExpected', '');
  }

  const a = input.autoscaling;
  if (a === undefined) {
    cond.drop(CONDITION_METRICS_AVAILABLE);
    cond.drop(CONDITION_SCALING_LIMITED);
  } else {
    if (a.decision.metricsAvailable) set(CONDITION_METRICS_AVAILABLE, 'True', 'SessionsRead', 'every backend reported its sessions');
    else {
      const detail = a.readErrors.slice(0, 3).join('; ');
      set(CONDITION_METRICS_AVAILABLE, 'False', 'SessionsUnknown', `${a.decision.sessions.unknownPods} backend(s) without a fresh reading; scale-down held${detail ? `: ${detail}` : ''}`);
    }
    if (a.decision.limited) set(CONDITION_SCALING_LIMITED, 'True', a.decision.limited.reason, a.decision.limited.message);
    else set(CONDITION_SCALING_LIMITED, 'False', 'WithinLimits', '');
  }

  if (!input.monitoring.enabled) set(CONDITION_MONITORING, 'False', 'Disabled', 'spec.monitoring.enabled is false');
  else if (!input.monitoring.prometheusOperator) {
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
  const lastScale = a?.lastScale ?? (prev.lastScaleTime ? { time: prev.lastScaleTime, reason: prev.lastScaleReason ?? '' } : undefined);
  if (lastScale) {
    status.lastScaleTime = lastScale.time;
    status.lastScaleReason = lastScale.reason;
  }
  return status;
}
