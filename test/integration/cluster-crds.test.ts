// The api-mode cluster serves the real third-party CRDs, so their schemas validate our objects,
// and authenticates and authorizes like a real cluster (TLS, RBAC, service-account tokens).
import { ApiException, ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, kubeConfig, waitFor } from '../support/cluster.ts';

const monitoring = { group: 'monitoring.coreos.com', version: 'v1', plural: 'servicemonitors' };

function serviceMonitor(name: string, spec: Record<string, unknown>) {
  return { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name }, spec };
}

/** The apiserver's rejection: HTTP status and message. */
async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string });
    return { code: e.code, message: body.message ?? String(e.body) };
  }
  throw new Error('expected the apiserver to reject the object');
}

describe('third-party CRDs in the api-mode cluster', () => {
  const kc = kubeConfig();
  const custom = kc.makeApiClient(CustomObjectsApi);
  let namespace = '';

  beforeAll(async () => {
    namespace = await createNamespace(kc, 'crds');
  });

  it('installs the prometheus-operator and Gateway API CRDs', async () => {
    const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
    const names = crds.items.map((c) => c.metadata?.name);
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
    const body = serviceMonitor('good', { selector: { matchLabels: { app: 'unmute' } }, endpoints: [{ port: 'metrics', interval: '15s' }] });
    const created = (await custom.createNamespacedCustomObject({ ...monitoring, namespace, body })) as { metadata: { uid?: string } };
    expect(created.metadata.uid).toBeTruthy();
  });

  it('rejects a ServiceMonitor whose endpoints is not a list', async () => {
    const body = serviceMonitor('endpoints-not-a-list', { selector: { matchLabels: { app: 'unmute' } }, endpoints: { port: 'metrics' } });
    const { code, message } = await rejection(custom.createNamespacedCustomObject({ ...monitoring, namespace, body }));
    expect(code).toBe(422);
    expect(message).toMatch(/spec\.endpoints: Invalid value: "object": spec\.endpoints in body must be of type array/);
  });

  it('rejects a ServiceMonitor whose scrape interval breaks the schema pattern', async () => {
    const body = serviceMonitor('bad-interval', { selector: {}, endpoints: [{ port: 'metrics', interval: 'fifteen seconds' }] });
    const { code, message } = await rejection(custom.createNamespacedCustomObject({ ...monitoring, namespace, body }));
    expect(code).toBe(422);
    expect(message).toMatch(/spec\.endpoints\[0\]\.interval/);
  });
});

describe('authentication and authorization in the api-mode cluster', () => {
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);

  it('issues service-account tokens that authenticate and are limited by RBAC', async () => {
    const namespace = await createNamespace(kc, 'rbac');
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'bot' } } });
    const { status } = await core.createNamespacedServiceAccountToken({ name: 'bot', namespace, body: { spec: { audiences: [] } } });
    const asBot = new KubeConfig();
    asBot.loadFromOptions({
      clusters: [{ ...kc.getCurrentCluster()!, name: 'local' }],
      users: [{ name: 'bot', token: status!.token }],
      contexts: [{ name: 'bot', cluster: 'local', user: 'bot' }],
      currentContext: 'bot',
    });
    const botCore = asBot.makeApiClient(CoreV1Api);
    const denied = await rejection(botCore.listNamespacedPod({ namespace }));
    expect(denied.code).toBe(403);
    expect(denied.message).toContain(`system:serviceaccount:${namespace}:bot`);

    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: { metadata: { name: 'bot-reads-pods' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'bot', namespace }] },
    });
    const pods = await waitFor('the RoleBinding to take effect', () => botCore.listNamespacedPod({ namespace }), { timeoutMs: 10_000 });
    expect(pods.items).toEqual([]);
  });
});
