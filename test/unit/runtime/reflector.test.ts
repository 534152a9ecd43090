import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.ts';
import { createMetricsRegistry, createRuntimeMetrics } from '../../../src/observability/metrics.ts';
import { ObjectCache, type DeleteInfo } from '../../../src/runtime/cache.ts';
import { KubeApiError } from '../../../src/runtime/errors.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { Reflector } from '../../../src/runtime/reflector.ts';
import { FakeClock, settle } from './support/fake-clock.ts';
import { FakeListerWatcher, aPod } from './support/fake-lister-watcher.ts';

const expired = () => new KubeApiError({ code: 410, reason: 'Expired', message: 'too old resource version' });
const serverError = () => new KubeApiError({ code: 500, reason: 'InternalError', message: 'etcd unavailable' });

interface Recorded {
  adds: string[];
  updates: Array<[string, string]>;
  deletes: Array<[string, DeleteInfo]>;
}

const stops: AbortController[] = [];
afterEach(() => {
  for (const c of stops.splice(0)) c.abort();
});

function aReflector(lw: FakeListerWatcher, random = () => 0) {
  const clock = new FakeClock();
  const metrics = createRuntimeMetrics(createMetricsRegistry());
  const cache = new ObjectCache<KubeObject>({ logger: silentLogger() });
  const seen: Recorded = { adds: [], updates: [], deletes: [] };
  cache.addHandler({
    onAdd: (o) => seen.adds.push(`${o.metadata.name}@${o.metadata.resourceVersion}`),
    onUpdate: (a, b) => seen.updates.push([`${a.metadata.name}@${a.metadata.resourceVersion}`, `${b.metadata.name}@${b.metadata.resourceVersion}`]),
    onDelete: (o, info) => seen.deletes.push([`${o.metadata.name}`, info]),
  });
  const reflector = new Reflector({ name: 'pods', listerWatcher: lw, store: cache, logger: silentLogger(), clock, random, metrics });
  const stop = new AbortController();
  stops.push(stop);
  const done = reflector.run(stop.signal);
  return { reflector, cache, seen, clock, metrics, stop, done };
}

