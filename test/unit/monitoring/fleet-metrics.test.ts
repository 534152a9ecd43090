// The operator's fleet gauges: set from snapshots, stale series removed, everything of a fleet
// forgotten on deletion, scale events counted.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  FLEET_METRIC_NAMES,
  FLEET_METRIC_PREFIX,
  FleetMetrics,
  METRIC_DRAIN_DURATION,
  METRIC_GPU_BUDGET,
  METRIC_REPLICAS_DESIRED,
  METRIC_SCALE_EVENTS,
  METRIC_SESSIONS_CAPACITY,
  type FleetSnapshot,
} from '../../../src/monitoring/fleet-metrics.ts';

function aSnapshot(overrides: Partial<FleetSnapshot> = {}): FleetSnapshot {
  return {
    namespace: 'voice',
    name: 'demo',
    components: {
      backend: { desired: 3, ready: 2, gpusRequested: 0, pendingPods: 1 },
      tts: { desired: 1, ready: 1, gpusRequested: 1, pendingPods: 0 },
    },
    sessions: { active: 5, capacity: 8, unknownPods: 0, free: 3 },
    drainingPods: [{ component: 'backend', pod: 'demo-backend-x', sinceSeconds: 42 }],
    gpuBudget: 4,
    autoscalerAtMax: false,
    ...overrides,
  };
}

async function series(registry: Registry, name: string) {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (await metric.get()).values.map((v) => ({ labels: v.labels, value: v.value }));
}

describe('FleetMetrics', () => {
  it('registers every metric under the unmute_operator_ prefix', async () => {
    const registry = new Registry();
    new FleetMetrics(registry);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual([...FLEET_METRIC_NAMES].sort());
    for (const n of names) expect(n.startsWith(FLEET_METRIC_PREFIX)).toBe(true);
  });

  it('sets per-component gauges with namespace, fleet and component labels', async () => {
    const registry = new Registry();
    new FleetMetrics(registry).update(aSnapshot());
    expect(await series(registry, METRIC_REPLICAS_DESIRED)).toEqual([
      { labels: { namespace: 'voice', fleet: 'demo', component: 'backend' }, value: 3 },
      { labels: { namespace: 'voice', fleet: 'demo', component: 'tts' }, value: 1 },
    ]);
    expect(await series(registry, METRIC_SESSIONS_CAPACITY)).toEqual([
      { labels: { namespace: 'voice', fleet: 'demo', component: 'backend' }, value: 8 },
    ]);
    expect(await series(registry, METRIC_DRAIN_DURATION)).toEqual([
      { labels: { namespace: 'voice', fleet: 'demo', component: 'backend', pod: 'demo-backend-x' }, value: 42 },
    ]);
    expect(await series(registry, METRIC_GPU_BUDGET)).toEqual([{ labels: { namespace: 'voice', fleet: 'demo' }, value: 4 }]);
  });

  it('removes series the next snapshot no longer mentions', async () => {
    const registry = new Registry();
    const m = new FleetMetrics(registry);
    m.update(aSnapshot());
    m.update(aSnapshot({ components: { backend: { desired: 2, ready: 2, gpusRequested: 0, pendingPods: 0 } }, drainingPods: [], gpuBudget: undefined }));
    expect((await series(registry, METRIC_REPLICAS_DESIRED)).map((s) => s.labels['component'])).toEqual(['backend']);
    expect(await series(registry, METRIC_DRAIN_DURATION)).toEqual([]);
    expect(await series(registry, METRIC_GPU_BUDGET)).toEqual([]);
  });

  it('keeps fleets apart and forgets only the deleted one', async () => {
    const registry = new Registry();
    const m = new FleetMetrics(registry);
    m.update(aSnapshot());
    m.update(aSnapshot({ name: 'other' }));
    m.recordScaleEvent('voice', 'demo', 'backend', 'up', 'sessions');
    m.forget('voice', 'demo');
    for (const name of FLEET_METRIC_NAMES) {
      for (const s of await series(registry, name)) expect(s.labels['fleet'], name).toBe('other');
    }
    expect(await series(registry, METRIC_REPLICAS_DESIRED)).toHaveLength(2);
  });

  it('counts scale events by component, direction and reason, across snapshots', async () => {
    const registry = new Registry();
    const m = new FleetMetrics(registry);
    m.recordScaleEvent('voice', 'demo', 'backend', 'up', 'sessions');
    m.update(aSnapshot());
    m.recordScaleEvent('voice', 'demo', 'backend', 'up', 'sessions');
    m.recordScaleEvent('voice', 'demo', 'backend', 'down', 'drained');
    expect(await series(registry, METRIC_SCALE_EVENTS)).toEqual([
      { labels: { namespace: 'voice', fleet: 'demo', component: 'backend', direction: 'up', reason: 'sessions' }, value: 2 },
      { labels: { namespace: 'voice', fleet: 'demo', component: 'backend', direction: 'down', reason: 'drained' }, value: 1 },
    ]);
  });

  it('exports the autoscaler flag as 0 or 1', async () => {
    const registry = new Registry();
    const m = new FleetMetrics(registry);
    m.update(aSnapshot({ autoscalerAtMax: true }));
    expect((await series(registry, 'unmute_operator_autoscaler_at_max'))[0]?.value).toBe(1);
    m.update(aSnapshot({ autoscalerAtMax: false }));
    expect((await series(registry, 'unmute_operator_autoscaler_at_max'))[0]?.value).toBe(0);
  });
});
