// The operator's own view of each fleet, exported as Prometheus gauges: what it wants, what is
// ready, sessions against capacity, drains, GPUs and the autoscaler's limits. Alerts about pending
// GPU pods, a pinned autoscaler or a stuck drain read these; Unmute's metrics cannot tell.
//
// Series carry `namespace` (the fleet's), so the operator's scrape must keep them: honorLabels: true
// on its ServiceMonitor, honor_labels: true in a plain scrape config.
import { SESSIONS_COMPONENT } from '../api/v1alpha1/components.ts';
import { Counter, Gauge, type Registry } from 'prom-client';

export const FLEET_METRIC_PREFIX = 'unmute_operator_';
export const METRIC_REPLICAS_DESIRED = 'unmute_operator_replicas_desired';
export const METRIC_REPLICAS_READY = 'unmute_operator_replicas_ready';
export const METRIC_GPUS_REQUESTED = 'unmute_operator_gpus_requested';
export const METRIC_PODS_PENDING = 'unmute_operator_pods_pending';
export const METRIC_SESSIONS_ACTIVE = 'unmute_operator_sessions_active';
export const METRIC_SESSIONS_CAPACITY = 'unmute_operator_sessions_capacity';
export const METRIC_SESSIONS_FREE = 'unmute_operator_sessions_free';
export const METRIC_SESSIONS_UNKNOWN_PODS = 'unmute_operator_sessions_unknown_pods';
export const METRIC_DRAINING_PODS = 'unmute_operator_draining_pods';
export const METRIC_DRAIN_DURATION = 'unmute_operator_drain_duration_seconds';
export const METRIC_GPU_BUDGET = 'unmute_operator_gpu_budget';
export const METRIC_AUTOSCALER_AT_MAX = 'unmute_operator_autoscaler_at_max';
export const METRIC_SCALE_EVENTS = 'unmute_operator_scale_events_total';

/** Every fleet metric name, for tests and for the metric-name check of rules and dashboards. */
export const FLEET_METRIC_NAMES = [
  METRIC_REPLICAS_DESIRED,
  METRIC_REPLICAS_READY,
  METRIC_GPUS_REQUESTED,
  METRIC_PODS_PENDING,
  METRIC_SESSIONS_ACTIVE,
  METRIC_SESSIONS_CAPACITY,
  METRIC_SESSIONS_FREE,
  METRIC_SESSIONS_UNKNOWN_PODS,
  METRIC_DRAINING_PODS,
  METRIC_DRAIN_DURATION,
  METRIC_GPU_BUDGET,
  METRIC_AUTOSCALER_AT_MAX,
  METRIC_SCALE_EVENTS,
] as const;


export interface ComponentSnapshot {
  desired: number;
  ready: number;
  gpusRequested: number;
  pendingPods: number;
}

/** What the operator knows about one fleet at one moment. */
export interface FleetSnapshot {
  namespace: string;
  name: string;
  /** Keyed by component (backend, stt, tts, llm, voice-cloning, frontend, redis); absent ones are cleared. */
  components: Partial<Record<string, ComponentSnapshot>>;
  sessions: { active: number; capacity: number; unknownPods: number; free: number };
  /** Pods out of their Service finishing what they hold, per component. */
  drainingPods: Array<{ component: string; pod: string; sinceSeconds: number }>;
  /** spec.gpu.maxTotal; absent when the fleet has no budget. */
  gpuBudget?: number;
  autoscalerAtMax: boolean;
}

export type ScaleDirection = 'up' | 'down';

type FleetKey = string;
type Labels = Record<string, string>;

/**
 * Sets the fleet gauges from snapshots. Series a snapshot no longer mentions (a removed component,
 * a finished drain) are deleted, and forget() deletes everything of a fleet, so no series outlives
 * what it describes.
 */
export class FleetMetrics {
  readonly #desired: Gauge<string>;
  readonly #ready: Gauge<string>;
  readonly #gpusRequested: Gauge<string>;
  readonly #pending: Gauge<string>;
  readonly #sessionsActive: Gauge<string>;
  readonly #sessionsCapacity: Gauge<string>;
  readonly #sessionsFree: Gauge<string>;
  readonly #sessionsUnknown: Gauge<string>;
  readonly #draining: Gauge<string>;
  readonly #drainDuration: Gauge<string>;
  readonly #gpuBudget: Gauge<string>;
  readonly #atMax: Gauge<string>;
  readonly #scaleEvents: Counter<string>;
  /** Label sets written per fleet and metric, to delete what the next snapshot omits. */
  readonly #written = new Map<FleetKey, Map<Gauge<string> | Counter<string>, Map<string, Labels>>>();

