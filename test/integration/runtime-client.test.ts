// The KubeClient and the no-op-skipping apply against a real kube-apiserver.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyIfChanged, applyStatus } from '../../src/runtime/apply.ts';
import { setCondition } from '../../src/runtime/conditions.ts';
import { KubeApiError, isAlreadyExists, isConflict, isInvalid, isNotFound } from '../../src/runtime/errors.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { createNamespace } from '../support/cluster.ts';
import { aRawUnmuteDeployment } from '../support/factories.ts';
import { WIDGET, aKubeClient, ensureWidgetCrd } from './runtime-support.ts';

const FIELD_MANAGER = 'unmute-operator';
const CONFIGMAP = { apiVersion: 'v1', kind: 'ConfigMap' } as const;
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;

function aConfigMap(namespace: string, name: string, data: Record<string, string> = { a: '1' }): KubeObject {
  return { ...CONFIGMAP, metadata: { name, namespace }, data };
}

function aDeployment(namespace: string, options: { labels?: Record<string, string>; replicas?: number } = {}): KubeObject {
  return {
    ...DEPLOYMENT,
    metadata: { name: 'backend', namespace, labels: options.labels ?? { app: 'backend', tier: 'backend' } },
    spec: {
      replicas: options.replicas ?? 2,
      selector: { matchLabels: { app: 'backend' } },
      template: {
        metadata: { labels: { app: 'backend' } },
        spec: {
          containers: [
            {
              name: 'backend',
              image: 'example.com/unmute/backend:1',
              ports: [{ name: 'http', containerPort: 80 }],
              env: [{ name: 'MODE', value: 'prod' }],
              resources: { requests: { cpu: '0.5', memory: '1024Mi' }, limits: { 'nvidia.com/gpu': 1 } },
            },
          ],
        },
      },
    },
  };
}

