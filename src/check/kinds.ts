// The kinds `check` reads, built-in and from other projects' CRDs.
import { API_VERSION, KIND } from './fleet-facts.ts';

export const KINDS = {
  unmuteDeployment: { apiVersion: API_VERSION, kind: KIND },
  crd: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' },
  namespace: { apiVersion: 'v1', kind: 'Namespace' },
  node: { apiVersion: 'v1', kind: 'Node' },
  pod: { apiVersion: 'v1', kind: 'Pod' },
  secret: { apiVersion: 'v1', kind: 'Secret' },
  pvc: { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  deployment: { apiVersion: 'apps/v1', kind: 'Deployment' },
  statefulSet: { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  lease: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
  endpointSlice: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
  ingressClass: { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass' },
  httpRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  gateway: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' },
  gatewayClass: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass' },
  serviceMonitor: { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' },
  podMonitor: { apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor' },
  prometheusRule: { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' },
  prometheus: { apiVersion: 'monitoring.coreos.com/v1', kind: 'Prometheus' },
  grafanaDashboard: { apiVersion: 'grafana.integreatly.org/v1beta1', kind: 'GrafanaDashboard' },
  subjectAccessReview: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview' },
  selfSubjectAccessReview: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview' },
} as const;

export type KindName = keyof typeof KINDS;
export const servedKey = (ref: { apiVersion: string; kind: string }): string => `${ref.apiVersion}/${ref.kind}`;
