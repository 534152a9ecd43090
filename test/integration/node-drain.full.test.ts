// `kubectl drain` of a node that holds busy backend and STT pods, through the eviction API as
// kubectl does it, with the whole pipeline simulated. The operator watches Nodes: it sees the
// cordon, asks for replacements elsewhere, takes the node's pods out of their Services only once
// the replacements are ready, and removes each when it is empty. Meanwhile the PodDisruptionBudget
// of each tier it sizes (maxUnavailable 0) refuses kubectl's evictions with 429; kubectl retries
// until the pods are gone. Should a pod still go early (an eviction the PDB allowed), its preStop
// waits for its own load to end (the pod runner plays the kubelet: KWOK's pod deletion is
// `external` here).
//
// Placement: both backends and both STT pods start on one GPU node (the other nodes cordoned
// while they are scheduled; backends tolerate the GPU taint here), TTS and vLLM on another node
// nobody drains. Users keep calling and hanging up, oldest first, while the node drains.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setKwokPodDeletion } from '../../scripts/cluster/faults.ts';
import { operatorFleet } from '../../src/sim/fleet/fleets.ts';
import { clusterInfo, createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { channels, drainNode, expectNoConversationEnded, kube, loadEveryPod, sleep, startFleetUnderTest, sttOf, uncordon, withSttFollower, type EvictionRecord, type LooseUmd, type FleetUnderTest, type Pod } from './autoscaling-support.ts';

const NAME = 'ndrain';
const STT_SLOTS = 32;
const DRAINED = 'kwok-l40s-0';
const ELSEWHERE = 'kwok-h100-0';
const OTHERS = ['kwok-l40s-1', 'kwok-l40s-2', 'kwok-cpu-0', 'kwok-cpu-1'];
// kubectl drain --timeout: longer than the grace periods, as docs/autoscaling.md asks.
const DRAIN_TIMEOUT_MS = 150_000;
// Replacements take a second to start, so kubectl's refused evictions are visible on both tiers.
const SHAPE = { minReplicas: 2, maxReplicas: 2, targetSessionsPerPod: 4, maxSessionsPerPod: 8, podStartDelay: '1s', gpuStartDelay: '1s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 600, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 120 };
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const hostIn = (op: 'In' | 'NotIn', nodes: string[]) => ({
  nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: op, values: nodes }] }] } },
});