async function errorCount(metrics: ReturnType<typeof createRuntimeMetrics>, reason: string): Promise<number> {
  const text = await metrics.registry.getSingleMetricAsString('reflector_errors_total');
  const line = text.split('\n').find((l) => l.includes(`reason="${reason}"`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('reflector', () => {
  it('lists page by page (limit 500 + continue), fills the cache, then reports synced', async () => {
    const lw = new FakeListerWatcher();
    lw.listResponders.push(
      () => ({ items: [aPod('a', '1')], resourceVersion: '10', continue: 'page2' }),
      () => ({ items: [aPod('b', '2')], resourceVersion: '10', continue: undefined }),
    );
    const { reflector, cache, seen } = aReflector(lw);
    expect(reflector.hasSynced()).toBe(false);
    await settle();
    expect(lw.listCalls).toEqual([{ limit: 500, continue: undefined }, { limit: 500, continue: 'page2' }]);
    expect(cache.keys().sort()).toEqual(['ns/a', 'ns/b']);
    expect(seen.adds).toEqual(['a@1', 'b@2']);
    expect(reflector.hasSynced()).toBe(true);
    expect(cache.hasSynced()).toBe(true);
  });

  it('watches from the list resourceVersion with bookmarks and a timeout in [300, 600) seconds', async () => {
    const lw = new FakeListerWatcher([], '42');
    aReflector(lw, () => 0.999);
    await settle();
    expect(lw.currentWatch?.options).toEqual({ resourceVersion: '42', timeoutSeconds: 599, allowWatchBookmarks: true });
  });

  it('hands (old, new) to update handlers and removes deleted objects', async () => {
    const lw = new FakeListerWatcher([aPod('a', '1')], '5');
    const { cache, seen } = aReflector(lw);
    await settle();
    lw.currentWatch?.send('MODIFIED', aPod('a', '6'));
    lw.currentWatch?.send('ADDED', aPod('b', '7'));
    lw.currentWatch?.send('DELETED', aPod('a', '8'));
    await settle();
    expect(seen.updates).toEqual([['a@1', 'a@6']]);
    expect(seen.adds).toEqual(['a@1', 'b@7']);
    expect(seen.deletes).toEqual([['a', { finalStateUnknown: false }]]);
    expect(cache.keys()).toEqual(['ns/b']);
  });

  it('moves its resourceVersion forward on bookmarks without touching the cache', async () => {
    const lw = new FakeListerWatcher([aPod('a', '1')], '5');
    const { reflector, seen } = aReflector(lw);
    await settle();
    lw.currentWatch?.send('BOOKMARK', { apiVersion: 'v1', kind: 'Pod', metadata: { resourceVersion: '99' } });
    await settle();
    expect(reflector.lastSyncResourceVersion()).toBe('99');
    expect(seen.updates).toEqual([]);
  });

  it('rewatches from the newest resourceVersion right away when the server ends a watch normally', async () => {
    const lw = new FakeListerWatcher([], '5');
    const { clock } = aReflector(lw);
    await settle();
    lw.currentWatch?.send('ADDED', aPod('a', '6'));
    await clock.advance(300_000);
    lw.currentWatch?.end();
    await settle();
    expect(lw.watches).toHaveLength(2);
    expect(lw.currentWatch?.options.resourceVersion).toBe('6');
    expect(lw.listCalls).toHaveLength(1);
  });

  it('relists after 410 Expired and emits tombstones for objects deleted while it was not watching', async () => {
    const lw = new FakeListerWatcher([aPod('a', '1'), aPod('b', '2')], '5');
    const { seen, cache, metrics } = aReflector(lw);
    await settle();
    lw.defaultList = () => ({ items: [aPod('a', '9'), aPod('c', '10')], resourceVersion: '20', continue: undefined });
    lw.currentWatch?.fail(expired());
    await settle();
    expect(lw.listCalls).toHaveLength(2);
    expect(cache.keys().sort()).toEqual(['ns/a', 'ns/c']);
    expect(seen.updates).toEqual([['a@1', 'a@9']]);
    expect(seen.deletes).toEqual([['b', { finalStateUnknown: true }]]);
    expect(seen.adds).toContain('c@10');
    expect(lw.currentWatch?.options.resourceVersion).toBe('20');
    expect(await errorCount(metrics, 'expired')).toBe(1);
  });

  it('relists when the watch request itself is refused with 410', async () => {
    const lw = new FakeListerWatcher([], '5');
    lw.watchResponders.push(() => expired());
    aReflector(lw);
    await settle();
    expect(lw.listCalls).toHaveLength(2);
    expect(lw.watches).toHaveLength(1);
  });

  it('does not emit updates for objects a relist finds unchanged', async () => {
    const lw = new FakeListerWatcher([aPod('a', '1')], '5');
    const { seen } = aReflector(lw);
    await settle();
    lw.currentWatch?.fail(expired());
    await settle();
    expect(seen.updates).toEqual([]);
    expect(seen.adds).toEqual(['a@1']);
  });

  it('backs off 800 ms, then 1.6 s, 3.2 s ... after other watch errors, and rewatches without relisting', async () => {
    const lw = new FakeListerWatcher([], '5');
    const { clock, metrics } = aReflector(lw);
    await settle();
    lw.currentWatch?.fail(serverError());
    await clock.advance(799);
    expect(lw.watches).toHaveLength(1);
    await clock.advance(1);
    expect(lw.watches).toHaveLength(2);
    lw.currentWatch?.fail(serverError());
    await clock.advance(1599);
    expect(lw.watches).toHaveLength(2);
    await clock.advance(1);
    expect(lw.watches).toHaveLength(3);
    expect(lw.listCalls).toHaveLength(1);
    expect(await errorCount(metrics, 'watch')).toBe(2);
  });

  it('caps the backoff at 30 s, jitter included, and never gives up on a failing list', async () => {
    const lw = new FakeListerWatcher();
    lw.defaultList = () => serverError();
    const { clock, reflector, metrics } = aReflector(lw, () => 0.99);
    await settle();
    await clock.advance(10 * 60_000);
    const calls = lw.listCalls.length;
    expect(calls).toBeGreaterThan(15);
    await clock.advance(30_000);
    expect(lw.listCalls.length).toBe(calls + 1);
    expect(reflector.hasSynced()).toBe(false);
    expect(await errorCount(metrics, 'list')).toBe(lw.listCalls.length);
  });

  it('starts again from 800 ms after two healthy minutes', async () => {
    const lw = new FakeListerWatcher([], '5');
    const { clock } = aReflector(lw);
    await settle();
    for (let i = 0; i < 4; i++) {
      lw.currentWatch?.fail(serverError());
      await clock.advance(60_000);
    }
    const before = lw.watches.length;
    await clock.advance(121_000);
    lw.currentWatch?.fail(serverError());
    await clock.advance(800);
    expect(lw.watches.length).toBe(before + 1);
  });

  it('aborts a watch that stays silent past timeoutSeconds plus the margin and starts a new one', async () => {
    const lw = new FakeListerWatcher([], '5');
    const { clock, metrics } = aReflector(lw);
    await settle();
    const first = lw.currentWatch;
    await clock.advance(300_000 + 29_000);
    expect(first?.aborted).toBe(false);
    await clock.advance(1_000);
    expect(first?.aborted).toBe(true);
    await clock.advance(800);
    expect(lw.watches).toHaveLength(2);
    expect(await errorCount(metrics, 'watchdog')).toBe(1);
  });

  it('treats a watch the server closes at once without events as a failure, not a reason to reconnect in a loop', async () => {
    const lw = new FakeListerWatcher([], '5');
    const { clock, metrics } = aReflector(lw);
    await settle();
    lw.currentWatch?.end();
    await settle();
    expect(lw.watches).toHaveLength(1);
    expect(await errorCount(metrics, 'closed_early')).toBe(1);
    await clock.advance(800);
    expect(lw.watches).toHaveLength(2);
  });

  it('stops listing and watching once its signal aborts', async () => {
    const lw = new FakeListerWatcher([], '5');
    const { stop, done } = aReflector(lw);
    await settle();
    stop.abort();
    await done;
    expect(lw.currentWatch?.aborted).toBe(true);
  });
});
