// API writes of an autoscaler that exposes no client metrics to the benchmark (KEDA and the HPA
// controller inside kube-controller-manager): counted from watches of the objects it writes. Each
// change a watch delivers is one write that changed something: an HPA status update, a ScaledObject
// update, a change of the Deployment's replicas (a write to its scale subresource). Writes that
// changed nothing are not seen, so this is a floor of what the autoscaler sent.
import { silentLogger } from '../../observability/logger.ts';
import { systemClock } from '../../runtime/clock.ts';
import { createInformer, type Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../../runtime/object.ts';

export interface WatchedWrites {
  /** Writes seen so far (after the first list). */
  count(): number;
  stop(): void;
}

/** Counts updates of named objects, and of one field only for those given a `field` function. */
export async function watchWrites(
  client: KubeClient,
  namespace: string,
  targets: ReadonlyArray<{ ref: TypeRef; name: string; field?: (o: KubeObject) => unknown }>,
): Promise<WatchedWrites> {
  let n = 0;
  const abort = new AbortController();
  const informers: Informer<KubeObject>[] = [];
  for (const t of targets) {
    const inf = createInformer<KubeObject>(client, t.ref, { namespace, fieldSelector: `metadata.name=${t.name}` }, { logger: silentLogger(), clock: systemClock() });
    const changed = (a: KubeObject, b: KubeObject) =>
      t.field ? JSON.stringify(t.field(a)) !== JSON.stringify(t.field(b)) : a.metadata.resourceVersion !== b.metadata.resourceVersion;
    // Created later (KEDA makes its HPA after the ScaledObject): the creation is a write too.
    inf.addHandler({ onAdd: () => n++, onUpdate: (a, b) => (changed(a, b) ? n++ : undefined) });
    informers.push(inf);
  }
  for (const inf of informers) {
    void inf.start(abort.signal).catch(() => undefined);
    await inf.waitForSync(abort.signal);
  }
  return { count: () => n, stop: () => abort.abort() };
}
