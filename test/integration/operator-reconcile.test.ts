// The UnmuteDeployment controller against a real kube-apiserver (api mode: no controller-manager, so
// no pods and no garbage collection; see operator-lifecycle.full.test.ts for those). The controller
// runs in-process with the operator's own wiring, scoped to this file's namespace, on a KubeClient
// whose request counter the zero-write test reads. Every test asserts end state, polling until it holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUnmuteDeployment } from '../../src/controller/validate.ts';
import { renderFleet } from '../../src/render/index.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../../src/runtime/object.ts';
import { createNamespace, kubeConfig, waitFor } from '../support/cluster.ts';
import {
  UMD,
  SECRET,
  applyCr,
  conditionOf,
  createReferencedSecrets,
  loadExample,
  objectsControlledBy,
  patchSpec,
  servedOwnedKinds,
  startInProcessController,
  waitForIdle,
  type InProcessController,
  type RawCr,
} from '../support/operator.ts';
import { aKubeClient } from './runtime-support.ts';

const DEPLOYMENT: TypeRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const SERVICE: TypeRef = { apiVersion: 'v1', kind: 'Service' };

interface DeploymentLike extends KubeObject {
  spec: { replicas: number; template: { spec: { containers: Array<{ name: string; image: string; env?: Array<{ name: string; value?: string }> }> } } };
}
interface ServiceLike extends KubeObject {
  spec: { ports: Array<{ name?: string; port: number; targetPort?: string | number }> };
}

const EXAMPLES = ['single-gpu-dev.yaml', 'multi-gpu-production.yaml', 'external-llm.yaml'];

