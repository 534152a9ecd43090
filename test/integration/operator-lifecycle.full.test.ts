// The operator as a real process, inside the full-mode cluster's network namespace (controller-manager,
// scheduler, KWOK GPU nodes): the example fleets get scheduled onto the right GPU pools, their pods
// become Ready and the CR reports Ready=True for its current generation; deleting a CR lets the
// garbage collector remove every child through the owner references.
import { ANNOTATION_SKIP_DRAIN } from '../../src/api/v1alpha1/labels.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARKER_ENV } from '../../scripts/cluster/config.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../../src/runtime/object.ts';
import { clusterInfo, createNamespace, execInNetns, waitFor } from '../support/cluster.ts';
import {
  UMD,
  applyCr,
  conditionOf,
  createReferencedSecrets,
  loadExample,
  metricSum,
  objectsControlledBy,
  patchSpec,
  servedOwnedKinds,
  spawnOperator,
  stopOperators,
  type OperatorProcess,
  type RawCr,
} from '../support/operator.ts';
import { aKubeClient } from './runtime-support.ts';

const POD: TypeRef = { apiVersion: 'v1', kind: 'Pod' };
const NODE: TypeRef = { apiVersion: 'v1', kind: 'Node' };
const PV: TypeRef = { apiVersion: 'v1', kind: 'PersistentVolume' };
const PVC: TypeRef = { apiVersion: 'v1', kind: 'PersistentVolumeClaim' };
const EXAMPLES = ['single-gpu-dev.yaml', 'multi-gpu-production.yaml', 'external-llm.yaml'];

