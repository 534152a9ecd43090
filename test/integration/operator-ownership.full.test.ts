// What is not the fleet's stays untouched, and what is the fleet's leaves without cutting a
// conversation: a name collision is reported, not taken over (nor garbage-collected with the fleet);
// a hand-made pod with the fleet's labels is not counted; deleting a fleet drains it first.
// An operator process and a simulated fleet (sim-workers on the pod IPs) run in the cluster's netns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANNOTATION_SKIP_DRAIN, FINALIZER_DRAIN, LABEL_SERVING } from '../../src/api/v1alpha1/labels.ts';
import { ANNOTATION_ADOPT } from '../../src/controller/ownership.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { operatorFleet, operatorFleetTargets } from '../../src/sim/fleet/fleets.ts';
import { createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { aRawUnmuteDeployment } from '../support/factories.ts';
import { draining, kube, startFleetUnderTest, startOperatorProcess, type FleetUnderTest } from './autoscaling-support.ts';

const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' };
const SERVICE = { apiVersion: 'v1', kind: 'Service' };
const POD = { apiVersion: 'v1', kind: 'Pod' };
const SHAPE = { minReplicas: 2, maxReplicas: 4, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '0s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 4, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };

type ServiceLike = KubeObject & { spec: { selector?: Record<string, string> } };

describe('objects the fleet did not create', () => {
  let client: KubeClient;
  let ns = '';
  const k = kube();
  let operator: ReturnType<typeof startOperatorProcess>;

  beforeAll(async () => {
    client = await kubeClient();
    ns = await createNamespace('own-names');
    operator = startOperatorProcess(ns);
  });
  afterAll(async () => {
    await operator?.stop();
  });

  it('leaves a Service that has a child\'s name untouched, says NameConflict, and does not delete it with the fleet', async () => {
    await client.create({ ...SERVICE, metadata: { name: 'clash-backend', namespace: ns }, spec: { selector: { app: 'theirs' }, ports: [{ port: 9999 }] } });
    const raw = aRawUnmuteDeployment();
    await client.create({ apiVersion: raw.apiVersion, kind: raw.kind, metadata: { name: 'clash', namespace: ns }, spec: raw.spec });
    const ready = await waitFor('NameConflict', async () => {
      const c = await k.condition(ns, 'clash', 'Ready');
      return c?.reason === 'NameConflict' ? c : undefined;
    }, { timeoutMs: 30_000 });
    expect(ready.message).toContain('Service clash-backend: exists and is not this fleet\'s');
    const theirs = await client.get<ServiceLike>(SERVICE, 'clash-backend', ns);
    expect(theirs.spec.selector).toEqual({ app: 'theirs' });
    expect(theirs.metadata.ownerReferences).toBeUndefined();
    // The rest of the fleet is there.
    expect(await client.getIfExists(SERVICE, 'clash-stt', ns)).toBeDefined();
    expect((await k.events(ns)).some((e) => e.reason === 'NameConflict')).toBe(true);

    await client.patch(UMD, 'clash', ns, { metadata: { annotations: { [ANNOTATION_SKIP_DRAIN]: 'true' } } }, 'merge');
    await client.delete(UMD, 'clash', ns);
    await waitFor('the fleet gone', async () => (await client.getIfExists(UMD, 'clash', ns)) === undefined, { timeoutMs: 30_000 });
    await waitFor('its own Service gone', async () => (await client.getIfExists(SERVICE, 'clash-stt', ns)) === undefined, { timeoutMs: 30_000 });
    expect((await client.get<ServiceLike>(SERVICE, 'clash-backend', ns)).spec.selector).toEqual({ app: 'theirs' });
  });

  it('takes such an object over once it is annotated for the fleet', async () => {
    // A Service made by hand for the backend before the fleet existed. Adoption hands over ownership;
    // fields someone else set stay theirs (server-side apply), so its shape must already fit.
    await client.create({
      ...SERVICE,
      metadata: { name: 'handover-backend', namespace: ns, annotations: { [ANNOTATION_ADOPT]: 'handover' } },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    const raw = aRawUnmuteDeployment();
    await client.create({ apiVersion: raw.apiVersion, kind: raw.kind, metadata: { name: 'handover', namespace: ns }, spec: raw.spec });
    const adopted = await waitFor('the Service adopted', async () => {
      const svc = await client.get<ServiceLike>(SERVICE, 'handover-backend', ns);
      return svc.metadata.ownerReferences?.some((r) => r.kind === 'UnmuteDeployment' && r.name === 'handover') ? svc : undefined;
    }, { timeoutMs: 30_000 });
    expect(adopted.spec.selector?.[LABEL_SERVING]).toBe('true');
  });
});

describe('a fleet with live conversations', () => {
  const NAME = 'drainer';
  const k = kube();
  let client: KubeClient;
  let ns = '';
  let fleet: FleetUnderTest;

  beforeAll(async () => {
    client = await kubeClient();
    ns = await createNamespace('own-fleet');
    fleet = await startFleetUnderTest(ns, NAME);
    await k.createUmd(operatorFleet(NAME, ns, SHAPE, TIMING));
    await waitFor('2 serving backends with running sim-workers', async () => {
      const s = await fleet.control.state();
      return s.endpoints.length === 2 && s.workers.filter((w) => w.state === 'running').length === 2;
    }, { timeoutMs: 60_000 });
    await waitFor('the drain finalizer', async () => ((await client.get(UMD, NAME, ns)).metadata.finalizers ?? []).includes(FINALIZER_DRAIN), { timeoutMs: 20_000 });
  });

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
  });

  it('ignores a hand-made pod with its labels: not counted, reported once', async () => {
    const labels = Object.fromEntries(operatorFleetTargets(NAME).podSelector.split(',').map((kv) => kv.split('=') as [string, string]));
    await client.create({
      ...POD,
      metadata: { name: 'hand-made', namespace: ns, labels: { ...labels, 'app.kubernetes.io/managed-by': 'unmute-operator', 'unmute.sh/fleet': NAME, [LABEL_SERVING]: 'true' } },
      spec: { containers: [{ name: 'x', image: 'example.com/x:1' }] },
    });
    await waitFor('a ForeignPod event', async () => (await k.events(ns)).some((e) => e.reason === 'ForeignPod' && e.message?.includes('hand-made')), { timeoutMs: 20_000 });
    const status = await client.get<KubeObject & { status?: { replicas?: number } }>(UMD, NAME, ns);
    expect(status.status?.replicas).toBe(2);
    await client.delete(POD, 'hand-made', ns, { gracePeriodSeconds: 0 });
  });

  it('drains every backend when deleted and is removed only after its conversations ended, cutting none', async () => {
    await fleet.control.openSessions(3);
    await fleet.control.heldBy(3);
    await client.delete(UMD, NAME, ns);
    await waitFor('every backend out of rotation', async () => {
      const pods = await k.backendPods(ns, NAME);
      return pods.length === 2 && pods.every(draining);
    }, { timeoutMs: 20_000 });
    await waitFor('the endpoints empty', async () => (await fleet.control.state()).endpoints.length === 0, { timeoutMs: 10_000 });
    const deleting = await k.condition(ns, NAME, 'Progressing');
    expect(deleting?.reason).toBe('Deleting');
    // While the conversations last, the fleet and its backends stay.
    await new Promise((r) => setTimeout(r, 4000));
    expect(await client.getIfExists(UMD, NAME, ns)).toBeDefined();
    expect((await fleet.control.state()).workers.filter((w) => w.state === 'running')).toHaveLength(2);

    await fleet.control.endSessions(3);
    await waitFor('the fleet gone', async () => (await client.getIfExists(UMD, NAME, ns)) === undefined, { timeoutMs: 30_000 });
    const state = await fleet.control.state();
    expect(state.sessions.closeCodes['1012'] ?? 0).toBe(0);
    expect(state.totals.cutSessions).toBe(0);
  });
});
