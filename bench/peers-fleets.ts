// The two KEDA sides of `bench:fleet --peers`, as a user would set them up: a plain Deployment +
// Service of backends, a PodMonitor so the cluster's Prometheus scrapes them, and a KEDA
// ScaledObject whose Prometheus scaler sums the fleet's worker_active_sessions against the same
// target sessions per pod as the operator. `prestop` adds the best practice around it: a preStop
// hook that waits until the pod reports no session, a termination grace period as long as the
// operator's drain timeout, and a PodDisruptionBudget. Pure builders: objects in, nothing applied.
import type { KubeObject } from '../src/runtime/object.ts';
import { baselineFleet, SIM_BACKEND_PORT, type FleetShape } from '../src/sim/fleet/fleets.ts';
import { podMonitor } from '../scripts/cluster/peers.ts';

/** The four sides, in report order; the JSON line's keys. */
export const PEER_SIDES = ['keda', 'keda_prestop', 'operator_prom', 'operator_pods'] as const;
export type PeerSide = (typeof PEER_SIDES)[number];

/** KEDA's and the HPA's defaults (seconds), before the benchmark's compression. */
export const KEDA_DEFAULTS_S = { pollingInterval: 30, cooldownPeriod: 300 } as const;

export interface KedaFleetOptions {
  name: string;
  namespace: string;
  shape: FleetShape;
  /** The Prometheus API as KEDA's operator reaches it. */
  prometheusUrl: string;
  /** Labels the Prometheus resource selects monitors by. */
  monitorLabels: Record<string, string>;
  /** Scrape interval of the PodMonitor (Prometheus duration). */
  scrapeInterval: string;
  timeScale: number;
  /** The best practice: preStop wait, long grace period, PDB. */
  prestop?: { terminationGracePeriodSeconds: number };
}

/** What a KEDA user queries: the fleet's live sessions, summed over its backend pods (terminating ones too). */
export function kedaSessionsQuery(namespace: string, fleet: string): string {
  return `sum(worker_active_sessions{namespace="${namespace}",unmute_sh_fleet="${fleet}",unmute_sh_component="backend"})`;
}

/**
 * The preStop hook a careful team writes for Unmute: poll the pod's own /metrics until
 * worker_active_sessions reads 0 (an unreachable endpoint ends the wait). The fleet's pod runner
 * plays it as the kubelet would (it waits for the worker's sessions to reach 0).
 */
export function sessionsWaitHook(port: number): { exec: { command: string[] } } {
  const script = `while curl -fsS --max-time 3 http://127.0.0.1:${port}/metrics | awk '$1 == "worker_active_sessions" && $2 > 0 { busy = 1 } END { exit !busy }'; do sleep 2; done`;
  return { exec: { command: ['sh', '-c', script] } };
}

/** Every object of one KEDA side, in apply order. */
export function kedaFleet(o: KedaFleetOptions): { objects: KubeObject[]; targets: { podSelector: string; service: string; deployment: string }; scaledObject: string; hpa: string } {
  const base = baselineFleet(o.name, o.namespace, o.shape);
  const labels = { app: o.name };
  const deployment = structuredClone(base.deployment) as KubeObject & { spec: { template: { spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } } } };
  if (o.prestop) {
    const pod = deployment.spec.template.spec;
    pod['terminationGracePeriodSeconds'] = o.prestop.terminationGracePeriodSeconds;
    pod.containers[0]!['lifecycle'] = { preStop: sessionsWaitHook(SIM_BACKEND_PORT) };
  }
  const compress = (s: number) => Math.max(1, Math.round(s / o.timeScale));
  const scaledObject = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name },
      minReplicaCount: o.shape.minReplicas,
      maxReplicaCount: o.shape.maxReplicas,
      // KEDA's defaults, compressed; no `advanced` block: the HPA keeps its own behaviour (the
      // controller-manager's flags, compressed by the cluster).
      pollingInterval: compress(KEDA_DEFAULTS_S.pollingInterval),
      cooldownPeriod: compress(KEDA_DEFAULTS_S.cooldownPeriod),
      triggers: [
        {
          type: 'prometheus',
          metadata: { serverAddress: o.prometheusUrl, query: kedaSessionsQuery(o.namespace, o.name), threshold: String(o.shape.targetSessionsPerPod) },
        },
      ],
    },
  } as KubeObject;
  const monitor = podMonitor({
    namespace: o.namespace,
    name: o.name,
    matchLabels: labels,
    labels: o.monitorLabels,
    port: 'http',
    interval: o.scrapeInterval,
    // The labels the operator's own monitors give a fleet's backends: one query shape for every side.
    targetLabels: { unmute_sh_fleet: o.name, unmute_sh_component: 'backend' },
  });
  const pdb = o.prestop
    ? [{ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: o.name, namespace: o.namespace }, spec: { maxUnavailable: 1, selector: { matchLabels: labels } } } as KubeObject]
    : [];
  return {
    objects: [deployment, base.service as KubeObject, monitor, ...pdb, scaledObject],
    targets: base.targets,
    scaledObject: o.name,
    // KEDA names the HPA it owns keda-hpa-<ScaledObject>.
    hpa: `keda-hpa-${o.name}`,
  };
}
