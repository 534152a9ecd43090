// What `kubectl drain <node>` does, through the same API, for the simulated fleets (the
// node-drain benchmark scenario and the full-cluster test): cordon the node, then ask the eviction
// API for every pod of one namespace on it, each retried while the API server answers 429 (its
// PodDisruptionBudget allows no disruption yet), and wait until the evicted pods are gone.
// kubectl retries every 5 s; `retryMs` may be shorter so a compressed run does not wait on a timer.
import { setTimeout as sleep } from 'node:timers/promises';
import { findKubeApiError } from '../../runtime/errors.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/object.ts';

const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const NODE = { apiVersion: 'v1', kind: 'Node' } as const;

export interface EvictionRecord {
  pod: string;
  /** Evictions the API server refused (429: the pod's PodDisruptionBudget allows no disruption now). */
  refused: number;
  evictedAtMs?: number;
  goneAtMs?: number;
}

type NodePod = KubeObject & { spec?: { nodeName?: string } };

/** The pods of `namespace` on `node` now. */
export async function podsOnNode(client: KubeClient, node: string, namespace: string): Promise<NodePod[]> {
  return (await client.list<NodePod>(POD, { namespace })).items.filter((p) => p.spec?.nodeName === node);
}

/**
 * Cordons `node` and evicts every pod of `namespace` on it, in parallel as kubectl does; resolves
 * once they are all gone. Fails after `timeoutMs` (kubectl's --timeout), leaving the node cordoned.
 * `onEvicted` hears of each eviction the API server accepted (the pod starts terminating).
 */
export async function drainNode(
  client: KubeClient,
  node: string,
  namespace: string,
  opts: { timeoutMs: number; retryMs?: number; onEvicted?: (pod: string) => void; signal?: AbortSignal },
): Promise<EvictionRecord[]> {
  await client.patch(NODE, node, undefined, { spec: { unschedulable: true } }, 'merge');
  const deadline = Date.now() + opts.timeoutMs;
  const records = (await podsOnNode(client, node, namespace)).map((p): EvictionRecord & { uid: string } => ({ pod: p.metadata.name ?? '', uid: p.metadata.uid ?? '', refused: 0 }));
  const over = (what: string) => {
    if (opts.signal?.aborted) throw new Error(`drain of ${node}: aborted`);
    if (Date.now() > deadline) throw new Error(`drain of ${node}: ${what} within ${opts.timeoutMs} ms`);
  };
  await Promise.all(
    records.map(async (r) => {
      while (r.evictedAtMs === undefined) {
        over(`${r.pod} not evicted (${r.refused} evictions refused)`);
        try {
          await client.raw('POST', `/api/v1/namespaces/${namespace}/pods/${r.pod}/eviction`, {
            body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: r.pod, namespace }, deleteOptions: { preconditions: { uid: r.uid } } },
          });
          r.evictedAtMs = Date.now();
          opts.onEvicted?.(r.pod);
        } catch (err) {
          const code = findKubeApiError(err)?.code;
          if (code === 404) r.evictedAtMs = Date.now(); // gone already
          else if (code === 429) {
            r.refused++;
            await sleep(opts.retryMs ?? 5000);
          } else throw err;
        }
      }
      while (r.goneAtMs === undefined) {
        const p = await client.getIfExists<NodePod>(POD, r.pod, namespace);
        if (p === undefined || p.metadata.uid !== r.uid) r.goneAtMs = Date.now();
        else {
          over(`${r.pod} evicted but not gone`);
          await sleep(200);
        }
      }
    }),
  );
  return records.map(({ uid: _uid, ...r }) => r);
}

/** Makes a node schedulable again (kubectl uncordon). */
export async function uncordonNode(client: KubeClient, node: string): Promise<void> {
  await client.patch(NODE, node, undefined, { spec: { unschedulable: null } }, 'merge');
}
