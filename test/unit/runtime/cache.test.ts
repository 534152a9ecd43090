// The informer store's indexes: a list by namespace, or by namespace and one value of the indexed
// label, returns exactly what a scan would, through adds, relabels, moves and deletes.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.ts';
import { ObjectCache } from '../../../src/runtime/cache.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';

const LABEL = 'app.kubernetes.io/instance';
const pod = (namespace: string, name: string, fleet: string | undefined, rv: string, extra: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace, name, resourceVersion: rv, labels: { ...(fleet === undefined ? {} : { [LABEL]: fleet }), ...extra } },
});
const names = (objs: KubeObject[]) => objs.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();

describe('object cache indexes', () => {
  it('answers namespace and fleet lists as a scan would, as objects come, change and go', () => {
    const indexed = new ObjectCache<KubeObject>({ logger: silentLogger(), indexLabel: LABEL });
    const scanned = new ObjectCache<KubeObject>({ logger: silentLogger() });
    const both = (f: (c: ObjectCache<KubeObject>) => void) => [indexed, scanned].forEach(f);
    both((c) => c.replace([pod('a', 'p1', 'x', '1'), pod('a', 'p2', 'y', '1'), pod('b', 'p1', 'x', '1', { tier: 'stt' }), pod('a', 'p3', undefined, '1')], '1'));
    both((c) => c.apply({ type: 'MODIFIED', object: pod('a', 'p2', 'x', '2') })); // relabelled into fleet x
    both((c) => c.apply({ type: 'ADDED', object: pod('b', 'p4', 'x', '3', { tier: 'tts' }) }));
    both((c) => c.apply({ type: 'DELETED', object: pod('a', 'p1', 'x', '4') }));
    both((c) => c.replace([pod('a', 'p2', 'x', '2'), pod('b', 'p1', 'x', '1', { tier: 'stt' }), pod('b', 'p4', 'x', '3', { tier: 'tts' })], '5')); // relist drops a/p3
    const queries = [
      { namespace: 'a', labelSelector: `${LABEL}=x` },
      { namespace: 'a', labelSelector: `${LABEL}=y` },
      { namespace: 'b', labelSelector: `${LABEL}=x,tier=stt` },
      { namespace: 'b', labelSelector: `${LABEL} in (x)` },
      { namespace: 'b' },
      { labelSelector: `${LABEL}=x` },
      {},
    ];
    for (const q of queries) expect(names(indexed.list(q)), JSON.stringify(q)).toEqual(names(scanned.list(q)));
    expect(names(indexed.list({ namespace: 'a', labelSelector: `${LABEL}=x` }))).toEqual(['a/p2']);
    expect(names(indexed.list({ namespace: 'b', labelSelector: `${LABEL}=x,tier=stt` }))).toEqual(['b/p1']);
    expect(indexed.list({ namespace: 'a', labelSelector: `${LABEL}=y` })).toEqual([]);
  });
});
