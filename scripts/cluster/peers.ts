// What a user runs next to (or instead of) the operator, started in one call on a full-mode
// cluster: the real prometheus-operator with one `Prometheus` (upstream Prometheus running its
// generated configuration), KEDA behind the aggregation layer, and Traefik as the Gateway API
// implementation in front of the fleet. For `bench:fleet --peers`, the demo and `npm run
// cluster:addons`. The pieces are in keda.ts, prometheus-pipeline.ts (ADR 0009) and traefik.ts.
import type { KubeObject } from '../../src/runtime/object.ts';
import { adminClient, clusterRef, ensureNamespace, type ClusterRef } from './addons.ts';
import type { Cluster } from './harness.ts';
import { startKeda, type Keda } from './keda.ts';
import { startTraefik, type Traefik, type TraefikOptions } from './traefik.ts';
import {
  applyPrometheus,
  startGeneratedPrometheus,
  startPrometheusOperator,
  type GeneratedPrometheus,
  type PrometheusOperator,
  type PrometheusResourceOptions,
} from './prometheus-pipeline.ts';

export interface PeersOptions {
  /** A `Prometheus` to create and run (its namespace is created if missing). */
  prometheus?: Omit<PrometheusResourceOptions, 'serviceAccountName'> & { serviceAccountName?: string };
  keda?: boolean;
  /** Traefik serving a Gateway (traefik/gateway unless the options name another). */
  traefik?: boolean | Omit<TraefikOptions, 'log'>;
  log?: (m: string) => void;
}

export interface Peers {
  prometheusOperator?: PrometheusOperator;
  prometheus?: GeneratedPrometheus;
  keda?: Keda;
  traefik?: Traefik;
  /** Stops everything started, in reverse order. */
  stop(): Promise<void>;
}

export async function startPeers(cluster: Cluster | ClusterRef, o: PeersOptions): Promise<Peers> {
  const ref = 'caCert' in cluster ? cluster : clusterRef(cluster);
  const started: Array<{ stop(): Promise<void> }> = [];
  const peers: Peers = {
    stop: async () => {
      const errors: string[] = [];
      for (const s of started.reverse()) await s.stop().catch((e: Error) => errors.push(e.message));
      if (errors.length > 0) throw new Error(`stopping peers: ${errors.join('; ')}`);
    },
  };
  try {
    if (o.prometheus) {
      const p = o.prometheus;
      // Both start in parallel: KEDA does not need Prometheus until a ScaledObject asks.
      const [op, keda] = await Promise.all([startPrometheusOperator(ref, o.log ? { log: o.log } : {}), o.keda ? startKeda(ref, o.log ? { log: o.log } : {}) : undefined]);
      started.push(op);
      peers.prometheusOperator = op;
      if (keda) {
        started.push(keda);
        peers.keda = keda;
      }
      const client = await adminClient(ref);
      try {
        await ensureNamespace(client, p.namespace);
        await applyPrometheus(client, { ...p, serviceAccountName: p.serviceAccountName ?? 'prometheus' });
      } finally {
        await client.close();
      }
      peers.prometheus = await startGeneratedPrometheus(ref, { namespace: p.namespace, name: p.name, ...(o.log ? { log: o.log } : {}) });
      started.push(peers.prometheus);
    } else if (o.keda) {
      peers.keda = await startKeda(ref, o.log ? { log: o.log } : {});
      started.push(peers.keda);
    }
    if (o.traefik) {
      peers.traefik = await startTraefik(ref, { ...(o.traefik === true ? {} : o.traefik), ...(o.log ? { log: o.log } : {}) });
      started.push(peers.traefik);
    }
    return peers;
  } catch (e) {
    await peers.stop().catch(() => undefined);
    throw e;
  }
}

/**
 * A PodMonitor for pods that have no monitor of their own (e.g. a benchmark's plain-HPA baseline
 * Deployment), with the same target labels as the operator's monitors: job, unmute_sh_fleet and
 * unmute_sh_component come from the given values, namespace and pod from discovery.
 */
export function podMonitor(o: {
  namespace: string;
  name: string;
  /** Pod labels to select. */
  matchLabels: Record<string, string>;
  /** Labels on the PodMonitor (what the Prometheus selects). */
  labels: Record<string, string>;
  /** Container port name. */
  port: string;
  path?: string;
  interval?: string;
  targetLabels?: Record<string, string>;
}): KubeObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: {
      selector: { matchLabels: o.matchLabels },
      podMetricsEndpoints: [
        {
          port: o.port,
          path: o.path ?? '/metrics',
          interval: o.interval ?? '5s',
          relabelings: [
            { action: 'replace', targetLabel: 'job', replacement: o.name },
            ...Object.entries(o.targetLabels ?? {}).map(([k, v]) => ({ action: 'replace', targetLabel: k, replacement: v })),
          ],
        },
      ],
    },
  } as KubeObject;
}
