// How users reach the fleet, as Unmute's Traefik does: /api/... to the backend with the
// /api prefix replaced by /, everything else to the frontend.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { childName, fleetLabels } from './labels.ts';
import { omitEmpty } from './pod.ts';
import type { KubeObject } from './types.ts';

type Exposure = NonNullable<UnmuteDeployment['spec']['exposure']>;

export function renderHttpRoute(cr: UnmuteDeployment, gateway: NonNullable<Exposure['gateway']>): KubeObject {
  const { metadata, spec } = cr;
  const backendRef = (component: 'backend' | 'frontend', port: number) => ({ name: childName(metadata.name, component), port });
  const rules: Record<string, unknown>[] = [
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
    spec: omitEmpty({
      parentRefs: gateway.parentRefs.map((p) => omitEmpty({ group: 'gateway.networking.k8s.io', kind: 'Gateway', ...p })),
      hostnames: gateway.hostnames,
      rules,
    }),
  };
}

export function renderIngress(cr: UnmuteDeployment, ingress: NonNullable<Exposure['ingress']>): KubeObject {
  const { metadata, spec } = cr;
  const paths: Record<string, unknown>[] = [
    {
      // Prefix rewriting is controller-specific: set it through `annotations` (see docs/operations.md).
      path: '/api',
      pathType: 'Prefix',
      backend: { service: { name: childName(metadata.name, 'backend'), port: { number: spec.backend.port } } },
    },
  ];
  if (spec.frontend) {
    paths.push({ path: '/', pathType: 'Prefix', backend: { service: { name: childName(metadata.name, 'frontend'), port: { number: spec.frontend.port } } } });
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      labels: fleetLabels(metadata.name),
      ...(ingress.annotations === undefined ? {} : { annotations: ingress.annotations }),
    },
    spec: omitEmpty({
      ingressClassName: ingress.className,
      tls: ingress.tlsSecretName === undefined ? undefined : [{ hosts: ingress.hosts, secretName: ingress.tlsSecretName }],
      rules: ingress.hosts.map((host) => ({ host, http: { paths } })),
    }),
  };
}
