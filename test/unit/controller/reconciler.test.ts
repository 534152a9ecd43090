// The reconcile against filled caches and a recording client: what it writes, in which order, what
// status says and which events it records. Each case is a sentence about behaviour a user relies on.
import { describe, expect, it } from 'vitest';
import {
  ANNOTATION_DRAINING_SINCE,
  ANNOTATION_POD_DELETION_COST,
  ANNOTATION_TEMPLATE_HASH,
  LABEL_SERVING,
  SCHEDULING_GATE_GPU_BUDGET,
  SERVING,
} from '../../../src/api/v1alpha1/labels.ts';
import { DELETION_COST_DRAINING, DELETION_COST_REMOVE } from '../../../src/autoscaler/drain.ts';
import { nextPassDelayMs } from '../../../src/autoscaler/schedule.ts';
import { ANNOTATION_SKIP_DRAIN, FINALIZER_DRAIN } from '../../../src/api/v1alpha1/labels.ts';
import { ANNOTATION_ADOPT } from '../../../src/controller/ownership.ts';
import { KubeApiError } from '../../../src/runtime/errors.ts';
import { FleetWorld } from '../../support/fleet-world.ts';

const replicasOf = (world: FleetWorld, name: string) => (world.client.applied('Deployment', name)[0] as unknown as { spec: { replicas: number } }).spec.replicas;

const autoscaled = (over: Record<string, unknown> = {}) => ({
  autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 10, targetSessionsPerPod: 3, scaleDownStabilizationSeconds: 0, followers: { stt: false, tts: false }, ...over },
});

