// How users reach the fleet, as Unmute's own Traefik does: /api/... to the backend with the /api
// prefix replaced by /, everything else to the frontend. The /api route carries one conversation
// per request (a websocket open for minutes), so it gets the defaults that keep a proxy from ending
// it: no request timeout on the HTTPRoute where the served schema has the field, long read/send
// timeouts for ingress-nginx (ADR 0012, docs/operations.md "Exposure defaults").
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IHTTPIngressPath } from 'kubernetes-models/networking.k8s.io/v1/HTTPIngressPath';
import type { ComponentName } from '../api/v1alpha1/components.ts';
import { childName, fleetLabels } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { omitUndefined } from './pod.ts';
import type { ClusterCapabilities, Desired, DesiredMeta } from './types.ts';

type Exposure = NonNullable<UnmuteDeployment['spec']['exposure']>;

/**
 * Timeouts of the HTTPRoute's /api rule: "0s" disables the request timeout (Gateway API: an
 * implementation that cannot disable it uses its longest value). A conversation is one request
 * from upgrade to hang-up; any finite bound would end long conversations mid-sentence, and Envoy
 * based gateways otherwise start from a 15 s route timeout. backendRequest is left unset: it is a
 * separate extended feature some implementations do not support, and request bounds it anyway.
 */
export const API_ROUTE_TIMEOUTS = { request: '0s' } as const;

/** Where they go: Standard channel since Gateway API v1.2 (experimental before). */
export const HTTP_ROUTE_TIMEOUTS_PATH = ['spec', 'rules', '[]', 'timeouts'] as const;

/**
 * ingress-nginx closes a proxied connection when nothing was read from (or sent to) the backend for
 * this long, 60 s by default: a pause in a conversation. Other controllers ignore these
 * annotations; the user's own annotations win.
 */
export const INGRESS_NGINX_TIMEOUT_SECONDS = 3600;
export const DEFAULT_INGRESS_ANNOTATIONS: Readonly<Record<string, string>> = {
  'nginx.ingress.kubernetes.io/proxy-read-timeout': String(INGRESS_NGINX_TIMEOUT_SECONDS),
  'nginx.ingress.kubernetes.io/proxy-send-timeout': String(INGRESS_NGINX_TIMEOUT_SECONDS),
};

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
      timeouts?: { request: string };
    }>;
  };
};

/**
 * `capabilities.httpRouteTimeouts` says whether the served HTTPRoute schema has rules[].timeouts: a
 * CRD older than Gateway API v1.2 refuses the field on server-side apply, which would fail the
 * whole route.
 */
export function renderHttpRoute(fleet: UnmuteDeployment, gateway: NonNullable<Exposure['gateway']>, capabilities: Pick<ClusterCapabilities, 'httpRouteTimeouts'>): DesiredHttpRoute {
  const { metadata, spec } = fleet;
  const backendRef = (component: ComponentName, port: number) => ({ name: childName(metadata.name, component), port });
  const rules: DesiredHttpRoute['spec']['rules'] = [
    {
      matches: [{ path: { type: 'PathPrefix', value: '/api' } }],
      filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }],
      backendRefs: [backendRef('backend', spec.backend.port)],
      ...(capabilities.httpRouteTimeouts ? { timeouts: { ...API_ROUTE_TIMEOUTS } } : {}),
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
    metadata: { name: metadata.name, namespace: metadata.namespace, labels: fleetLabels(metadata.name), annotations: { ...DEFAULT_INGRESS_ANNOTATIONS, ...ingress.annotations } },
    spec: omitUndefined({
      ingressClassName: ingress.className,
      tls: ingress.tlsSecretName === undefined ? undefined : [{ hosts: ingress.hosts, secretName: ingress.tlsSecretName }],
      rules: ingress.hosts.map((host) => ({ host, http: { paths: paths() } })),
    }),
  };
}