describe('kube client against the API server', () => {
  let client: KubeClient;
  let namespace = '';

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('rt-client');
  });
  afterAll(async () => {
    await client.close();
  });

  it('creates, reads, merge-patches and deletes a ConfigMap', async () => {
    const created = await client.create(aConfigMap(namespace, 'crud'));
    expect(created.metadata.uid).toBeTruthy();
    const patched = await client.patch<KubeObject>(CONFIGMAP, 'crud', namespace, { data: { b: '2' } }, 'merge');
    expect(patched.data).toEqual({ a: '1', b: '2' });
    const page = await client.list(CONFIGMAP, { namespace, limit: 500 });
    expect(page.items.find((i) => i.metadata.name === 'crud')).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
    await client.delete(CONFIGMAP, 'crud', namespace);
    expect(await client.getIfExists(CONFIGMAP, 'crud', namespace)).toBeUndefined();
    const err = await client.get(CONFIGMAP, 'crud', namespace).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
  });

  it('reads paths outside the object model: /readyz and /version', async () => {
    expect(await client.raw('GET', '/readyz')).toBe('ok');
    expect(JSON.parse(await client.raw('GET', '/version'))).toMatchObject({ gitVersion: expect.stringMatching(/^v1\.\d+\./) });
  });

  it('hands the server warning about an unknown field to onWarning, and fails the write with strict field validation', async () => {
    const typo = { ...aConfigMap(namespace, 'typo'), dta: { b: '2' } };
    const warnings: string[] = [];
    await client.create(typo, { dryRun: true, onWarning: (w) => warnings.push(w) });
    expect(warnings).toEqual([expect.stringContaining('unknown field "dta"')]);
    const strict = await client.create(typo, { dryRun: true, fieldValidation: 'Strict' }).catch((e: unknown) => e);
    expect(strict).toMatchObject({ code: 400, message: expect.stringContaining('unknown field "dta"') });
  });

  it('types a stale update as Conflict, a duplicate create as AlreadyExists and a bad object as Invalid with causes', async () => {
    const created = await client.create(aConfigMap(namespace, 'errors'));
    await client.update({ ...created, data: { a: '2' } });
    const stale = await client.update({ ...created, data: { a: '3' } }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(KubeApiError);
    expect(isConflict(stale)).toBe(true);
    const duplicate = await client.create(aConfigMap(namespace, 'errors')).catch((e: unknown) => e);
    expect(isAlreadyExists(duplicate)).toBe(true);
    expect(isConflict(duplicate)).toBe(false);
    const invalid = await client.create(aDeployment(namespace, { replicas: -1 })).catch((e: unknown) => e);
    expect(isInvalid(invalid)).toBe(true);
    expect((invalid as KubeApiError).details?.causes?.map((c) => c.field)).toContain('spec.replicas');
  });

  it('tells which API groups and kinds the server serves', async () => {
    expect(await client.isServed('monitoring.coreos.com/v1', 'ServiceMonitor')).toBe(true);
    expect(await client.isServed('monitoring.coreos.com/v1', 'NoSuchKind')).toBe(false);
    expect(await client.isServed('nothing.example.com/v1')).toBe(false);
    expect(await client.isServed('apps/v1', 'Deployment')).toBe(true);
  });

  it('server-side applies core, apps, policy, networking and monitoring objects, then skips identical re-applies', async () => {
    const objects: KubeObject[] = [
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'backend', namespace }, spec: { selector: { app: 'backend' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
      aDeployment(namespace),
      { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'backend', namespace }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'backend' } } } },
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'backend', namespace }, spec: { podSelector: { matchLabels: { app: 'backend' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 80, protocol: 'TCP' }] }] } },
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'ServiceMonitor',
        metadata: { name: 'backend', namespace, labels: { release: 'prometheus' } },
        spec: { selector: { matchLabels: { app: 'backend' } }, endpoints: [{ port: 'http', interval: '5s', path: '/metrics' }] },
      },
    ];
    for (const obj of objects) {
      const first = await applyIfChanged(client, obj, undefined, { fieldManager: FIELD_MANAGER });
      expect(first.written).toBe(true);
    }
    const before = client.requests.snapshot();
    for (const obj of objects) {
      const observed = await client.get(obj, obj.metadata.name ?? '', namespace);
      const again = await applyIfChanged(client, obj, observed, { fieldManager: FIELD_MANAGER });
      expect({ kind: obj.kind, reason: again.reason }).toEqual({ kind: obj.kind, reason: 'unchanged' });
    }
    expect(client.requests.writesSince(before)).toBe(0);
  });

  it('restores a field someone hand-edited', async () => {
    await applyIfChanged(client, aDeployment(namespace), undefined, { fieldManager: FIELD_MANAGER });
    await client.patch(DEPLOYMENT, 'backend', namespace, { spec: { replicas: 9 } }, 'merge', { fieldManager: 'kubectl-edit' });
    const edited = await client.get(DEPLOYMENT, 'backend', namespace);
    const result = await applyIfChanged(client, aDeployment(namespace), edited, { fieldManager: FIELD_MANAGER });
    expect(result.written).toBe(true);
    expect((await client.get<KubeObject & { spec: { replicas: number } }>(DEPLOYMENT, 'backend', namespace)).spec.replicas).toBe(2);
  });

  it('leaves labels another field manager added alone and writes nothing for them', async () => {
    await applyIfChanged(client, aDeployment(namespace), undefined, { fieldManager: FIELD_MANAGER });
    await client.apply({ ...DEPLOYMENT, metadata: { name: 'backend', namespace, labels: { team: 'voice' } } }, { fieldManager: 'team-tooling' });
    const observed = await client.get(DEPLOYMENT, 'backend', namespace);
    expect(observed.metadata.labels).toMatchObject({ app: 'backend', team: 'voice' });
    const result = await applyIfChanged(client, aDeployment(namespace), observed, { fieldManager: FIELD_MANAGER });
    expect(result.written).toBe(false);
  });

  it('removes a label we stopped sending', async () => {
    await applyIfChanged(client, aDeployment(namespace), undefined, { fieldManager: FIELD_MANAGER });
    const observed = await client.get(DEPLOYMENT, 'backend', namespace);
    const result = await applyIfChanged(client, aDeployment(namespace, { labels: { app: 'backend' } }), observed, { fieldManager: FIELD_MANAGER });
    expect(result).toMatchObject({ written: true, reason: 'removed f:metadata.f:labels.f:tier' });
    expect((await client.get(DEPLOYMENT, 'backend', namespace)).metadata.labels?.tier).toBeUndefined();
  });

  it('applies a custom resource and its status subresource, skipping an unchanged status', async () => {
    await ensureWidgetCrd(client);
    const widget: KubeObject = { ...WIDGET, metadata: { name: 'w', namespace }, spec: { size: 3 } };
    await applyIfChanged(client, widget, undefined, { fieldManager: FIELD_MANAGER });
    const status = { observedGeneration: 1, conditions: setCondition([], { type: 'Ready', status: 'True', reason: 'AllGood', observedGeneration: 1 }, new Date()) };
    const statusPatch = { ...WIDGET, metadata: { name: 'w', namespace }, status };
    const first = await applyStatus(client, statusPatch, await client.get(WIDGET, 'w', namespace), { fieldManager: FIELD_MANAGER });
    expect(first.written).toBe(true);
    const observed = await client.get(WIDGET, 'w', namespace);
    expect(observed.status).toEqual(status);
    const before = client.requests.snapshot();
    const second = await applyStatus(client, statusPatch, observed, { fieldManager: FIELD_MANAGER });
    expect(second.written).toBe(false);
    expect(await applyIfChanged(client, widget, observed, { fieldManager: FIELD_MANAGER })).toMatchObject({ written: false });
    expect(client.requests.writesSince(before)).toBe(0);
  });

  it('applies an UnmuteDeployment and its status subresource when that CRD is installed', async (ctx) => {
    if (!(await client.isServed('unmute.sh/v1alpha1', 'UnmuteDeployment'))) ctx.skip();
    const UNMUTE = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
    const raw = aRawUnmuteDeployment();
    const cr: KubeObject = { ...UNMUTE, metadata: { name: 'fleet', namespace }, spec: raw.spec };
    await applyIfChanged(client, cr, undefined, { fieldManager: FIELD_MANAGER });
    const status = { observedGeneration: 1, conditions: setCondition([], { type: 'Ready', status: 'False', reason: 'Progressing', observedGeneration: 1 }, new Date()) };
    const statusPatch = { ...UNMUTE, metadata: { name: 'fleet', namespace }, status };
    expect((await applyStatus(client, statusPatch, await client.get(UNMUTE, 'fleet', namespace), { fieldManager: FIELD_MANAGER })).written).toBe(true);
    const observed = await client.get(UNMUTE, 'fleet', namespace);
    const before = client.requests.snapshot();
    expect((await applyStatus(client, statusPatch, observed, { fieldManager: FIELD_MANAGER })).written).toBe(false);
    expect((await applyIfChanged(client, cr, observed, { fieldManager: FIELD_MANAGER })).reason).toBe('unchanged');
    expect(client.requests.writesSince(before)).toBe(0);
  });
});