describe('reconciling a fleet', () => {
  it('applies every child of a valid fleet, then writes status once', async () => {
    const world = new FleetWorld().withFleet();
    await world.reconcile();
    expect(world.client.applied('Deployment').map((d) => d.metadata.name)).toEqual(['demo-backend', 'demo-stt', 'demo-tts']);
    expect(world.client.applied('Service').map((d) => d.metadata.name)).toEqual(['demo-backend', 'demo-stt', 'demo-tts']);
    expect(world.client.applied('PodDisruptionBudget').map((d) => d.metadata.name)).toEqual(['demo-backend', 'demo-stt', 'demo-tts']);
    expect(world.client.writes.filter((w) => w.subresource === 'status')).toHaveLength(1);
    expect(world.client.writes.at(-1)?.subresource).toBe('status');
    expect(world.condition('Ready')).toMatchObject({ status: 'False', reason: 'ComponentsNotReady' });
    expect(world.client.status()?.['observedGeneration']).toBe(1);
  });

  it('reads its own write of the fleet when the next pass starts before the cache shows it, and the cache again once it moved on', async () => {
    const world = new FleetWorld().withFleet({}, { finalizers: [] });
    await world.reconcile();
    expect(world.client.writes.filter((w) => w.kind === 'UnmuteDeployment' && w.subresource === undefined)).toHaveLength(1);
    // The finalizer's watch event wakes a second pass while the cache still holds the fleet without it.
    await world.later(0).reconcile();
    expect(world.client.writes.filter((w) => w.kind === 'UnmuteDeployment' && w.subresource === undefined)).toEqual([]);
    // Another version in the cache (an edit by someone else) is read from the cache.
    world.withFleet({ backend: { replicas: 2 } }, { generation: 2 });
    await world.later(0).reconcile();
    expect(world.client.status()?.['observedGeneration']).toBe(2);
    expect(replicasOf(world, 'demo-backend')).toBe(2);
  });

  it('says Ready once every component has a ready pod', async () => {
    const world = new FleetWorld().withFleet().withDeployment('backend', 1).withDeployment('stt', 1).withDeployment('tts', 1);
    await world.reconcile();
    expect(world.condition('Ready')).toMatchObject({ status: 'True', reason: 'AllComponentsReady' });
    expect(world.condition('Progressing')).toMatchObject({ status: 'False', reason: 'Stable' });
  });

  it('writes nothing but status, with Ready=False InvalidSpec and an event, when a referenced Secret is missing', async () => {
    const world = new FleetWorld().withFleet({ stt: { hfTokenSecretRef: { name: 'hf', key: 'token' } } });
    const result = await world.reconcile();
    expect(world.client.childWrites()).toEqual([]);
    expect(world.client.writes.map((w) => w.subresource ?? w.verb)).toEqual(['status']);
    expect(world.condition('Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(world.condition('Ready')?.message).toContain('Secret "hf" not found');
    expect(world.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'InvalidSpec' })]);
    expect(result).toEqual({ requeueAfterMs: 30_000 });
  });

  it('goes ahead once the Secret has the key', async () => {
    const world = new FleetWorld().withFleet({ stt: { hfTokenSecretRef: { name: 'hf', key: 'token' } } }).withSecret('hf', { token: 'x' });
    await world.reconcile();
    expect(world.client.applied('Deployment')).toHaveLength(3);
  });

  it('reports ApplyFailed with the API server message and retries, when an apply is refused', async () => {
    const world = new FleetWorld().withFleet();
    world.client.failApply.set('Service/demo-stt', new KubeApiError({ code: 422, reason: 'Invalid', message: 'spec.ports[0].port: Invalid value' }));
    await expect(world.reconcile()).rejects.toThrow(/Service demo-stt: spec.ports\[0\].port: Invalid value/);
    expect(world.condition('Ready')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(world.condition('Degraded')).toMatchObject({ status: 'True', reason: 'ApplyFailed' });
  });

  it('removes the per-fleet dashboard copies of the previous version and links the shared set in status', async () => {
    const world = new FleetWorld()
      .withFleet()
      .withOwned({ apiVersion: 'v1', kind: 'ConfigMap', name: 'demo-dashboard-fleet' })
      .withOwned({ apiVersion: 'v1', kind: 'ConfigMap', name: 'demo-dashboard-overview' });
    await world.reconcile();
    expect(world.client.applied('ConfigMap').filter((c) => (c.metadata.name ?? '').includes('dashboard'))).toEqual([]);
    expect(world.client.writes.filter((w) => w.verb === 'delete').map((w) => w.name).sort()).toEqual(['demo-dashboard-fleet', 'demo-dashboard-overview']);
    expect(world.client.status()?.['dashboards']).toContainEqual({ title: 'Fleet', path: '/d/unmute-fleet?var-namespace=voice&var-fleet=demo' });
  });

  it('stops quietly, with no error and no status, when its namespace is being deleted', async () => {
    const world = new FleetWorld().withFleet();
    world.client.failApply.set(
      'Deployment/demo-backend',
      new KubeApiError({ code: 403, reason: 'Forbidden', message: 'namespace is being terminated', details: { causes: [{ reason: 'NamespaceTerminating' }] } }),
    );
    await expect(world.reconcile()).resolves.toBeUndefined();
    expect(world.client.writes.filter((w) => w.subresource === 'status')).toEqual([]);
    expect(world.events).toEqual([]);
  });

  it('deletes a child the spec no longer implies and leaves an object it does not control', async () => {
    const world = new FleetWorld()
      .withFleet()
      .withOwned({ apiVersion: 'v1', kind: 'Service', name: 'demo-frontend' })
      .withOwned({ apiVersion: 'v1', kind: 'Service', name: 'demo-notes', owner: false });
    await world.reconcile();
    expect(world.client.writes.filter((w) => w.verb === 'delete')).toEqual([{ verb: 'delete', kind: 'Service', name: 'demo-frontend' }]);
  });
});

