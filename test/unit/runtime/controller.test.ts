import { afterEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry, createRuntimeMetrics, type RuntimeMetrics } from '../../../src/observability/metrics.ts';
import { ObjectCache } from '../../../src/runtime/cache.ts';
import { Controller, type ReconcileContext, type ReconcileResult, type WatchSource } from '../../../src/runtime/controller.ts';
import { KubeApiError, TerminalError } from '../../../src/runtime/errors.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { forObject, ownedBy, specOrMetadataChanged } from '../../../src/runtime/watch-mappers.ts';
import { FakeClock, settle } from './support/fake-clock.ts';
import { captureLogs } from './support/log-capture.ts';
import { silentLogger } from '../../../src/observability/logger.ts';

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

function aSource(name = 'things'): WatchSource<KubeObject> & { store: ObjectCache<KubeObject> } {
  const store = new ObjectCache<KubeObject>({ logger: silentLogger() });
  return { name, store, cache: store, addHandler: (h) => store.addHandler(h), waitForSync: (s) => store.waitForSync(s) };
}

function anObject(name: string, extra: Partial<KubeObject['metadata']> = {}, kind = 'UnmuteDeployment'): KubeObject {
  return { apiVersion: 'unmute.sh/v1alpha1', kind, metadata: { name, namespace: 'ns', resourceVersion: '1', generation: 1, ...extra } };
}

type Behaviour = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

function aController(behaviour: Behaviour, options: { workers?: number; resyncPeriodMs?: number } = {}) {
  const clock = new FakeClock();
  const metrics = createRuntimeMetrics(createMetricsRegistry());
  const { logger, lines } = captureLogs();
  const calls: string[] = [];
  let ids = 0;
  const controller = new Controller({
    name: 'unmutedeployment',
    logger,
    clock,
    metrics,
    workers: options.workers,
    resyncPeriodMs: options.resyncPeriodMs,
    random: () => 0.5,
    newReconcileId: () => `r${++ids}`,
    reconcile: async (key, ctx) => {
      calls.push(key);
      return behaviour(key, ctx);
    },
  });
  const source = aSource();
  const stop = new AbortController();
  stops.push(stop);
  return { controller, source, clock, metrics, lines, calls, stop };
}

async function counter(metrics: RuntimeMetrics, name: string, labelFragment = '', series = name): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString(name);
  const line = text.split('\n').find((l) => l.startsWith(series) && l.includes(labelFragment));
  return line === undefined ? Number.NaN : Number(line.split(' ').at(-1));
}

const ok: Behaviour = async () => undefined;

