// Why the operator detects HTTPRoute rules[].timeouts instead of always sending it (ADR 0012), on
// a real kube-apiserver: server-side apply refuses a field a CRD's schema does not declare (with
// the server's default field validation too, so an older Gateway API CRD would fail the whole
// route), and the OpenAPI v3 document answers whether the field is there, for the run's Gateway
// API v1.4.1 HTTPRoute and for a stand-in of an older one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForCrdsEstablished } from '../../scripts/cluster/crds.ts';
import { HTTP_ROUTE } from '../../src/controller/kinds.ts';
import { API_ROUTE_TIMEOUTS, HTTP_ROUTE_TIMEOUTS_PATH, renderHttpRoute } from '../../src/render/exposure.ts';
import { KubeApiError } from '../../src/runtime/errors.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { servedSchemaHasField } from '../../src/runtime/openapi.ts';
import { createNamespace, kubeClient, waitFor } from '../support/cluster.ts';
import { anUnmuteDeployment } from '../support/factories.ts';

const CRD = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' } as const;
// An HTTPRoute-shaped kind whose rules have no timeouts, as in Gateway API v1.0/v1.1 standard.
const GROUP = 'routes-before-v12.unmute.test';
const OLD_ROUTE = { apiVersion: `${GROUP}/v1`, kind: 'HTTPRoute' } as const;

function oldRouteCrd(): KubeObject {
  const obj = (properties: Record<string, unknown>) => ({ type: 'object', properties });
  const rule = obj({ matches: { type: 'array', items: obj({ path: obj({ type: { type: 'string' }, value: { type: 'string' } }) }) }, filters: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }, backendRefs: { type: 'array', items: obj({ name: { type: 'string' }, port: { type: 'integer' } }) } });
  return {
    ...CRD,
    metadata: { name: `httproutes.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: 'HTTPRoute', plural: 'httproutes', singular: 'httproute', listKind: 'HTTPRouteList' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: obj({ spec: obj({ parentRefs: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }, hostnames: { type: 'array', items: { type: 'string' } }, rules: { type: 'array', items: rule } }) }) } }],
    },
  } as KubeObject;
}

describe('HTTPRoute timeouts on a real API server', () => {
  let namespace = '';

  beforeAll(async () => {
    const client = await kubeClient();
    namespace = await createNamespace('route-timeouts');
    await client.apply(oldRouteCrd(), { fieldManager: 'unmute-test' });
    await waitForCrdsEstablished(client, [`httproutes.${GROUP}`], 30_000);
    client.invalidateDiscovery(OLD_ROUTE.apiVersion);
  });

  afterAll(async () => {
    await (await kubeClient()).delete(CRD, `httproutes.${GROUP}`).catch(() => undefined);
  });

  const route = () => {
    const fleet = anUnmuteDeployment({ exposure: { gateway: { parentRefs: [{ name: 'public' }] } } });
    return { ...renderHttpRoute(fleet, fleet.spec.exposure!.gateway!, { httpRouteTimeouts: true }), metadata: { name: 'demo', namespace } };
  };

  it('finds the field in the served Gateway API HTTPRoute, and the route with it is applied', async () => {
    const client = await kubeClient();
    expect(await servedSchemaHasField(client, HTTP_ROUTE, HTTP_ROUTE_TIMEOUTS_PATH)).toBe(true);
    const applied = await client.apply<KubeObject & { spec: { rules: Array<{ timeouts?: unknown }> } }>(route(), { fieldManager: 'unmute-test' });
    expect(applied.spec.rules[0]!.timeouts).toEqual(API_ROUTE_TIMEOUTS);
  });

  it('finds no such field in an older schema, where server-side apply refuses the route that carries it', async () => {
    const client = await kubeClient();
    // A new CRD's schema reaches the OpenAPI document shortly after it is Established: wait for
    // a field it has, so that the missing one is missing from a published schema.
    await waitFor('the stand-in schema published', async () => servedSchemaHasField(client, OLD_ROUTE, ['spec', 'rules', '[]', 'backendRefs']), { timeoutMs: 30_000 });
    expect(await servedSchemaHasField(client, OLD_ROUTE, HTTP_ROUTE_TIMEOUTS_PATH)).toBe(false);
    const withTimeouts = { ...route(), apiVersion: OLD_ROUTE.apiVersion };
    // No fieldValidation parameter: the server's default, as the operator applies.
    const err = await client.apply(withTimeouts, { fieldManager: 'unmute-test' }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).message).toContain('.spec.rules[0].timeouts: field not declared in schema');
    const { timeouts: _dropped, ...rule } = withTimeouts.spec.rules[0]!;
    await client.apply({ ...withTimeouts, spec: { ...withTimeouts.spec, rules: [rule] } }, { fieldManager: 'unmute-test' });
  });
});
