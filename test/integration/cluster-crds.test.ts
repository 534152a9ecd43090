// The api-mode cluster serves the real third-party CRDs, so their schemas validate our objects,
// and authenticates and authorizes like a real cluster (TLS, RBAC, service-account tokens).
import { beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError } from '../../src/runtime/errors.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { createNamespace, kubeClient, serviceAccountToken, tokenKubeConfig, waitFor } from '../support/cluster.ts';

const CRD = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' } as const;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;

function serviceMonitor(namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name, namespace }, spec };
}

/** The apiserver's rejection: HTTP status and message. */
async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof KubeApiError)) throw e;
    return { code: e.code, message: e.message };
  }
  throw new Error('expected the apiserver to reject the object');
}

describe('third-party CRDs in the api-mode cluster', () => {
  let client: KubeClient;
  let namespace = '';

  beforeAll(async () => {
    client = await kubeClient();
    namespace = await createNamespace('crds');
  });

  it('installs the prometheus-operator and Gateway API CRDs', async () => {
    const names = (await client.list(CRD)).items.map((c) => c.metadata.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'servicemonitors.monitoring.coreos.com',
        'podmonitors.monitoring.coreos.com',
        'prometheusrules.monitoring.coreos.com',
        'gateways.gateway.networking.k8s.io',
        'httproutes.gateway.networking.k8s.io',
      ]),
    );
  });

  it('accepts a well-formed ServiceMonitor', async () => {
    const created = await client.create(serviceMonitor(namespace, 'good', { selector: { matchLabels: { app: 'unmute' } }, endpoints: [{ port: 'metrics', interval: '15s' }] }));
    expect(created.metadata.uid).toBeTruthy();
  });

  it('rejects a ServiceMonitor whose endpoints is not a list', async () => {
    const body = serviceMonitor(namespace, 'endpoints-not-a-list', { selector: { matchLabels: { app: 'unmute' } }, endpoints: { port: 'metrics' } });
    const { code, message } = await rejection(client.create(body));
    expect(code).toBe(422);
    expect(message).toMatch(/spec\.endpoints: Invalid value: "object": spec\.endpoints in body must be of type array/);
  });

  it('rejects a ServiceMonitor whose scrape interval breaks the schema pattern', async () => {
    const body = serviceMonitor(namespace, 'bad-interval', { selector: {}, endpoints: [{ port: 'metrics', interval: 'fifteen seconds' }] });
    const { code, message } = await rejection(client.create(body));
    expect(code).toBe(422);
    expect(message).toMatch(/spec\.endpoints\[0\]\.interval/);
  });
});

describe('authentication and authorization in the api-mode cluster', () => {
  it('issues service-account tokens that authenticate and are limited by RBAC', async () => {
    const client = await kubeClient();
    const namespace = await createNamespace('rbac');
    await client.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bot', namespace } });
    const asBot = await KubeClient.fromKubeConfig(tokenKubeConfig(await serviceAccountToken(namespace, 'bot'), 'bot'));
    try {
      const denied = await rejection(asBot.list(POD, { namespace }));
      expect(denied.code).toBe(403);
      expect(denied.message).toContain(`system:serviceaccount:${namespace}:bot`);

      await client.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'pod-reader', namespace }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] });
      await client.create({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'bot-reads-pods', namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace }],
      });
      const pods = await waitFor('the RoleBinding to take effect', () => asBot.list(POD, { namespace }), { timeoutMs: 10_000 });
      expect(pods.items).toEqual([]);
    } finally {
      await asBot.close();
    }
  });
});
