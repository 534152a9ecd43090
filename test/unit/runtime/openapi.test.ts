// Reading a field's presence from a served OpenAPI v3 document: the HTTPRoute timeouts capability.
import { describe, expect, it } from 'vitest';
import { KubeApiError } from '../../../src/runtime/errors.ts';
import { openApiPath, schemaHasField, servedSchemaHasField } from '../../../src/runtime/openapi.ts';

const HTTP_ROUTE = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' } as const;
const TIMEOUTS = ['spec', 'rules', '[]', 'timeouts'];

/** The shape kube-apiserver publishes for a CRD version (trimmed): inline nested schemas, metadata by reference. */
function gatewayDoc(ruleFields: Record<string, unknown>) {
  return {
    openapi: '3.0.0',
    components: {
      schemas: {
        'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { type: 'object', properties: { name: { type: 'string' } } },
        'io.k8s.networking.gateway.v1.HTTPRouteList': {
          type: 'object',
          'x-kubernetes-group-version-kind': [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRouteList', version: 'v1' }],
        },
        'io.k8s.networking.gateway.v1.HTTPRoute': {
          type: 'object',
          'x-kubernetes-group-version-kind': [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', version: 'v1' }],
          properties: {
            metadata: { allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }] },
            spec: {
              type: 'object',
              properties: { rules: { type: 'array', items: { type: 'object', properties: { matches: { type: 'array' }, ...ruleFields } } } },
            },
          },
        },
      },
    },
  };
}

describe('schemaHasField', () => {
  it('finds rules[].timeouts in a Gateway API v1.2+ HTTPRoute schema', () => {
    expect(schemaHasField(gatewayDoc({ timeouts: { type: 'object' } }), HTTP_ROUTE, TIMEOUTS)).toBe(true);
  });

  it('says no for an older HTTPRoute schema without it, and for a kind the document does not hold', () => {
    const old = gatewayDoc({});
    expect(schemaHasField(old, HTTP_ROUTE, TIMEOUTS)).toBe(false);
    expect(schemaHasField(old, HTTP_ROUTE, ['spec', 'rules', '[]', 'matches'])).toBe(true);
    expect(schemaHasField(old, { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'HTTPRoute' }, ['spec'])).toBe(false);
    expect(schemaHasField(old, { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute' }, ['spec'])).toBe(false);
  });

  it('follows references, as built-in types are published', () => {
    expect(schemaHasField(gatewayDoc({}), HTTP_ROUTE, ['metadata', 'name'])).toBe(true);
    expect(schemaHasField(gatewayDoc({}), HTTP_ROUTE, ['metadata', 'labels'])).toBe(false);
  });

  it('says no for anything that is not an OpenAPI document', () => {
    expect(schemaHasField('nope', HTTP_ROUTE, TIMEOUTS)).toBe(false);
    expect(schemaHasField({ components: { schemas: { x: null } } }, HTTP_ROUTE, TIMEOUTS)).toBe(false);
  });
});

describe('servedSchemaHasField', () => {
  const client = (answer: () => string) => ({
    paths: [] as string[],
    async raw(_method: 'GET' | 'POST', path: string) {
      this.paths.push(path);
      return answer();
    },
  });

  it('reads the group version document', async () => {
    const c = client(() => JSON.stringify(gatewayDoc({ timeouts: { type: 'object' } })));
    expect(await servedSchemaHasField(c, HTTP_ROUTE, TIMEOUTS)).toBe(true);
    expect(c.paths).toEqual(['/openapi/v3/apis/gateway.networking.k8s.io/v1']);
    expect(openApiPath('v1')).toBe('/openapi/v3/api/v1');
  });

  it('answers false when the group version is not published, and throws when the document cannot be read', async () => {
    const notFound = client(() => {
      throw new KubeApiError({ code: 404, reason: 'NotFound', message: 'not found' });
    });
    expect(await servedSchemaHasField(notFound, HTTP_ROUTE, TIMEOUTS)).toBe(false);
    const forbidden = client(() => {
      throw new KubeApiError({ code: 403, reason: 'Forbidden', message: 'forbidden' });
    });
    await expect(servedSchemaHasField(forbidden, HTTP_ROUTE, TIMEOUTS)).rejects.toThrow('forbidden');
  });
});