interface PodLike extends KubeObject {
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

describe('example fleets on simulated GPU nodes', () => {
  let client: KubeClient;
  let namespace = '';
  let kinds: TypeRef[] = [];
  const crs: RawCr[] = [];
  let operator: OperatorProcess;

  const getCr = (name: string) => client.get<RawCr>(UMD, name, namespace);

  /** The production example mounts an existing claim; a pre-bound static volume stands in for real storage. */
  async function modelCacheClaim(claimName: string) {
    const pvName = `${namespace}-${claimName}`;
    await client.create({
      ...PV,
      metadata: { name: pvName },
      spec: {
        capacity: { storage: '100Gi' },
        accessModes: ['ReadWriteMany'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: '',
        hostPath: { path: `/var/lib/unmute-test/${pvName}` },
        claimRef: { namespace, name: claimName },
      },
    });
    await client.create({
      ...PVC,
      metadata: { name: claimName, namespace },
      spec: { accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: pvName, resources: { requests: { storage: '100Gi' } } },
    });
    await waitFor(`claim ${claimName} bound`, async () => (await client.get<KubeObject & { status?: { phase?: string } }>(PVC, claimName, namespace)).status?.phase === 'Bound');
  }

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('op-lifecycle');
    kinds = await servedOwnedKinds(client);
    for (const file of EXAMPLES) {
      for (const cr of loadExample(file, namespace)) {
        await createReferencedSecrets(client, cr);
        crs.push(cr);
      }
    }
    await modelCacheClaim('unmute-models');
    const info = clusterInfo();
    // Inside the netns, pod IPs are local: the operator's session reads get an immediate answer
    // (nothing listens on a KWOK pod) instead of timing out on the host.
    operator = await spawnOperator({
      identity: 'lifecycle',
      kubeconfig: info.kubeconfigInNetns!,
      wrapper: ['ip', 'netns', 'exec', info.netns!],
      env: { [MARKER_ENV]: info.name },
      leaderElectionNamespace: namespace,
      extraArgs: ['--namespace', namespace],
    });
    for (const cr of crs) await applyCr(client, cr);
  });

  afterAll(async () => {
    await stopOperators();
    await client?.close();
  });

  it('reports Ready=True for the current generation once every component has Ready pods', async () => {
    for (const cr of crs) {
      const name = cr.metadata.name!;
      const live = await waitFor(
        `${name} Ready=True`,
        async () => {
          const c = await getCr(name);
          const ready = conditionOf(c, 'Ready');
          return ready?.status === 'True' && ready.observedGeneration === c.metadata.generation && c.status?.['observedGeneration'] === c.metadata.generation ? c : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 1_000 },
      );
      expect(conditionOf(live, 'Ready')).toMatchObject({ reason: 'AllComponentsReady' });
      expect(live.status?.['readyReplicas']).toBeGreaterThan(0);
      const components = live.status?.['components'] as Record<string, { desiredReplicas: number; readyReplicas: number }>;
      for (const [component, s] of Object.entries(components)) {
        if (s.desiredReplicas > 0) expect(s.readyReplicas, component).toBeGreaterThan(0);
      }
    }
  });

  it('costs no writes while the Ready fleets run unchanged, autoscaling passes and status refreshes included', async () => {
    // The operator's /metrics listens inside the netns.
    const sample = async () => {
      const { code, output } = await execInNetns('curl', ['-sf', '--max-time', '5', `${operator.metricsUrl}/metrics`]);
      if (code !== 0) throw new Error(`curl exited ${code}: ${output}`);
      // PUT is the Lease renewal; everything else the operator writes is POST, PATCH or DELETE.
      const writes = ['POST', 'PATCH', 'DELETE'].reduce((n, method) => n + metricSum(output, 'rest_client_requests_total', { method }), 0);
      return { writes, reconciles: metricSum(output, 'controller_runtime_reconcile_total') };
    };
    let last = await sample();
    await waitFor(
      'writes to settle',
      async () => {
        await new Promise((r) => setTimeout(r, 3_000));
        const now = await sample();
        const settled = now.writes === last.writes;
        last = now;
        return settled;
      },
      { timeoutMs: 60_000, intervalMs: 0 },
    );
    const before = await sample();
    // Two autoscaling intervals (5 s) of prod and ext: sessions are read, decisions taken, status recomputed.
    await new Promise((r) => setTimeout(r, 12_000));
    const after = await sample();
    expect(after.reconciles - before.reconciles).toBeGreaterThanOrEqual(4);
    expect(after.writes - before.writes).toBe(0);
  });

  it('rolls out a spec change and is Ready and Stable again for the new generation', async () => {
    const image = 'registry.example.com/unmute/backend:rollout-2';
    const patched = await patchSpec(client, namespace, 'dev', { backend: { image } });
    const live = await waitFor(
      'dev rolled out',
      async () => {
        const c = await getCr('dev');
        const ready = conditionOf(c, 'Ready');
        const progressing = conditionOf(c, 'Progressing');
        const done =
          c.status?.['observedGeneration'] === patched.metadata.generation &&
          ready?.status === 'True' &&
          ready.observedGeneration === patched.metadata.generation &&
          progressing?.status === 'False' &&
          progressing.reason === 'Stable';
        return done ? c : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    const backend = (live.status?.['components'] as Record<string, { desiredReplicas: number; readyReplicas: number; updatedReplicas: number }>)['backend']!;
    expect(backend.updatedReplicas).toBe(backend.desiredReplicas);
    expect(backend.readyReplicas).toBe(backend.desiredReplicas);
    const pods = (await client.list<PodLike & { spec: { containers: Array<{ image: string }> } }>(POD, { namespace, labelSelector: 'app.kubernetes.io/instance=dev,app.kubernetes.io/component=backend' })).items;
    const current = pods.filter((p) => p.metadata.deletionTimestamp === undefined);
    expect(current.length).toBe(backend.desiredReplicas);
    for (const p of current) expect(p.spec.containers[0]!.image).toBe(image);
  });

  it('puts GPU tiers on nodes of the GPU product the spec asks for', async () => {
    const nodes = (await client.list<KubeObject>(NODE)).items;
    const productOf = (node: string | undefined) => nodes.find((n) => n.metadata.name === node)?.metadata.labels?.['nvidia.com/gpu.product'];
    const pods = (await client.list<PodLike>(POD, { namespace, labelSelector: 'app.kubernetes.io/managed-by=unmute-operator' })).items;
    const where = (instance: string, component: string) =>
      pods.filter((p) => p.metadata.labels?.['app.kubernetes.io/instance'] === instance && p.metadata.labels['app.kubernetes.io/component'] === component).map((p) => productOf(p.spec.nodeName));
    // prod: the LLM asks for H100, the other GPU tiers inherit spec.gpu.product (L40S); the backend has no GPU.
    expect(new Set(where('prod', 'llm'))).toEqual(new Set(['NVIDIA-H100-80GB-HBM3']));
    for (const c of ['stt', 'tts', 'voice-cloning']) expect(new Set(where('prod', c)), c).toEqual(new Set(['NVIDIA-L40S']));
    expect(where('prod', 'backend').every((p) => p === undefined)).toBe(true);
    for (const c of ['stt', 'tts', 'llm']) expect(new Set(where('dev', c)), c).toEqual(new Set(['NVIDIA-L40S']));
  });

  it('removes every child when an UnmuteDeployment is deleted (garbage collection through owner references)', async () => {
    const uids = new Map<string, string>();
    for (const cr of crs) uids.set(cr.metadata.name!, (await getCr(cr.metadata.name!)).metadata.uid!);
    for (const cr of crs) expect((await objectsControlledBy(client, kinds, namespace, uids.get(cr.metadata.name!)!)).length, cr.metadata.name).toBeGreaterThan(0);
    // Nothing serves these backends' /metrics, so their sessions are unknown and a deletion would
    // wait for the drain timeout (the operator never assumes a fleet is empty): skip the drain.
    for (const cr of crs) {
      await client.patch(UMD, cr.metadata.name!, namespace, { metadata: { annotations: { [ANNOTATION_SKIP_DRAIN]: 'true' } } }, 'merge');
      await client.delete(UMD, cr.metadata.name!, namespace, { propagationPolicy: 'Background' });
    }
    for (const cr of crs) {
      const name = cr.metadata.name!;
      await waitFor(`${name} and its children to be gone`, async () => {
        if ((await client.getIfExists(UMD, name, namespace)) !== undefined) return false;
        return (await objectsControlledBy(client, kinds, namespace, uids.get(name)!)).length === 0;
      }, { timeoutMs: 90_000, intervalMs: 1_000 });
    }
    await waitFor('the fleet pods to be gone', async () => (await client.list(POD, { namespace, labelSelector: 'app.kubernetes.io/managed-by=unmute-operator' })).items.length === 0, {
      timeoutMs: 90_000,
      intervalMs: 1_000,
    });
  });
});