describe('autoscaling a fleet', () => {
  it('drains the emptiest backends first, before any Deployment changes, and keeps their replicas', async () => {
    const world = new FleetWorld()
      .withFleet(autoscaled())
      .withDeployment('backend', 3)
      .withPod('backend', 'demo-backend-a', { load: 2 })
      .withPod('backend', 'demo-backend-b', { load: 0 })
      .withPod('backend', 'demo-backend-c', { load: 1 });
    // A (re)started operator never shrinks on its first pass: what runs seeds the window.
    await world.reconcile();
    expect(world.client.writes.filter((w) => w.verb === 'patch')).toEqual([]);
    await world.later(1000).reconcile();
    const patches = world.client.writes.filter((w) => w.verb === 'patch');
    expect(patches.map((p) => p.name)).toEqual(['demo-backend-b', 'demo-backend-c']);
    expect(patches[0]?.body).toMatchObject({ metadata: { labels: { [LABEL_SERVING]: 'false' }, annotations: { [ANNOTATION_POD_DELETION_COST]: DELETION_COST_DRAINING } } });
    const firstDeployment = world.client.writes.findIndex((w) => w.verb === 'apply' && w.kind === 'Deployment');
    expect(world.client.writes.findIndex((w) => w.verb === 'patch')).toBeLessThan(firstDeployment);
    expect(replicasOf(world, 'demo-backend')).toBe(3);
    expect(world.events.map((e) => e.reason)).toContain('DrainStarted');
    expect(world.client.status()?.['drainingPods']).toEqual([]);
  });

  it('removes a drained backend only after an empty reading taken after the drain settled', async () => {
    const world = new FleetWorld();
    const since = new Date(world.nowMs - 60_000).toISOString();
    world
      .withFleet(autoscaled())
      .withDeployment('backend', 2)
      .withPod('backend', 'demo-backend-a', { load: 2 })
      .withPod('backend', 'demo-backend-b', { serving: false, annotations: { [ANNOTATION_DRAINING_SINCE]: since }, load: 0 });
    await world.reconcile();
    // Seen drained for the first time now: the annotation says when the drain was sent, which may be
    // long before it took effect (a write held up by a paused API server), so the settle time runs
    // from now.
    expect(replicasOf(world, 'demo-backend')).toBe(2);
    expect(world.client.writes.filter((w) => w.verb === 'patch' && w.name === 'demo-backend-b')).toEqual([]);
    await world.later(2_500).reconcile();
    const patch = world.client.writes.find((w) => w.verb === 'patch' && w.name === 'demo-backend-b');
    expect(patch?.body).toMatchObject({ metadata: { annotations: { [ANNOTATION_POD_DELETION_COST]: DELETION_COST_REMOVE } } });
    expect(replicasOf(world, 'demo-backend')).toBe(1);
    expect(world.events.map((e) => e.reason)).toContain('DrainCompleted');
  });

  it('holds scale-down and says why when a backend cannot be read', async () => {
    const world = new FleetWorld()
      .withFleet(autoscaled())
      .withDeployment('backend', 2)
      .withPod('backend', 'demo-backend-a', { load: 0 })
      .withPod('backend', 'demo-backend-b', { load: new Error('connect ECONNREFUSED') });
    await world.reconcile();
    expect(world.client.writes.filter((w) => w.verb === 'patch')).toEqual([]);
    expect(world.condition('MetricsAvailable')).toMatchObject({ status: 'False', reason: 'SessionsUnknown' });
    expect(world.condition('MetricsAvailable')?.message).toContain('demo-backend-b: connect ECONNREFUSED');
    expect(world.events.map((e) => e.reason)).toContain('MetricsUnavailable');
  });

  it('treats an absurd reading as unknown: no scale to maxReplicas, and status stays writable', async () => {
    const world = new FleetWorld()
      .withFleet(autoscaled())
      .withDeployment('backend', 2)
      .withPod('backend', 'demo-backend-a', { load: 1e308 })
      .withPod('backend', 'demo-backend-b', { load: 1 });
    await world.reconcile();
    expect(replicasOf(world, 'demo-backend')).toBe(2);
    expect(world.condition('MetricsAvailable')?.message).toContain('demo-backend-a: worker_active_sessions is 1e+308, above 400');
    const sessions = world.client.status()?.['sessions'] as Record<string, number>;
    expect(Object.values(sessions).every(Number.isSafeInteger)).toBe(true);
  });

  it('sizes following components from the plan and leaves fixed ones at their spec replicas', async () => {
    const world = new FleetWorld()
      .withFleet({ ...autoscaled({ followers: { stt: true, tts: false } }), stt: { slotsPerReplica: 4 }, tts: { replicas: 2 } })
      .withDeployment('backend', 4)
      .withPod('backend', 'demo-backend-a', { load: 3 })
      .withPod('backend', 'demo-backend-b', { load: 3 })
      .withPod('backend', 'demo-backend-c', { load: 3 })
      .withPod('backend', 'demo-backend-d', { load: 3 });
    await world.reconcile();
    // No STT pod read yet: one stream per session. 4 backends × 3 sessions / (4 slots × 80 %) = 3.75 → 4 STT pods.
    expect(replicasOf(world, 'demo-stt')).toBe(4);
    expect(replicasOf(world, 'demo-tts')).toBe(2);
  });

  it('requeues at the fleet slot of the autoscaling interval', async () => {
    const world = new FleetWorld().withFleet(autoscaled({ intervalSeconds: 7 })).withDeployment('backend', 1).withPod('backend', 'demo-backend-a', { load: 1 });
    expect(await world.reconcile()).toEqual({ requeueAfterMs: nextPassDelayMs('voice/demo', world.nowMs, 7000) });
  });

  it('records a Ready transition once, not on every pass', async () => {
    const world = new FleetWorld().withFleet().withDeployment('backend', 1).withDeployment('stt', 1).withDeployment('tts', 1);
    await world.reconcile();
    world.withFleet({}, { status: world.client.status() ?? {} });
    await world.reconcile();
    expect(world.events.filter((e) => e.reason === 'AllComponentsReady')).toHaveLength(1);
  });
});

