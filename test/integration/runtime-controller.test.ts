// The whole runtime on a real API server: informers feed a controller whose reconcile renders a
// derived ConfigMap and applies it only when it changed. Asserts end state, not call sequences,
// plus the one count that matters: an unchanged world costs zero writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyIfChanged } from '../../src/runtime/apply.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { Controller } from '../../src/runtime/controller.ts';
import { createInformer, type Informer } from '../../src/runtime/informer.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import { controllerReference, type KubeObject } from '../../src/runtime/object.ts';
import { forObject, ownedBy } from '../../src/runtime/watch-mappers.ts';
import { createNamespace, waitFor } from '../support/cluster.ts';
import { aKubeClient, testLogger } from './runtime-support.ts';

const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap' } as const;
const FIELD_MANAGER = 'runtime-test-controller';

describe('a controller built from the runtime', () => {
  let client: KubeClient;
  let namespace = '';
  let sources: Informer;
  let derived: Informer;
  let reconciles = 0;
  const stop = new AbortController();
  let running: Promise<void>;
  let controller: Controller;

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('rt-controller');
    const deps = { logger: testLogger(), clock: systemClock() };
    sources = createInformer(client, CONFIGMAP, { namespace, labelSelector: 'runtime-test/role=source' }, { ...deps, name: 'sources' });
    derived = createInformer(client, CONFIGMAP, { namespace, labelSelector: 'runtime-test/role=derived' }, { ...deps, name: 'derived' });
    controller = new Controller({
      ...deps,
      name: 'derive',
      workers: 2,
      reconcile: async (key, ctx) => {
        reconciles++;
        const source = sources.cache.get(key);
        if (source === undefined) return; // deleted: owner references let the garbage collector clean up
        const desired: KubeObject = {
          ...CONFIGMAP,
          metadata: {
            name: `${ctx.name}-derived`,
            namespace: ctx.namespace,
            labels: { 'runtime-test/role': 'derived' },
            ownerReferences: [controllerReference(source)],
          },
          data: { copied: JSON.stringify(source.data ?? {}) },
        };
        const observed = derived.cache.getByName(ctx.namespace, `${ctx.name}-derived`);
        await applyIfChanged(client, desired, observed, { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal });
      },
    });
    controller.watch(sources, forObject());
    controller.watch(derived, ownedBy(CONFIGMAP));
    void sources.start(stop.signal);
    void derived.start(stop.signal);
    running = controller.run(stop.signal);
  });

  afterAll(async () => {
    stop.abort();
    await running;
    await client.close();
  });

  const derivedData = async (name: string) => (await client.getIfExists(CONFIGMAP, `${name}-derived`, namespace))?.data as Record<string, string> | undefined;

  it('creates the derived object and follows changes of the source', async () => {
    await client.create({ ...CONFIGMAP, metadata: { name: 'alpha', namespace, labels: { 'runtime-test/role': 'source' } }, data: { v: '1' } });
    await waitFor('derived alpha', async () => (await derivedData('alpha'))?.copied === '{"v":"1"}');
    await client.patch(CONFIGMAP, 'alpha', namespace, { data: { v: '2' } }, 'merge');
    await waitFor('derived alpha to follow', async () => (await derivedData('alpha'))?.copied === '{"v":"2"}');
  });

  it('puts back a hand-edited derived object', async () => {
    await waitFor('derived alpha', async () => (await derivedData('alpha')) !== undefined);
    await client.patch(CONFIGMAP, 'alpha-derived', namespace, { data: { copied: 'tampered' } }, 'merge', { fieldManager: 'kubectl-edit' });
    await waitFor('derived alpha restored', async () => (await derivedData('alpha'))?.copied === '{"v":"2"}');
  });

  it('issues zero writes when reconciling an unchanged world', async () => {
    const cachedCopy = () => (derived.cache.getByName(namespace, 'alpha-derived')?.data as Record<string, string> | undefined)?.copied;
    await waitFor('caches to catch up', () => cachedCopy() === '{"v":"2"}');
    const before = client.requests.snapshot();
    const startCount = reconciles;
    for (const key of sources.cache.keys()) controller.enqueue(key);
    await waitFor('the reconcile to run', () => reconciles > startCount);
    await new Promise((r) => setTimeout(r, 500));
    expect(client.requests.writesSince(before), JSON.stringify(client.requests.diff(before))).toBe(0);
  });
});