  constructor(registry: Registry) {
    const registers = [registry];
    const tier = ['namespace', 'fleet', 'component'];
    const gauge = (name: string, help: string, labelNames: string[] = tier) => new Gauge({ name, help, labelNames, registers });
    this.#desired = gauge(METRIC_REPLICAS_DESIRED, 'Replicas the operator wants for a component of an UnmuteDeployment.');
    this.#ready = gauge(METRIC_REPLICAS_READY, 'Ready replicas of a component of an UnmuteDeployment.');
    this.#gpusRequested = gauge(METRIC_GPUS_REQUESTED, 'GPUs requested by the pods of a component.');
    this.#pending = gauge(METRIC_PODS_PENDING, 'Pods of a component that are Pending (not scheduled or not started).');
    this.#sessionsActive = gauge(METRIC_SESSIONS_ACTIVE, 'Running plus waiting sessions across the backends of an UnmuteDeployment.');
    this.#sessionsCapacity = gauge(METRIC_SESSIONS_CAPACITY, 'Serving backends times backend.maxSessionsPerPod.');
    this.#sessionsFree = gauge(METRIC_SESSIONS_FREE, 'Free session slots on backends in rotation: a new caller starts at once while above 0.');
    this.#sessionsUnknown = gauge(METRIC_SESSIONS_UNKNOWN_PODS, 'Backends whose session count could not be read.');
    this.#draining = gauge(METRIC_DRAINING_PODS, 'Pods out of their Service, waiting for their sessions (backends) or streams and requests (STT, TTS, LLM) to end.');
    this.#drainDuration = gauge(METRIC_DRAIN_DURATION, 'Seconds since a draining pod was taken out of its Service.', [...tier, 'pod']);
    this.#gpuBudget = gauge(METRIC_GPU_BUDGET, 'Most GPUs the UnmuteDeployment may request (spec.gpu.maxTotal).', ['namespace', 'fleet']);
    this.#atMax = gauge(METRIC_AUTOSCALER_AT_MAX, '1 when the autoscaler wants more backends than maxReplicas or the GPU budget allow.');
    this.#scaleEvents = new Counter({
      name: METRIC_SCALE_EVENTS,
      help: 'Replica changes decided by the operator, by component, direction and reason.',
      labelNames: [...tier, 'direction', 'reason'],
      registers,
    });
  }

  /** Replaces everything known about the snapshot's fleet (scale events excepted: they accumulate). */
  update(s: FleetSnapshot): void {
    const key = fleetKey(s.namespace, s.name);
    const fleet = { namespace: s.namespace, fleet: s.name };
    const seen = new Map<Gauge<string>, Map<string, Labels>>();
    const set = (g: Gauge<string>, labels: Labels, value: number): void => {
      g.set(labels, value);
      let m = seen.get(g);
      if (m === undefined) seen.set(g, (m = new Map()));
      m.set(labelKey(labels), labels);
    };

    for (const [component, c] of Object.entries(s.components)) {
      if (c === undefined) continue;
      const labels = { ...fleet, component };
      set(this.#desired, labels, c.desired);
      set(this.#ready, labels, c.ready);
      set(this.#gpusRequested, labels, c.gpusRequested);
      set(this.#pending, labels, c.pendingPods);
    }
    const backend = { ...fleet, component: SESSIONS_COMPONENT };
    set(this.#sessionsActive, backend, s.sessions.active);
    set(this.#sessionsCapacity, backend, s.sessions.capacity);
    set(this.#sessionsFree, backend, s.sessions.free);
    set(this.#sessionsUnknown, backend, s.sessions.unknownPods);
    // Every component that can drain has a series (0 when none drains), so a panel never shows "no data" for calm.
    const drainingCount = new Map<string, number>([[SESSIONS_COMPONENT, 0]]);
    for (const d of s.drainingPods) drainingCount.set(d.component, (drainingCount.get(d.component) ?? 0) + 1);
    for (const [component, n] of drainingCount) set(this.#draining, { ...fleet, component }, n);
    for (const d of s.drainingPods) set(this.#drainDuration, { ...fleet, component: d.component, pod: d.pod }, d.sinceSeconds);
    set(this.#atMax, backend, s.autoscalerAtMax ? 1 : 0);
    if (s.gpuBudget !== undefined) set(this.#gpuBudget, fleet, s.gpuBudget);

    const previous = this.#written.get(key);
    const next = new Map<Gauge<string> | Counter<string>, Map<string, Labels>>(seen);
    const events = previous?.get(this.#scaleEvents);
    if (events !== undefined) next.set(this.#scaleEvents, events);
    for (const [metric, labelSets] of previous ?? []) {
      if (metric === this.#scaleEvents) continue;
      const still = seen.get(metric as Gauge<string>);
      for (const [k, labels] of labelSets) if (still?.has(k) !== true) metric.remove(labels);
    }
    this.#written.set(key, next);
  }

  /** Counts one replica change the operator made (reason: a short fixed word, never free text). */
  recordScaleEvent(namespace: string, name: string, component: string, direction: ScaleDirection, reason: string): void {
    const labels = { namespace, fleet: name, component, direction, reason };
    this.#scaleEvents.inc(labels);
    const key = fleetKey(namespace, name);
    let fleetMap = this.#written.get(key);
    if (fleetMap === undefined) this.#written.set(key, (fleetMap = new Map()));
    let m = fleetMap.get(this.#scaleEvents);
    if (m === undefined) fleetMap.set(this.#scaleEvents, (m = new Map()));
    m.set(labelKey(labels), labels);
  }

  /** Deletes every series of a fleet (on UnmuteDeployment deletion). */
  forget(namespace: string, name: string): void {
    const key = fleetKey(namespace, name);
    for (const [metric, labelSets] of this.#written.get(key) ?? []) {
      for (const labels of labelSets.values()) metric.remove(labels);
    }
    this.#written.delete(key);
  }
}

function fleetKey(namespace: string, name: string): FleetKey {
  return `${namespace}/${name}`;
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}
