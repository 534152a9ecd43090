// Informers (reflector + cache) against a real kube-apiserver: events, label selectors, and a relist
// after the server answers a watch with 410 Expired.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeleteInfo } from '../../src/runtime/cache.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createInformer, Informer } from '../../src/runtime/informer.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { ListerWatcher } from '../../src/runtime/list-watch.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import type { RuntimeMetrics } from '../../src/observability/metrics.ts';
import { createNamespace, waitFor } from '../support/cluster.ts';
import { WIDGET, aKubeClient, ensureWidgetCrd, testLogger } from './runtime-support.ts';

const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap' } as const;

interface Seen {
  adds: string[];
  updates: Array<{ old: unknown; new: unknown }>;
  deletes: Array<{ name: string; info: DeleteInfo }>;
}

function record(informer: Informer): Seen {
  const seen: Seen = { adds: [], updates: [], deletes: [] };
  informer.addHandler({
    onAdd: (o) => seen.adds.push(o.metadata.name ?? ''),
    onUpdate: (a, b) => seen.updates.push({ old: a.data, new: b.data }),
    onDelete: (o, info) => seen.deletes.push({ name: o.metadata.name ?? '', info }),
  });
  return seen;
}

function cm(namespace: string, name: string, data: Record<string, string>, labels: Record<string, string> = {}): KubeObject {
  return { ...CONFIGMAP, metadata: { name, namespace, labels }, data };
}

