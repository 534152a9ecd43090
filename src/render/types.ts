// What every renderer takes and returns. Desired objects are typed with the Kubernetes models
// (type-only imports: nothing of them runs) and carry only the fields the operator owns.
import type { ComponentName } from '../api/v1alpha1/components.ts';
import type { ObjectMeta } from '../runtime/object.ts';

/** Metadata of a rendered object: name and namespace always set. */
export type DesiredMeta = ObjectMeta & { name: string; namespace: string };

/** A typed Kubernetes object (a kubernetes-models interface) with the metadata a server-side apply needs. */
export type Desired<T extends { apiVersion: string; kind: string }> = Omit<T, 'metadata' | 'status'> & { metadata: DesiredMeta };

/** Any rendered object, as handed to the applier (a type alias, so every typed object fits it). */
export type DesiredObject = { apiVersion: string; kind: string; metadata: DesiredMeta; [field: string]: unknown };

/** Facts about the cluster the renderers depend on: passed in, never looked up. */
export interface ClusterCapabilities {
  /** monitoring.coreos.com is served: ServiceMonitors/PodMonitors/PrometheusRules can be created. */
  prometheusOperator: boolean;
  /** gateway.networking.k8s.io HTTPRoute is served. */
  gatewayApi: boolean;
  /**
   * The served HTTPRoute schema has rules[].timeouts (Gateway API v1.2+ standard channel): only then
   * may the route carry it, as an older CRD refuses the field on server-side apply (ADR 0012).
   */
  httpRouteTimeouts: boolean;
  /** grafana.integreatly.org GrafanaDashboard is served. */
  grafanaOperator: boolean;
  /**
   * The operator watches Nodes: it moves the pods of the tiers it sizes off a node being drained
   * itself (replacement first), so their PodDisruptionBudgets refuse evictions (disruption.ts).
   */
  nodeDrains: boolean;
}

export interface RenderContext {
  capabilities: ClusterCapabilities;
  /**
   * Replicas per component as the plan decided them (the autoscaler, or what already runs);
   * absent components run their spec replicas. Passed in so rendering stays pure.
   */
  replicas: Partial<Record<ComponentName, number>>;
  /** Namespace the operator's pods run in (their NetworkPolicy peer); undefined when it runs outside the cluster. */
  operatorNamespace?: string | undefined;
}
