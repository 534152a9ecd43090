// The kinds the UnmuteDeployment controller reads and writes. Optional kinds (CRDs of other
// projects) are used only when the API server serves them.
import { API_VERSION, KIND } from '../api/v1alpha1/unmute-deployment.ts';
import type { TypeRef } from '../runtime/object.ts';
import { DEPLOYMENT } from '../runtime/views.ts';

export const UNMUTE_DEPLOYMENT: TypeRef = { apiVersion: API_VERSION, kind: KIND };
export const SERVICE: TypeRef = { apiVersion: 'v1', kind: 'Service' };
export const CONFIG_MAP: TypeRef = { apiVersion: 'v1', kind: 'ConfigMap' };
export const SECRET: TypeRef = { apiVersion: 'v1', kind: 'Secret' };
export const POD_DISRUPTION_BUDGET: TypeRef = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' };
export const INGRESS: TypeRef = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' };
export const NETWORK_POLICY: TypeRef = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' };
export const HTTP_ROUTE: TypeRef = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' };
export const SERVICE_MONITOR: TypeRef = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' };
export const POD_MONITOR: TypeRef = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor' };
export const PROMETHEUS_RULE: TypeRef = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' };
export const GRAFANA_DASHBOARD: TypeRef = { apiVersion: 'grafana.integreatly.org/v1beta1', kind: 'GrafanaDashboard' };

/** Kinds the operator creates and owns; each gets an informer so reads come from a cache. */
export const OWNED_KINDS: readonly TypeRef[] = [DEPLOYMENT, SERVICE, CONFIG_MAP, POD_DISRUPTION_BUDGET, INGRESS, NETWORK_POLICY];
/** Owned kinds from other projects' CRDs. */
export const OPTIONAL_OWNED_KINDS: readonly TypeRef[] = [HTTP_ROUTE, SERVICE_MONITOR, POD_MONITOR, PROMETHEUS_RULE, GRAFANA_DASHBOARD];

export function refKey(ref: TypeRef): string {
  return `${ref.apiVersion}/${ref.kind}`;
}