describe('the UnmuteDeployment controller on a real API server', () => {
  let client: KubeClient;
  let operator: InProcessController;
  let namespace = '';
  let kinds: TypeRef[] = [];
  const crs: RawCr[] = [];

  const getCr = (name: string) => client.get<RawCr>(UMD, name, namespace);
  const getDeployment = (name: string) => client.getIfExists<DeploymentLike>(DEPLOYMENT, name, namespace);
  const getService = (name: string) => client.getIfExists<ServiceLike>(SERVICE, name, namespace);
  const keyOf = (o: { kind: string; metadata: { name?: string } }) => `${o.kind}/${o.metadata.name}`;

  /** What the renderer says a CR implies, for the cluster facts the controller detected. */
  const expectedChildren = (cr: RawCr): string[] => {
    const parsed = parseUnmuteDeployment(cr);
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    return renderFleet(parsed.fleet, { capabilities: operator.setup.capabilities, replicas: { backend: 1 } })
      .map(keyOf)
      .sort();
  };

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('op-reconcile');
    kinds = await servedOwnedKinds(client);
    // The examples live in three namespaces; here they share one (names differ), which the
    // in-process controller watches alone, so objects of other test files do not disturb it.
    for (const file of EXAMPLES) {
      for (const cr of loadExample(file, namespace)) {
        await createReferencedSecrets(client, cr);
        crs.push(cr);
      }
    }
    operator = await startInProcessController({ kubeConfig: kubeConfig(), namespace });
    for (const cr of crs) await applyCr(client, cr);
  });

  afterAll(async () => {
    await operator?.stop();
    await client?.close();
  });

  it('creates every child of each example, each with a controller owner reference to its UnmuteDeployment', async () => {
    for (const cr of crs) {
      const name = cr.metadata.name!;
      const live = await getCr(name);
      const uid = live.metadata.uid!;
      const expected = expectedChildren(live);
      // The renderer is the source of the expected list; these few are checked independently of it.
      for (const k of [`Deployment/${name}-backend`, `Service/${name}-backend`, `PodDisruptionBudget/${name}-backend`, `Deployment/${name}-stt`, `Service/${name}-tts`]) {
        expect(expected).toContain(k);
      }
      const children = await waitFor(`children of ${name}`, async () => {
        const owned = await objectsControlledBy(client, kinds, namespace, uid);
        const have = owned.map(keyOf);
        return expected.every((k) => have.includes(k)) ? owned : undefined;
      });
      expect(children.map(keyOf).sort()).toEqual(expected);
      for (const child of children) {
        expect(child.metadata.ownerReferences, keyOf(child)).toEqual([
          { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name, uid, controller: true, blockOwnerDeletion: true },
        ]);
      }
    }
    // The production example exercises the optional kinds; they must be there when served.
    const prod = expectedChildren(await getCr('prod'));
    if (operator.setup.capabilities.gatewayApi) expect(prod).toContain('HTTPRoute/prod');
    // The run's Gateway API (v1.4.1) HTTPRoute has rules[].timeouts; the operator found it.
    expect(operator.setup.capabilities.httpRouteTimeouts).toBe(operator.setup.capabilities.gatewayApi);
    if (operator.setup.capabilities.prometheusOperator) expect(prod).toEqual(expect.arrayContaining(['ServiceMonitor/prod-metrics', 'Service/prod-metrics', 'PrometheusRule/prod-rules']));
  });

  it('records the observed generation and the not-yet-ready components in status', async () => {
    for (const cr of crs) {
      const live = await waitFor(`status of ${cr.metadata.name}`, async () => {
        const c = await getCr(cr.metadata.name!);
        return c.status?.['observedGeneration'] === c.metadata.generation ? c : undefined;
      });
      // No pods in api mode: nothing can be ready, and status says which components wait.
      expect(conditionOf(live, 'Ready')).toMatchObject({ status: 'False', reason: 'ComponentsNotReady', observedGeneration: live.metadata.generation });
      expect(conditionOf(live, 'Degraded')).toMatchObject({ status: 'False' });
    }
  });

  it('updates the children when the spec changes, and deletes those a removed component no longer needs', async () => {
    await waitFor('dev-frontend', async () => (await getDeployment('dev-frontend')) !== undefined);
    await patchSpec(client, namespace, 'dev', {
      backend: { image: 'registry.example.com/unmute/backend:2.0.0', env: [{ name: 'EXTRA', value: 'on' }] },
      stt: { port: 9090 },
      frontend: null,
    });
    await waitFor('the backend Deployment to follow the spec', async () => {
      const c = (await getDeployment('dev-backend'))?.spec.template.spec.containers[0];
      return c?.image === 'registry.example.com/unmute/backend:2.0.0' && c.env?.some((e) => e.name === 'EXTRA' && e.value === 'on');
    });
    await waitFor('the stt Service port to follow the spec', async () => (await getService('dev-stt'))?.spec.ports.map((p) => p.port).join() === '9090');
    await waitFor('the frontend to be removed', async () => (await getDeployment('dev-frontend')) === undefined && (await getService('dev-frontend')) === undefined);
    const live = await waitFor('observedGeneration to catch up', async () => {
      const c = await getCr('dev');
      return c.status?.['observedGeneration'] === c.metadata.generation ? c : undefined;
    });
    expect(live.metadata.generation).toBeGreaterThan(1);
  });

  it('keeps labels and annotations another field manager added, and puts back fields it owns that were edited by hand', async () => {
    const before = await waitFor('dev-backend', () => getDeployment('dev-backend'));
    const image = before.spec.template.spec.containers[0]!.image;
    const replicas = before.spec.replicas;
    // Another manager's metadata (kubectl label / annotate)...
    await client.patch(DEPLOYMENT, 'dev-backend', namespace, { metadata: { labels: { 'team.example.com/owner': 'voice' }, annotations: { 'example.com/note': 'keep me' } } }, 'merge', {
      fieldManager: 'kubectl-label',
    });
    await client.patch(SERVICE, 'dev-backend', namespace, { metadata: { annotations: { 'example.com/note': 'keep me too' } } }, 'merge', { fieldManager: 'kubectl-annotate' });
    // ...then `kubectl edit` of fields the operator owns (autoscaling is off for dev).
    await client.patch(
      DEPLOYMENT,
      'dev-backend',
      namespace,
      [
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'attacker.example.com/backend:evil' },
        { op: 'replace', path: '/spec/replicas', value: replicas + 3 },
      ],
      'json',
      { fieldManager: 'kubectl-edit' },
    );
    const service = await waitFor('dev-backend Service', () => getService('dev-backend'));
    const port = service.spec.ports[0]!.port;
    await client.patch(SERVICE, 'dev-backend', namespace, [{ op: 'replace', path: '/spec/ports/0/port', value: port + 1 }], 'json', { fieldManager: 'kubectl-edit' });

    await waitFor('the Deployment image and replicas to be put back', async () => {
      const d = await getDeployment('dev-backend');
      return d?.spec.template.spec.containers[0]?.image === image && d.spec.replicas === replicas;
    });
    await waitFor('the Service port to be put back', async () => (await getService('dev-backend'))?.spec.ports.map((p) => p.port).join() === String(port));
    await waitForIdle(operator);
    const d = await getDeployment('dev-backend');
    expect(d?.metadata.labels).toMatchObject({ 'team.example.com/owner': 'voice', 'app.kubernetes.io/managed-by': 'unmute-operator' });
    expect(d?.metadata.annotations).toMatchObject({ 'example.com/note': 'keep me' });
    expect((await getService('dev-backend'))?.metadata.annotations).toMatchObject({ 'example.com/note': 'keep me too' });
  });

  it('issues zero writes when every unchanged UnmuteDeployment is reconciled again', async () => {
    await waitForIdle(operator, { quietMs: 1_500 });
    const before = operator.client.requests.snapshot();
    const reconcilesBefore = operator.reconciles();
    const keys = operator.resyncAll();
    expect(keys.length).toBe(crs.length);
    await waitFor('a reconcile of every key', () => operator.reconciles() >= reconcilesBefore + keys.length);
    await waitForIdle(operator);
    const diff = operator.client.requests.diff(before);
    expect(operator.client.requests.writesSince(before), JSON.stringify(diff)).toBe(0);
    // Reads are allowed (Secret lookups); the cache serves everything else.
    expect(operator.client.requests.count({ writes: false }, before), JSON.stringify(diff)).toBeLessThanOrEqual(keys.length * 4);
  });

  it('scales the backend through the scale subresource (kubectl scale) when autoscaling is off', async () => {
    const scalePath = { ...UMD };
    const scaled = await client.patch<KubeObject & { spec: { replicas: number } }>(scalePath, 'dev', namespace, { spec: { replicas: 5 } }, 'merge', {
      subresource: 'scale',
      fieldManager: 'kubectl-scale',
    });
    expect(scaled.kind).toBe('Scale');
    expect(scaled.spec.replicas).toBe(5);
    expect(((await getCr('dev')).spec['backend'] as { replicas: number }).replicas).toBe(5);
    await waitFor('the backend Deployment to follow', async () => (await getDeployment('dev-backend'))?.spec.replicas === 5);
    const status = await waitFor('status.selector for the scale subresource', async () => {
      const c = await getCr('dev');
      return c.status?.['observedGeneration'] === c.metadata.generation ? c.status : undefined;
    });
    expect(status['selector']).toBe('app.kubernetes.io/name=unmute,app.kubernetes.io/instance=dev,app.kubernetes.io/component=backend');
  });

  it('answers a missing Secret with Ready=False InvalidSpec and creates nothing, then builds the fleet once the Secret exists', async () => {
    const [dev] = loadExample('single-gpu-dev.yaml', namespace);
    const cr: RawCr = { ...dev!, metadata: { name: 'late-secret', namespace }, spec: { ...dev!.spec, stt: { ...(dev!.spec['stt'] as object), hfTokenSecretRef: { name: 'hf-token-late', key: 'token' } } } };
    const created = await applyCr(client, cr);
    const invalid = await waitFor('InvalidSpec', async () => {
      const c = await getCr('late-secret');
      const ready = conditionOf(c, 'Ready');
      return ready?.reason === 'InvalidSpec' ? { c, ready } : undefined;
    });
    expect(invalid.ready).toMatchObject({ status: 'False', observedGeneration: invalid.c.metadata.generation });
    expect(invalid.ready.message).toContain('spec.stt.hfTokenSecretRef: Secret "hf-token-late" not found');
    expect(await objectsControlledBy(client, kinds, namespace, created.metadata.uid!)).toEqual([]);

    // Secrets are not watched: the operator looks again on its own (every 30 s).
    await client.create({ ...SECRET, metadata: { name: 'hf-token-late', namespace }, data: { token: Buffer.from('t').toString('base64') } });
    await waitFor('the fleet to be built', async () => (await getDeployment('late-secret-stt')) !== undefined, { timeoutMs: 45_000, intervalMs: 500 });
    await waitFor('the InvalidSpec condition to clear', async () => conditionOf(await getCr('late-secret'), 'Ready')?.reason !== 'InvalidSpec');
  });
});