describe('objects and pods the fleet does not own', () => {
  const foreignService = (annotations: Record<string, string> = {}) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'demo-backend', namespace: 'voice', uid: 'someone-else', annotations },
    spec: { selector: { app: 'theirs' } },
  });

  it('leaves an object that merely has a child\'s name untouched, applies the rest and says NameConflict', async () => {
    const world = new FleetWorld().withFleet();
    world.client.uncached.set('Service/demo-backend', foreignService());
    await world.reconcile();
    expect(world.client.applied('Service').map((o) => o.metadata.name)).toEqual(['demo-stt', 'demo-tts']);
    expect(world.client.applied('Deployment')).toHaveLength(3);
    expect(world.condition('Ready')).toMatchObject({ status: 'False', reason: 'NameConflict' });
    expect(world.condition('Ready')?.message).toContain('Service demo-backend: exists and is not this fleet\'s');
    expect(world.condition('Ready')?.message).toContain(`${ANNOTATION_ADOPT}=demo`);
    expect(world.events).toContainEqual(expect.objectContaining({ type: 'Warning', reason: 'NameConflict' }));
  });

  it('takes such an object over only when it is annotated for this fleet', async () => {
    const world = new FleetWorld().withFleet();
    world.client.uncached.set('Service/demo-backend', foreignService({ [ANNOTATION_ADOPT]: 'demo' }));
    await world.reconcile();
    expect(world.client.applied('Service').map((o) => o.metadata.name)).toContain('demo-backend');
    expect(world.condition('Ready')?.reason).not.toBe('NameConflict');
  });

  it('asks the API server only about names its caches do not know', async () => {
    const world = new FleetWorld().withFleet().withDeployment('backend', 1);
    await world.reconcile();
    expect(world.client.reads).not.toContain('Deployment/demo-backend');
    expect(world.client.reads).toContain('Deployment/demo-stt');
  });

  it('counts and drains only the pods its ReplicaSets created, and reports a foreign pod once', async () => {
    const world = new FleetWorld()
      .withFleet(autoscaled())
      .withDeployment('backend', 2)
      .withPod('backend', 'demo-backend-a', { load: 3 })
      .withPod('backend', 'demo-backend-b', { load: 2 })
      .withPod('backend', 'hand-made', { load: 0, foreign: true });
    await world.reconcile();
    expect(world.events.filter((e) => e.reason === 'ForeignPod').map((e) => e.message)).toEqual([
      'pod hand-made carries this fleet\'s labels but no ReplicaSet of the fleet owns it: not counted, never drained; remove its labels or delete it',
    ]);
    await world.later(1000).reconcile();
    expect(world.events.filter((e) => e.reason === 'ForeignPod')).toHaveLength(0);
    expect(world.client.writes.filter((w) => w.verb === 'patch').map((w) => w.name)).not.toContain('hand-made');
    expect((world.client.status()?.['sessions'] as { active: number }).active).toBe(5);
    expect(world.client.status()?.['replicas']).toBe(2);
  });
});

