// What every renderer takes and returns.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { OwnerReference } from '../runtime/object.ts';

export type { OwnerReference };

/** A Kubernetes object as sent in a server-side apply body: only the fields the operator owns. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Facts about the cluster the renderer may depend on: passed in, never looked up. */
export interface RenderContext {
  /** monitoring.coreos.com kinds are served; without them ServiceMonitors/PrometheusRules are skipped. */
  prometheusOperatorAvailable: boolean;
  /** gateway.networking.k8s.io HTTPRoute is served. */
  gatewayApiAvailable: boolean;
  /** grafana.integreatly.org GrafanaDashboard is served. */
  grafanaOperatorAvailable: boolean;
  /**
   * Backend replicas to put in the Deployment. The autoscaler decides this when enabled;
   * otherwise spec.backend.replicas. Passed in so rendering stays pure.
   */
  backendReplicas: number;
  /** Replicas for GPU tiers driven by the autoscaler (absent: the spec's replicas). */
  followerReplicas?: Partial<Record<'stt' | 'tts' | 'llm', number>>;
}

export type RenderInput = { cr: UnmuteDeployment; ctx: RenderContext };