describe('kubectl drain of a node with busy backend and STT pods', () => {
  const k = kube();
  const cluster = clusterInfo().name;
  let ns = '';
  let fleet: FleetUnderTest;

  async function fleetPods(): Promise<Pod[]> {
    return (await (await kubeClient()).list<Pod>(POD, { namespace: ns, labelSelector: `app.kubernetes.io/instance=${NAME}` })).items;
  }
  const nodeOf = (p: Pod) => (p as Pod & { spec?: { nodeName?: string } }).spec?.nodeName;
  const componentOf = (p: Pod) => p.metadata.labels?.['app.kubernetes.io/component'];

  beforeAll(async () => {
    await setKwokPodDeletion(cluster, 'external');
    ns = await createNamespace('node-drain');
    fleet = await startFleetUnderTest(ns, NAME, { pipeline: true });
    const client = await kubeClient();
    for (const n of OTHERS) await client.patch({ apiVersion: 'v1', kind: 'Node' }, n, undefined, { spec: { unschedulable: true } }, 'merge');
    const umd = operatorFleet(NAME, ns, SHAPE, TIMING, { pipeline: true }) as unknown as LooseUmd;
    const notElsewhere = hostIn('NotIn', [ELSEWHERE]);
    umd.spec['backend'] = { ...umd.spec['backend'], affinity: notElsewhere, tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] };
    withSttFollower(umd, 2, STT_SLOTS, { drainGracePeriodSeconds: 120, affinity: notElsewhere });
    umd.spec['tts'] = { ...umd.spec['tts'], nodeSelector: { 'kubernetes.io/hostname': ELSEWHERE } };
    const llm = umd.spec['llm']!['inCluster'] as Record<string, unknown>;
    umd.spec['llm'] = { inCluster: { ...llm, nodeSelector: { 'kubernetes.io/hostname': ELSEWHERE } } };
    await k.createUmd(umd as never);
    await waitFor('two backends, two STT pods, a TTS and a vLLM running', async () => {
      const s = await fleet.control.state();
      const up = s.services.filter((w) => w.state === 'running');
      return s.endpoints.length === 2 && up.filter((w) => w.component === 'stt').length === 2 && up.some((w) => w.component === 'tts') && up.some((w) => w.component === 'llm') ? s : undefined;
    }, { timeoutMs: 90_000 });
    for (const n of OTHERS) await uncordon(n);
    await sleep(1500); // the STT EndpointSlice reaches the backends' resolver
  }, 150_000);

  afterAll(async () => {
    for (const n of [DRAINED, ...OTHERS]) await uncordon(n).catch(() => undefined);
    await fleet?.stop();
    await stopNetnsProcesses();
    await setKwokPodDeletion(cluster, 'immediate').catch(() => undefined);
  }, 60_000);

  it('moves every pod off the node, replacement first, and cuts no session', async () => {
    const placed = await fleetPods();
    const onNode = placed.filter((p) => nodeOf(p) === DRAINED);
    expect(onNode.map(componentOf).sort()).toEqual(['backend', 'backend', 'stt', 'stt']);
    const loaded = await loadEveryPod(fleet.control, { backends: 2, stt: 2, min: 4, max: 6 });
    expect(loaded.workers.filter((w) => (w.stats?.activeSessions ?? 0) > 0)).toHaveLength(2);
    expect(sttOf(loaded).every((w) => channels(w) > 0)).toBe(true);
    const sessions = loaded.sessions.open;

    // The drain runs while users come and go; the backend Service is watched all along.
    const t0 = Date.now();
    let records: EvictionRecord[] | undefined;
    let failed: Error | undefined;
    const drain = drainNode(DRAINED, ns, { timeoutMs: DRAIN_TIMEOUT_MS }).then((r) => (records = r), (e: Error) => (failed = e));
    let fewestBackendEndpoints = Infinity;
    let fewestStt = Infinity;
    let churned = 0;
    const enteredWith = new Map<string, number>(); // evicted pod -> what it held when first seen in its preStop
    while (records === undefined && failed === undefined) {
      const st = await fleet.control.state();
      for (const w of [...st.workers, ...sttOf(st)]) {
        if (w.state === 'prestop' && !enteredWith.has(w.pod)) enteredWith.set(w.pod, w.component === 'stt' ? channels(w) : (w.stats?.activeSessions ?? 0));
      }
      fewestBackendEndpoints = Math.min(fewestBackendEndpoints, st.endpoints.length);
      fewestStt = Math.min(fewestStt, sttOf(st).filter((w) => w.state === 'running').length);
      // The oldest user hangs up and a new one calls: the evicted pods empty, the new ones fill.
      await fleet.control.endSessions(1);
      await fleet.control.openSessions(1);
      churned++;
      await sleep(500);
    }
    await drain;
    const drainedMs = Date.now() - t0;
    if (failed !== undefined) throw failed;

    await fleet.control.heldBy(sessions);
    const end = await fleet.control.state();
    // No conversation cut: no pod stopped while it held a session or a stream.
    expect(end.totals.cutSessions).toBe(0);
    expectNoConversationEnded(end);
    // Every pod of the node was evicted and went, within the drain timeout, none of the fleet is left there.
    expect(records!.map((r) => r.pod).sort()).toEqual(onNode.map((p) => p.metadata.name ?? '').sort());
    expect((await fleetPods()).filter((p) => nodeOf(p) === DRAINED)).toEqual([]);
    // The PDBs refused kubectl's evictions (429) while the operator moved the pods itself.
    const refusedOf = (component: string) => records!.filter((r) => onNode.find((p) => p.metadata.name === r.pod && componentOf(p) === component)).reduce((n, r) => n + r.refused, 0);
    expect(refusedOf('backend')).toBeGreaterThan(0);
    expect(refusedOf('stt')).toBeGreaterThan(0);
    // Replacement first: the Service never had fewer ready backends than the fleet's two, and the
    // node's pods left only once empty (none reached its preStop still holding work).
    expect(fewestBackendEndpoints).toBeGreaterThanOrEqual(2);
    expect(fewestStt).toBeGreaterThanOrEqual(2);
    expect([...enteredWith.values()].every((n) => n === 0)).toBe(true);
    const replaced = (await fleetPods()).filter((p) => ['backend', 'stt'].includes(componentOf(p) ?? '') && p.metadata.deletionTimestamp == null);
    expect(replaced.filter((p) => componentOf(p) === 'backend')).toHaveLength(2);
    expect(replaced.filter((p) => componentOf(p) === 'stt')).toHaveLength(2);
    const summary = records!.map((r) => `${r.pod}: ${r.refused} refused, evicted +${(((r.evictedAtMs ?? t0) - t0) / 1000).toFixed(1)} s, gone +${(((r.goneAtMs ?? t0) - t0) / 1000).toFixed(1)} s`);
    process.stdout.write(`[node-drain] ${DRAINED} drained in ${(drainedMs / 1000).toFixed(1)} s under ${sessions} sessions (${churned} hang-up/call pairs); seen in preStop holding ${[...enteredWith].map(([p, n]) => `${p}=${n}`).join(', ')}:\n  ${summary.join('\n  ')}\n`);
  }, 300_000);
});
