// The autoscaler's I/O: reads the load of every live pod of a component from the fleet's source
// (the pods' own /metrics, or Prometheus) with the metric its descriptor names. Everything after
// this is pure (plan.ts).
import type { AnyComponent } from '../api/v1alpha1/components.ts';
import { LABEL_APP_COMPONENT } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { isTerminating, podPhase, type PodView } from '../runtime/views.ts';
import { toComponentPod } from './drain.ts';
import type { ComponentPod } from './pool.ts';
import type { LoadMetric, LoadSource, ReadingStore } from './readings.ts';

export interface LoadObservation {
  pods: ComponentPod[];
  /** Pod name → why its reading failed (only pods without a fresh reading). */
  errors: Map<string, string>;
  /** Load of the pods read (sessions of the backends, streams or requests of the others), terminating ones included. */
  active: number;
  unknownPods: number;
}

/**
 * Far more than a pod can hold (running plus waiting) is a broken exposition, not a load: such a
 * reading is unknown, so it can neither pin the fleet at maxReplicas nor overflow status.
 */
export const SANITY_FACTOR = 100;

/** Live pods of a component, in cache order; with `terminating`, also those stopping (in their preStop). */
export function componentPods(pods: PodView[], component: string, opts: { terminating?: boolean } = {}): PodView[] {
  return pods.filter((p) => p.metadata.labels?.[LABEL_APP_COMPONENT] === component && (opts.terminating === true || !isTerminating(p)));
}

export function loadMetric(c: AnyComponent): LoadMetric | undefined {
  if (c.load === undefined) return undefined;
  return {
    component: c.name,
    name: c.load.metric,
    plus: c.load.plusMetric,
    series: c.load.plusMetric === undefined ? 'one' : 'sum',
    ...(c.load.absentIsZero ? { absentIsZero: true } : {}),
  };
}

/**
 * Reads every running pod of `component` and merges the answers into `store` (last good reading per
 * pod). A pod whose last good reading is older than metricsStaleSeconds is unknown, never zero.
 * With `retain: false` (a partial read) pods not read keep their readings.
 */
export async function gatherLoad(
  fleet: UnmuteDeployment,
  component: AnyComponent,
  pods: PodView[],
  source: LoadSource,
  store: ReadingStore,
  nowMs: () => number,
  signal?: AbortSignal,
  opts: { retain?: boolean; leavingNodes?: ReadonlySet<string> } = {},
): Promise<LoadObservation> {
  const metric = loadMetric(component);
  // Terminating pods are read too: in their preStop they still hold conversations (a rollout, an
  // eviction), which are load the fleet carries until they end.
  const live = componentPods(pods, component.name, { terminating: true });
  const errors = new Map<string, string>();
  if (metric !== undefined) {
    const readable = live.filter((p) => podPhase(p) === 'Running');
    const read = await source.read(
      readable.map((p) => ({ pod: p.metadata.name ?? '', ip: p.status?.podIP, port: component.port, metric })),
      signal,
    );
    const bound = (component.load?.slotsPerReplica ?? 1) * SANITY_FACTOR;
    for (const [pod, r] of read.readings) {
      if (r.load <= bound) continue;
      read.readings.delete(pod);
      read.errors.set(pod, `${metric.name} is ${r.load}, above ${bound} (${SANITY_FACTOR} × the ${component.name} slots per pod): not a real reading`);
    }
    store.update(read.readings);
    for (const [pod, err] of read.errors) errors.set(pod, err);
  }
  if (opts.retain !== false) store.retain(live.map((p) => p.metadata.name ?? ''));
  const now = nowMs();
  const staleMs = fleet.spec.autoscaling.metricsStaleSeconds * 1000;
  const observed = live.map((p) => toComponentPod(p, store, now, staleMs, opts.leavingNodes));
  let active = 0;
  let unknownPods = 0;
  for (const p of observed) {
    // A pod that never ran holds nothing and has nothing to read.
    if (p.phase === 'Pending') continue;
    // An unread pod on its way out holds up nothing: it takes no new work and goes anyway.
    if (p.load === undefined) unknownPods += p.terminating || p.leaving ? 0 : 1;
    else active += p.load;
  }
  for (const p of observed) if (p.load !== undefined) errors.delete(p.name);
  return { pods: observed, errors, active, unknownPods };
}