describe('the fleet\'s finalizer and its deletion', () => {
  it('adds its drain finalizer to a fleet that lacks it', async () => {
    const world = new FleetWorld().withFleet({}, { finalizers: [] });
    await world.reconcile();
    expect(world.client.applied('UnmuteDeployment')[0]?.metadata).toEqual({ name: 'demo', namespace: 'voice', finalizers: [FINALIZER_DRAIN] });
  });

  it('takes every backend out of rotation when the fleet is deleted and keeps the fleet while sessions last', async () => {
    const world = new FleetWorld();
    world
      .withFleet(autoscaled(), { deletedAt: new Date(world.nowMs - 10_000).toISOString() })
      .withDeployment('backend', 2)
      .withPod('backend', 'demo-backend-a', { load: 2 })
      .withPod('backend', 'demo-backend-b', { load: 0 });
    const result = await world.reconcile();
    expect(world.client.writes.filter((w) => w.verb === 'patch').map((w) => w.name)).toEqual(['demo-backend-a', 'demo-backend-b']);
    expect(world.client.applied('Deployment')).toEqual([]);
    expect(world.client.applied('UnmuteDeployment')).toEqual([]);
    expect(world.condition('Progressing')).toMatchObject({ status: 'True', reason: 'Deleting' });
    expect(world.condition('Progressing')?.message).toContain('waiting for 2 session(s) on 2 backend(s)');
    expect(result).toEqual({ requeueAfterMs: 5000 });
  });

  it('lets the deletion go on once every backend reads empty after the drain settled', async () => {
    const world = new FleetWorld();
    const drained = { serving: false, annotations: { 'unmute.sh/draining-since': new Date(world.nowMs - 30_000).toISOString() }, load: 0 };
    world.withFleet({}, { deletedAt: new Date(world.nowMs - 30_000).toISOString() }).withPod('backend', 'demo-backend-a', drained).withPod('backend', 'demo-backend-b', drained);
    await world.reconcile();
    expect(world.events.map((e) => e.reason)).not.toContain('DeletionDrained');
    await world.later(2_500).reconcile();
    expect(world.client.applied('UnmuteDeployment')[0]?.metadata).toEqual({ name: 'demo', namespace: 'voice', finalizers: [] });
    expect(world.events.map((e) => e.reason)).toEqual(['DeletionDrained']);
  });

  it('gives up waiting at drainTimeoutSeconds, with a Warning', async () => {
    const world = new FleetWorld();
    world.withFleet({ autoscaling: { drainTimeoutSeconds: 60 } }, { deletedAt: new Date(world.nowMs - 61_000).toISOString() }).withPod('backend', 'demo-backend-a', { load: 3 });
    await world.reconcile();
    expect(world.client.applied('UnmuteDeployment')[0]?.metadata.finalizers).toEqual([]);
    expect(world.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'DeletionDrainTimeout' })]);
  });

  it('deletes at once when the fleet carries the skip-drain annotation', async () => {
    const world = new FleetWorld();
    world.withFleet({}, { deletedAt: new Date(world.nowMs).toISOString(), annotations: { [ANNOTATION_SKIP_DRAIN]: 'true' } }).withPod('backend', 'demo-backend-a', { load: 3 });
    await world.reconcile();
    expect(world.client.applied('UnmuteDeployment')[0]?.metadata.finalizers).toEqual([]);
    expect(world.client.writes.filter((w) => w.verb === 'patch')).toEqual([]);
  });
});