describe('informer against the API server', () => {
  let client: KubeClient;
  let metrics: RuntimeMetrics;
  let namespace = '';
  const stop = new AbortController();

  beforeAll(async () => {
    ({ client, metrics } = await aKubeClient());
    namespace = await createNamespace('rt-informer');
  });
  afterAll(async () => {
    stop.abort();
    await client.close();
  });

  it('sees adds, updates with old and new state, and deletes in one namespace', async () => {
    await client.create(cm(namespace, 'before-start', { v: '0' }));
    const informer = createInformer(client, CONFIGMAP, { namespace }, { name: 'cm-events', logger: testLogger(), clock: systemClock(), metrics });
    const seen = record(informer);
    void informer.start(stop.signal);
    expect(await informer.waitForSync(stop.signal)).toBe(true);
    expect(seen.adds).toContain('before-start');
    expect(informer.cache.getByName(namespace, 'before-start')).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });

    await client.create(cm(namespace, 'x', { v: '1' }));
    await waitFor('add of x', () => seen.adds.includes('x'));
    await client.patch(CONFIGMAP, 'x', namespace, { data: { v: '2' } }, 'merge');
    await waitFor('update of x', () => seen.updates.find((u) => JSON.stringify(u.new) === '{"v":"2"}'));
    expect(seen.updates.at(-1)).toEqual({ old: { v: '1' }, new: { v: '2' } });
    await client.delete(CONFIGMAP, 'x', namespace);
    await waitFor('delete of x', () => seen.deletes.find((d) => d.name === 'x'));
    expect(seen.deletes.find((d) => d.name === 'x')?.info).toEqual({ finalStateUnknown: false });
    expect(informer.cache.getByName(namespace, 'x')).toBeUndefined();
  });

  it('watches only objects matching its label selector, across all namespaces', async () => {
    const informer = createInformer(client, CONFIGMAP, { labelSelector: 'runtime-test/role=selected' }, { name: 'cm-selected', logger: testLogger(), clock: systemClock() });
    const seen = record(informer);
    void informer.start(stop.signal);
    await informer.waitForSync(stop.signal);
    await client.create(cm(namespace, 'plain', { v: '1' }));
    await client.create(cm(namespace, 'selected', { v: '1' }, { 'runtime-test/role': 'selected' }));
    await waitFor('add of selected', () => seen.adds.includes('selected'));
    expect(seen.adds).not.toContain('plain');
    // Relabelled out of the selector: the watch reports it as deleted.
    await client.patch(CONFIGMAP, 'selected', namespace, { metadata: { labels: { 'runtime-test/role': 'other' } } }, 'merge');
    await waitFor('selected to leave the cache', () => seen.deletes.find((d) => d.name === 'selected'));
    expect(informer.cache.size).toBe(0);
  });

  it('caches metadata only when asked: listed and watched objects carry the kind they stand for, labels and managedFields, no data', async () => {
    await client.create(cm(namespace, 'meta-listed', { big: 'x'.repeat(10_000) }, { role: 'meta' }));
    const informer = createInformer(client, CONFIGMAP, { namespace, metadataOnly: true }, { name: 'cm-metadata', logger: testLogger(), clock: systemClock() });
    const seen = record(informer);
    void informer.start(stop.signal);
    await informer.waitForSync(stop.signal);
    await client.create(cm(namespace, 'meta-watched', { big: 'y' }, { role: 'meta' }));
    await waitFor('add of meta-watched', () => seen.adds.includes('meta-watched'));
    for (const name of ['meta-listed', 'meta-watched']) {
      const cached = informer.cache.getByName(namespace, name)!;
      expect(cached).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels: { role: 'meta' } } });
      expect(cached.metadata.managedFields?.length).toBeGreaterThan(0);
      expect(Object.keys(cached).sort()).toEqual(['apiVersion', 'kind', 'metadata']);
    }
  });

  it('relists after the server answers a watch with 410 Expired and reports objects deleted meanwhile as tombstones', async () => {
    // Widgets come from a CRD created during this run, so the API server's watch cache for them starts
    // at a recent resourceVersion and answers a watch from resourceVersion 1 with a real 410 Expired.
    await ensureWidgetCrd(client);
    await client.create({ ...WIDGET, metadata: { name: 'stays', namespace }, spec: { v: 1 } });
    await client.create({ ...WIDGET, metadata: { name: 'vanishes', namespace }, spec: { v: 1 } });
    const real = client.listerWatcher(WIDGET, { namespace });
    let watches = 0;
    // The first watch deletes an object behind the informer's back, then starts from a resourceVersion
    // the server no longer serves: the reflector must relist and infer the delete.
    const staleFirstWatch: ListerWatcher = {
      list: (options, signal) => real.list(options, signal),
      watch: async (options, signal) => {
        watches++;
        if (watches > 1) return real.watch(options, signal);
        await client.delete(WIDGET, 'vanishes', namespace);
        return real.watch({ ...options, resourceVersion: '1' }, signal);
      },
    };
    const informer = new Informer({ name: 'widget-relist', listerWatcher: staleFirstWatch, logger: testLogger(), clock: systemClock(), metrics });
    const seen: Seen = { adds: [], updates: [], deletes: [] };
    informer.addHandler({
      onAdd: (o) => seen.adds.push(o.metadata.name ?? ''),
      onUpdate: (a, b) => seen.updates.push({ old: a.spec, new: b.spec }),
      onDelete: (o, info) => seen.deletes.push({ name: o.metadata.name ?? '', info }),
    });
    void informer.start(stop.signal);
    await informer.waitForSync(stop.signal);
    expect(seen.adds.sort()).toEqual(['stays', 'vanishes']);
    await waitFor('tombstone of vanishes', () => seen.deletes.find((d) => d.name === 'vanishes'), { timeoutMs: 20_000 });
    expect(seen.deletes).toEqual([{ name: 'vanishes', info: { finalStateUnknown: true } }]);
    expect(informer.cache.keys()).toEqual([`${namespace}/stays`]);
    const errors = await metrics.registry.getSingleMetricAsString('reflector_errors_total');
    expect(errors).toContain('reflector_errors_total{name="widget-relist",reason="expired"} 1');
    // Still watching after the relist.
    await client.patch(WIDGET, 'stays', namespace, { spec: { v: 2 } }, 'merge');
    await waitFor('update after relist', () => seen.updates.find((u) => JSON.stringify(u.new) === '{"v":2}'));
  });
});