describe('controller', () => {
  it('waits for its caches to sync before reconciling, then reconciles each key once', async () => {
    const { controller, source, calls, stop } = aController(ok);
    controller.watch(source, forObject());
    const running = controller.run(stop.signal);
    source.store.apply({ type: 'ADDED', object: anObject('a') });
    source.store.apply({ type: 'MODIFIED', object: anObject('a', { resourceVersion: '2' }) });
    await settle();
    expect(calls).toEqual([]);
    source.store.replace([anObject('a'), anObject('b')], '5');
    await settle();
    expect(calls.sort()).toEqual(['ns/a', 'ns/b']);
    stop.abort();
    await running;
  });

  it('counts successes and pre-sets every result label to zero', async () => {
    const { controller, source, metrics, stop } = aController(ok);
    expect(await counter(metrics, 'controller_runtime_reconcile_total', 'result="error"')).toBe(0);
    expect(await counter(metrics, 'controller_runtime_max_concurrent_reconciles')).toBe(1);
    controller.watch(source, forObject());
    source.store.replace([anObject('a')], '1');
    void controller.run(stop.signal);
    await settle();
    expect(await counter(metrics, 'controller_runtime_reconcile_total', 'result="success"')).toBe(1);
    expect(await counter(metrics, 'controller_runtime_reconcile_time_seconds', '', 'controller_runtime_reconcile_time_seconds_count')).toBe(1);
  });

  it('retries a failing key with per-key backoff, logging each failure once at error level', async () => {
    let failures = 2;
    const { controller, source, clock, calls, lines, metrics, stop } = aController(async () => {
      if (failures-- > 0) throw new Error('apply backend Deployment', { cause: new Error('boom') });
    });
    controller.watch(source, forObject());
    source.store.replace([anObject('a')], '1');
    void controller.run(stop.signal);
    await settle();
    expect(calls).toEqual(['ns/a']);
    await clock.advance(5);
    expect(calls).toHaveLength(2);
    await clock.advance(9);
    expect(calls).toHaveLength(2);
    await clock.advance(1);
    expect(calls).toHaveLength(3);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.msg)).toEqual(['reconcile failed; retrying', 'reconcile failed; retrying']);
    expect(errors[0]).toMatchObject({ controller: 'unmutedeployment', key: 'ns/a', reconcileId: 'r1', retryInMs: 5 });
    expect(await counter(metrics, 'controller_runtime_reconcile_errors_total')).toBe(2);
    expect(controller.queue.numRequeues('ns/a')).toBe(0);
  });

  it('stops retrying after a TerminalError and counts it', async () => {
    const { controller, source, clock, calls, metrics, lines, stop } = aController(async () => {
      throw new TerminalError('spec.gpu.product is not offered by any node', { reason: 'InvalidSpec' });
    });
    controller.watch(source, forObject());
    source.store.replace([anObject('a')], '1');
    void controller.run(stop.signal);
    await clock.advance(60_000);
    expect(calls).toEqual(['ns/a']);
    expect(await counter(metrics, 'controller_runtime_terminal_reconcile_errors_total')).toBe(1);
    expect(lines.find((l) => l.level === 'error')?.msg).toBe('reconcile failed permanently; not retrying');
  });

  it('requeues a 409 conflict quietly at debug level without counting an error', async () => {
    let first = true;
    const { controller, source, clock, calls, metrics, lines, stop } = aController(async () => {
      if (first) {
        first = false;
        throw new Error('update Lease', { cause: new KubeApiError({ code: 409, reason: 'Conflict', message: 'the object has been modified' }) });
      }
    });
    controller.watch(source, forObject());
    source.store.replace([anObject('a')], '1');
    void controller.run(stop.signal);
    await clock.advance(5);
    expect(calls).toHaveLength(2);
    expect(lines.some((l) => l.level === 'error')).toBe(false);
    expect(lines.find((l) => l.msg === 'conflict; requeueing')?.level).toBe('debug');
    expect(await counter(metrics, 'controller_runtime_reconcile_errors_total')).toBe(0);
    expect(await counter(metrics, 'controller_runtime_reconcile_total', 'result="requeue"')).toBe(1);
  });

  it('looks again after requeueAfterMs', async () => {
    let n = 0;
    const { controller, source, clock, calls, metrics, stop } = aController(async () => (n++ === 0 ? { requeueAfterMs: 10_000 } : undefined));
    controller.watch(source, forObject());
    source.store.replace([anObject('a')], '1');
    void controller.run(stop.signal);
    await clock.advance(9_999);
    expect(calls).toHaveLength(1);
    await clock.advance(1);
    expect(calls).toHaveLength(2);
    expect(await counter(metrics, 'controller_runtime_reconcile_total', 'result="requeue_after"')).toBe(1);
  });

  it('counts a TypeError as a panic and still retries it', async () => {
    let n = 0;
    const { controller, source, clock, calls, metrics, stop } = aController(async () => {
      if (n++ === 0) throw new TypeError("Cannot read properties of undefined (reading 'spec')");
    });
    controller.watch(source, forObject());
    source.store.replace([anObject('a')], '1');
    void controller.run(stop.signal);
    await clock.advance(5);
    expect(calls).toHaveLength(2);
    expect(await counter(metrics, 'controller_runtime_reconcile_panics_total')).toBe(1);
  });

  it('never reconciles one key concurrently, but runs distinct keys in parallel', async () => {
    const inFlight = new Set<string>();
    let overlap = false;
    let maxParallel = 0;
    const releases: Array<() => void> = [];
    const { controller, source, calls, stop } = aController(
      async (key) => {
        if (inFlight.has(key)) overlap = true;
        inFlight.add(key);
        maxParallel = Math.max(maxParallel, inFlight.size);
        await new Promise<void>((resolve) => releases.push(resolve));
        inFlight.delete(key);
      },
      { workers: 3 },
    );
    controller.watch(source, forObject());
    source.store.replace([anObject('a'), anObject('b')], '1');
    void controller.run(stop.signal);
    await settle();
    source.store.apply({ type: 'MODIFIED', object: anObject('a', { resourceVersion: '2', generation: 2 }) });
    await settle();
    expect(maxParallel).toBe(2);
    for (const release of releases.splice(0)) release();
    await settle();
    expect(calls.filter((k) => k === 'ns/a')).toHaveLength(2);
    for (const release of releases.splice(0)) release();
    await settle();
    expect(overlap).toBe(false);
  });

  it('maps owned objects to their controller owner and ignores other owners', async () => {
    const { controller, source, calls, stop } = aController(ok);
    const owned = aSource('deployments');
    controller.watch(source, forObject());
    controller.watch(owned, ownedBy({ apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' }));
    source.store.replace([], '1');
    owned.store.replace([], '1');
    void controller.run(stop.signal);
    await settle();
    const ref = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name: 'fleet', uid: 'u1' };
    owned.store.apply({ type: 'ADDED', object: anObject('fleet-backend', { ownerReferences: [{ ...ref, controller: true }] }, 'Deployment') });
    owned.store.apply({ type: 'ADDED', object: anObject('not-controller', { ownerReferences: [ref] }, 'Deployment') });
    owned.store.apply({ type: 'ADDED', object: anObject('other-kind', { ownerReferences: [{ ...ref, kind: 'ReplicaSet', controller: true }] }, 'Pod') });
    await settle();
    expect(calls).toEqual(['ns/fleet']);
  });

  it('ignores status-only updates of the primary kind when told to', async () => {
    const { controller, source, calls, stop } = aController(ok);
    controller.watch(source, forObject(), { updatePredicate: specOrMetadataChanged });
    source.store.replace([anObject('a')], '1');
    void controller.run(stop.signal);
    await settle();
    source.store.apply({ type: 'MODIFIED', object: { ...anObject('a', { resourceVersion: '2' }), status: { ready: true } } });
    await settle();
    expect(calls).toEqual(['ns/a']);
    source.store.apply({ type: 'MODIFIED', object: anObject('a', { resourceVersion: '3', generation: 2 }) });
    await settle();
    expect(calls).toEqual(['ns/a', 'ns/a']);
  });

  it('re-enqueues every object of resync sources each period', async () => {
    const { controller, source, clock, calls, stop } = aController(ok, { resyncPeriodMs: 60_000 });
    controller.watch(source, forObject(), { resync: true });
    source.store.replace([anObject('a'), anObject('b')], '1');
    void controller.run(stop.signal);
    await settle();
    expect(calls).toHaveLength(2);
    await clock.advance(60_000);
    expect(calls).toHaveLength(4);
  });

  it('on shutdown aborts the in-flight reconcile signal and resolves once it returned', async () => {
    let sawAbort = false;
    const { controller, source, stop } = aController(
      (_key, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            sawAbort = true;
            resolve(undefined);
          });
        }),
    );
    controller.watch(source, forObject());
    source.store.replace([anObject('a')], '1');
    const running = controller.run(stop.signal);
    await settle();
    stop.abort();
    await running;
    expect(sawAbort).toBe(true);
    expect(controller.queue.shuttingDown).toBe(true);
  });
});