describe('monitoring objects', () => {
  it('keeps the fleet Ready when a monitoring object is refused, and says so in MonitoringConfigured', async () => {
    const world = new FleetWorld({ prometheusOperator: true, gatewayApi: false, httpRouteTimeouts: false, grafanaOperator: false, nodeDrains: true }).withFleet().withDeployment('backend', 1).withDeployment('stt', 1).withDeployment('tts', 1);
    world.client.failApply.set('ServiceMonitor/demo-metrics', new KubeApiError({ code: 403, reason: 'Forbidden', message: 'servicemonitors is forbidden' }));
    await expect(world.reconcile()).rejects.toThrow(/ServiceMonitor demo-metrics/);
    expect(world.condition('Ready')).toMatchObject({ status: 'True' });
    expect(world.condition('MonitoringConfigured')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(world.client.applied('PrometheusRule')).toHaveLength(1);
  });

  it('replaces the per-component monitors and metrics Services of the previous version with one of each', async () => {
    const world = new FleetWorld({ prometheusOperator: true, gatewayApi: false, httpRouteTimeouts: false, grafanaOperator: false, nodeDrains: true })
      .withFleet()
      .withOwned({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', name: 'demo-backend' })
      .withOwned({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', name: 'demo-stt' })
      .withOwned({ apiVersion: 'v1', kind: 'Service', name: 'demo-backend-metrics' })
      .withOwned({ apiVersion: 'v1', kind: 'Service', name: 'demo-stt-metrics' });
    await world.reconcile();
    expect(world.client.applied('ServiceMonitor').map((o) => o.metadata.name)).toEqual(['demo-metrics']);
    expect(world.client.applied('Service').map((o) => o.metadata.name)).toContain('demo-metrics');
    expect(world.client.writes.filter((w) => w.verb === 'delete').map((w) => w.name).sort()).toEqual(['demo-backend', 'demo-backend-metrics', 'demo-stt', 'demo-stt-metrics']);
  });
});

describe('rolling out and the GPU budget', () => {
  const budget = { gpu: { maxTotal: 2 } };

  it('lifts the gate of a new GPU pod while the budget has room, with a guarded JSON patch', async () => {
    const world = new FleetWorld()
      .withFleet(budget)
      .withDeployment('backend', 1)
      .withDeployment('stt', 1)
      .withDeployment('tts', 1)
      .withPod('stt', 'demo-stt-a', { load: 0 })
      .withPod('tts', 'demo-tts-a', { gated: true });
    await world.reconcile();
    const ungate = world.client.writes.find((w) => w.verb === 'patch' && w.patchType === 'json');
    expect(ungate).toMatchObject({
      name: 'demo-tts-a',
      body: [
        { op: 'test', path: '/spec/schedulingGates', value: [{ name: SCHEDULING_GATE_GPU_BUDGET }] },
        { op: 'replace', path: '/spec/schedulingGates', value: [] },
      ],
    });
  });

  it('drains the emptiest old GPU pod first when the new one has no room, and says so', async () => {
    const old = { [ANNOTATION_TEMPLATE_HASH]: 'old' };
    const world = new FleetWorld()
      .withFleet(budget)
      .withDeployment('backend', 1)
      .withDeployment('stt', 2, 2, 'new')
      .withDeployment('tts', 0)
      .withPod('stt', 'demo-stt-a', { annotations: old, load: 3 })
      .withPod('stt', 'demo-stt-b', { annotations: old, load: 1 })
      .withPod('stt', 'demo-stt-c', { annotations: { [ANNOTATION_TEMPLATE_HASH]: 'new' }, gated: true });
    await world.reconcile();
    const drain = world.client.writes.find((w) => w.verb === 'patch' && w.name === 'demo-stt-b');
    expect(drain?.body).toMatchObject({ metadata: { labels: { [LABEL_SERVING]: SERVING.outdated } } });
    expect(world.events.map((e) => e.reason)).toContain('RolloutDrainFirst');
    expect(world.condition('Progressing')).toMatchObject({ reason: 'RollingOut' });
    expect(world.condition('Progressing')?.message).toContain('stt: 1 new pod(s), 2 old pod(s) holding 4 stream(s), no GPU room to surge');
    expect((world.client.status()?.['components'] as Record<string, unknown>)['stt']).toMatchObject({ outdatedPods: 2, outdatedLoad: 4 });
    expect(world.client.writes.some((w) => w.verb === 'delete')).toBe(false);
  });

  it('deletes an old pod drained first once it reads empty after the settle time, with its uid as precondition', async () => {
    const world = new FleetWorld();
    const drained = {
      serving: false,
      annotations: { [ANNOTATION_TEMPLATE_HASH]: 'old', [ANNOTATION_DRAINING_SINCE]: new Date(world.nowMs - 30_000).toISOString() },
      load: 0,
    };
    world
      .withFleet(budget)
      .withDeployment('backend', 1)
      .withDeployment('stt', 2, 2, 'new')
      .withDeployment('tts', 0)
      .withPod('stt', 'demo-stt-a', { annotations: { [ANNOTATION_TEMPLATE_HASH]: 'old' }, load: 3 })
      .withPod('stt', 'demo-stt-b', drained)
      .withPod('stt', 'demo-stt-c', { annotations: { [ANNOTATION_TEMPLATE_HASH]: 'new' }, gated: true });
    world.pods.get(`${'voice'}/demo-stt-b`)!.metadata.labels![LABEL_SERVING] = SERVING.outdated;
    await world.reconcile();
    expect(world.client.writes.filter((w) => w.verb === 'delete' && w.kind === 'Pod').map((w) => w.name)).toEqual(['demo-stt-b']);
  });
});

