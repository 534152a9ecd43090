// How users reach the fleet, as Unmute's own Traefik does: /api/... to the backend with the /api
// prefix replaced by /, everything else to the frontend.
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IHTTPIngressPath } from 'kubernetes-models/networking.k8s.io/v1/HTTPIngressPath';
import type { ComponentName } from '../api/v1alpha1/components.ts';
import { childName, fleetLabels } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { omitUndefined } from './pod.ts';
import type { Desired, DesiredMeta } from './types.ts';

type Exposure = NonNullable<UnmuteDeployment['spec']['exposure']>;

/** The fields of a Gateway API HTTPRoute the operator sets (no model package for Gateway API here). */
export type DesiredHttpRoute = {
  apiVersion: 'gateway.networking.k8s.io/v1';
  kind: 'HTTPRoute';
  metadata: DesiredMeta;
  spec: {
    parentRefs: Array<{ group: string; kind: string; name: string; namespace?: string; sectionName?: string }>;
    hostnames?: string[];
    rules: Array<{
      matches: Array<{ path: { type: 'PathPrefix'; value: string } }>;
      filters?: Array<{ type: 'URLRewrite'; urlRewrite: { path: { type: 'ReplacePrefixMatch'; replacePrefixMatch: string } } }>;
      backendRefs: Array<{ name: string; port: number }>;
    }>;
  };
};

export function renderHttpRoute(fleet: UnmuteDeployment, gateway: NonNullable<Exposure['gateway']>): DesiredHttpRoute {
  const { metadata, spec } = fleet;
  const backendRef = (component: ComponentName, port: number) => ({ name: childName(metadata.name, component), port });
  const rules: DesiredHttpRoute['spec']['rules'] = [
    {
      matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
      filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
      backendRefs: [backendRef('backend', spec.backend.port)],
    },
  ];
  if (spec.frontend) rules.push({ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [backendRef('frontend', spec.frontend.port)] });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: metadata.name, namespace: metadata.namespace, labels: fleetLabels(metadata.name) },
    spec: omitUndefined({
      parentRefs: gateway.parentRefs.map((p) => omitUndefined({ group: 'gateway.networking.k8s.io', kind: 'Gateway', ...p })),
      hostnames: gateway.hostnames,
      rules,
    }),
  };
}

export function renderIngress(fleet: UnmuteDeployment, ingress: NonNullable<Exposure['ingress']>): Desired<IIngress> {
  const { metadata, spec } = fleet;
  const route = (path: string, component: ComponentName, port: number): IHTTPIngressPath => ({
    path,
    pathType: 'Prefix',
    backend: { service: { name: childName(metadata.name, component), port: { number: port } } },
  });
  // Prefix rewriting is controller-specific: set it through `annotations` (see docs/operations.md).
  const paths = () => [route('/api', 'backend', spec.backend.port), ...(spec.frontend ? [route('/', 'frontend', spec.frontend.port)] : [])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: omitUndefined({ name: metadata.name, namespace: metadata.namespace, labels: fleetLabels(metadata.name), annotations: ingress.annotations }),
    spec: omitUndefined({
      ingressClassName: ingress.className,
      tls: ingress.tlsSecretName === undefined ? undefined : [{ hosts: ingress.hosts, secretName: ingress.tlsSecretName }],
      rules: ingress.hosts.map((host) => ({ host, http: { paths: paths() } })),
    }),
  };
}
