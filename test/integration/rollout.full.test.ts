// A rollout of two tiers at once, under load, with the whole pipeline simulated: the backend image
// and the STT image change while both backends hold conversations and both STT pods hold streams.
// The Deployments roll (maxUnavailable 0); a replaced pod leaves its Service as it starts
// terminating and its preStop waits for its own load to end (the fleet's pod runner plays the
// kubelet: KWOK's pod deletion is `external` for this file). Users keep calling and hanging up,
// oldest first, so the old pods empty. What must hold:
//   - no session is cut: no backend stopped with a session on it, no STT stopped with a stream,
//     no client saw 1011/1012/1006;
//   - a new pod takes new work as soon as it is ready, and a pod on its way out takes none;
//   - every old pod leaves empty;
//   - the GPU budget holds at every moment, sampled all along. Two budgets: the GPUs the fleet runs
//     + 1 (room for one surge pod: a replaced STT pod holds its GPU through its preStop, so the
//     next new STT pod must wait behind the budget gate), and exactly the GPUs it runs (no room to
//     surge: an old STT pod drains first, out of the Service, and its GPU goes to the new pod once
//     it is empty).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setKwokPodDeletion } from '../../scripts/cluster/faults.ts';
import { ANNOTATION_TEMPLATE_HASH } from '../../src/api/v1alpha1/labels.ts';
import { operatorFleet } from '../../src/sim/fleet/fleets.ts';
import { clusterInfo, createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { channels, expectNoConversationEnded, kube, loadEveryPod, sampleGpus, sleep, startFleetUnderTest, sttOf, urlOf, withSttFollower, type FleetUnderTest, type LooseUmd, type Pod } from './autoscaling-support.ts';

const NAME = 'roll';
const STT_SLOTS = 32;
// Two backends, held there (min = max): the rollout, not the autoscaler, is under test. Up to 8
// sessions each, so the STT pods (picked at random by each session) both get streams.
const SHAPE = { minReplicas: 2, maxReplicas: 2, targetSessionsPerPod: 4, maxSessionsPerPod: 8, podStartDelay: '0s', gpuStartDelay: '1s' };
// A long window: the STT tier (sized on its own load) keeps its two pods through the test.
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 600, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 120 };
// STT 2 + TTS 1 + vLLM 1 = 4 GPUs: with room for one pod more, and with none.
const CASES = [
  { title: 'room for one surge pod in the GPU budget', budget: 5, drainFirst: false },
  { title: 'no GPU room to surge (an old STT pod drains first)', budget: 4, drainFirst: true },
];
const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;

const cluster = clusterInfo().name;
// Once for the file, before any fleet's first pod: a restarted KWOK does not know which pod IPs are taken.
beforeAll(async () => {
  await setKwokPodDeletion(cluster, 'external');
}, 60_000);
afterAll(async () => {
  await setKwokPodDeletion(cluster, 'immediate').catch(() => undefined);
}, 60_000);

describe.each(CASES)('a backend and STT rollout under load, $title', ({ budget: GPU_BUDGET, drainFirst }) => {
  const k = kube();
  let ns = '';
  let fleet: FleetUnderTest;

  async function podsOf(component: string): Promise<Pod[]> {
    return (await (await kubeClient()).list<Pod>(POD, { namespace: ns, labelSelector: `app.kubernetes.io/instance=${NAME},app.kubernetes.io/component=${component}` })).items;
  }
  async function templateHash(component: string): Promise<string | undefined> {
    const d = await (await kubeClient()).get<Pod & { spec?: { template?: { metadata?: { annotations?: Record<string, string> } } } }>({ apiVersion: 'apps/v1', kind: 'Deployment' }, `${NAME}-${component}`, ns);
    return d.spec?.template?.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];
  }

  beforeAll(async () => {
    ns = await createNamespace('rollout');
    fleet = await startFleetUnderTest(ns, NAME, { pipeline: true });
    const umd = operatorFleet(NAME, ns, SHAPE, TIMING, { pipeline: true, gpuMaxTotal: GPU_BUDGET }) as unknown as LooseUmd;
    // TTS and vLLM stay at one pod each: only the tiers that roll change.
    withSttFollower(umd, 2, STT_SLOTS);
    await k.createUmd(umd as never);
    await waitFor('two backends, two STT pods, a TTS and a vLLM running', async () => {
      const s = await fleet.control.state();
      const up = s.services.filter((w) => w.state === 'running');
      return s.endpoints.length === 2 && up.filter((w) => w.component === 'stt').length === 2 && up.some((w) => w.component === 'tts') && up.some((w) => w.component === 'llm') ? s : undefined;
    }, { timeoutMs: 90_000 });
    await sleep(1500); // the STT EndpointSlice reaches the backends' resolver
  }, 150_000);

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
  }, 60_000);

  it('replaces every backend and STT pod without cutting a session, new pods serving at once, within the GPU budget', async () => {
    // Sessions one at a time until both backends hold sessions and both STT pods hold streams.
    const loaded = await loadEveryPod(fleet.control, { backends: 2, stt: 2, min: 4, max: 6 });
    expect(loaded.workers.filter((w) => (w.stats?.activeSessions ?? 0) > 0)).toHaveLength(2);
    expect(sttOf(loaded).map(channels).every((c) => c > 0)).toBe(true);
    const sessions = loaded.sessions.open;
    const oldBackends = new Set((await podsOf('backend')).map((p) => p.metadata.name ?? ''));
    const oldStt = new Set((await podsOf('stt')).map((p) => p.metadata.name ?? ''));
    const hashesBefore = { backend: await templateHash('backend'), stt: await templateHash('stt') };

    const gpus = sampleGpus(ns);
    const t0 = Date.now();
    await (await kubeClient()).patch(UMD, NAME, ns, { spec: { backend: { image: 'sim.invalid/unmute-backend:sim-v2' }, stt: { image: 'sim.invalid/moshi:sim-v2' } } }, 'merge');
    await waitFor('new pod templates', async () => ((await templateHash('backend')) !== hashesBefore.backend && (await templateHash('stt')) !== hashesBefore.stt ? true : undefined), { timeoutMs: 20_000 });

    // While old pods remain: every sample of the fleet's workers is checked.
    //  - a pod on its way out (preStop) never gains work;
    //  - every pod that stops was empty (the runner's cut counters stay 0, checked at the end);
    //  - a new backend, once in the Service, takes a caller at once (least connections: it is the emptiest).
    const outgoingLoad = new Map<string, number>(); // pod in preStop -> the least it held since
    const enteredWith = new Map<string, number>(); // pod in preStop -> what it held when first seen there
    const grew: string[] = [];
    let sawRollingOut = false;
    let newBackendServed = false;
    const attempts: string[] = [];
    let newSttServed = false;
    let churned = 0;
    const drainedFirst = new Map<string, number>(); // STT pod labelled serving=outdated -> the most streams it held since
    await waitFor('every old backend and STT pod gone', async () => {
      const st = await fleet.control.state();
      for (const w of [...st.workers, ...sttOf(st)]) {
        if (w.state !== 'prestop') continue;
        const load = w.component === 'stt' ? channels(w) : (w.stats?.activeSessions ?? 0);
        const before = outgoingLoad.get(w.pod);
        if (!enteredWith.has(w.pod)) enteredWith.set(w.pod, load);
        if (before !== undefined && load > before) grew.push(`${w.pod}: ${before} -> ${load}`);
        outgoingLoad.set(w.pod, before === undefined ? load : Math.min(before, load));
      }
      const newBackend = st.workers.find((w) => !oldBackends.has(w.pod) && w.state === 'running' && st.endpoints.includes(urlOf(st, w.pod) ?? ''));
      if (newBackend !== undefined && !newBackendServed) {
        // A caller now: it must land on the new backend, which is in the Service and the emptiest.
        // (A tie with an old backend emptied meanwhile may send it there: tried again next round.)
        const url = urlOf(st, newBackend.pod)!;
        const before = st.sessions.heldByUrl[url] ?? 0;
        await fleet.control.openSessions(1);
        try {
          await waitFor('the caller settled', async () => ((await fleet.control.state()).sessions.connecting === 0 ? true : undefined), { timeoutMs: 10_000 });
          const after = await fleet.control.state();
          newBackendServed = (after.sessions.heldByUrl[url] ?? 0) > before;
          attempts.push(`${url}: ${before} -> ${after.sessions.heldByUrl[url] ?? 0}; endpoints ${after.endpoints.join(' ')}; held ${JSON.stringify(after.sessions.heldByUrl)}`);
        } finally {
          await fleet.control.endSessions(1); // the oldest caller hangs up: the load stays as it was
        }
      }
      // Work on a new pod while an old pod of its tier still runs: new pods serve before the old ones are gone.
      if (sttOf(st).some((w) => oldStt.has(w.pod)) && sttOf(st).some((w) => !oldStt.has(w.pod) && channels(w) > 0)) newSttServed = true;
      const oldBackendRuns = st.workers.some((w) => oldBackends.has(w.pod) && w.state !== 'stopped');
      if (oldBackendRuns && st.workers.some((w) => !oldBackends.has(w.pod) && (st.sessions.heldByUrl[urlOf(st, w.pod) ?? ''] ?? 0) > 0)) newBackendServed = true;
      sawRollingOut ||= (await k.condition(ns, NAME, 'Progressing'))?.reason === 'RollingOut';
      const sttPods = await podsOf('stt');
      for (const p of sttPods.filter((x) => x.metadata.labels?.['unmute.sh/serving'] === 'outdated')) {
        const held = channels(sttOf(st).find((w) => w.pod === p.metadata.name) ?? { stats: undefined } as never);
        drainedFirst.set(p.metadata.name ?? '', Math.max(drainedFirst.get(p.metadata.name ?? '') ?? 0, held));
      }
      const live = [...(await podsOf('backend')), ...sttPods].map((p) => p.metadata.name ?? '');
      if (live.every((p) => !oldBackends.has(p) && !oldStt.has(p))) return true;
      // The oldest user hangs up and a new one calls: the old pods empty, the new ones fill.
      await fleet.control.endSessions(1);
      await fleet.control.openSessions(1);
      churned++;
      await sleep(400);
      return undefined;
    }, { timeoutMs: 180_000, intervalMs: 100 });
    const rolledMs = Date.now() - t0;
    const samples = await gpus.stop();

    await fleet.control.heldBy(sessions);
    const end = await fleet.control.state();
    // No conversation cut: no backend stopped holding a session, no STT pod stopped holding a stream.
    expect(end.totals.cutSessions).toBe(0);
    expectNoConversationEnded(end);
    // Old pods took no new work on their way out; new pods took it at once.
    expect(grew).toEqual([]);
    // The preStop waits were exercised: old pods were seen on their way out still holding work.
    expect([...enteredWith.values()].some((n) => n > 0)).toBe(true);
    expect(newBackendServed, attempts.join('\n')).toBe(true);
    expect(newSttServed).toBe(true);
    // The rollout used the one GPU of room and never more: the next STT pod waited at the gate.
    const over = samples.filter((s) => s.held > GPU_BUDGET);
    expect(over.map((s) => `${s.held}: ${s.holders.join(', ')}`)).toEqual([]);
    expect(samples.length).toBeGreaterThan(20);
    expect(Math.max(...samples.map((s) => s.held))).toBe(GPU_BUDGET);
    expect(samples.some((s) => s.gated > 0)).toBe(true);
    // Without room to surge, the operator said it drained an old STT pod first.
    // Without room to surge, the operator said it drained an old STT pod first, and that pod
    // still held streams while out of the Service: it waited for them (no stream was cut, above).
    if (drainFirst) {
      expect((await k.events(ns)).some((e) => e.reason === 'RolloutDrainFirst' && /stt/.test(e.message ?? ''))).toBe(true);
      expect([...drainedFirst.values()].some((n) => n > 0)).toBe(true);
    }
    // Every pod of both tiers runs the new template; the status said so while it lasted and after.
    expect(sawRollingOut).toBe(true);
    await waitFor('the rollout reported complete', async () => ((await k.events(ns)).some((e) => e.reason === 'RolloutCompleted') ? true : undefined), { timeoutMs: 30_000 });
    expect(sttOf(end).filter((w) => oldStt.has(w.pod))).toEqual([]);
    expect(end.workers.filter((w) => w.state !== 'stopped' && oldBackends.has(w.pod))).toEqual([]);
    process.stdout.write(`[rollout, budget ${GPU_BUDGET}] ${oldBackends.size} backends + ${oldStt.size} STT pods replaced in ${(rolledMs / 1000).toFixed(1)} s under ${sessions} sessions (${churned} hang-up/call pairs); GPUs held at most ${Math.max(...samples.map((s) => s.held))}/${GPU_BUDGET} over ${samples.length} samples; seen in preStop holding ${[...enteredWith].map(([p, n]) => `${p}=${n}`).join(', ')}; drained first holding ${[...drainedFirst].map(([p, n]) => `${p}=${n}`).join(', ') || '-'}\n`);
  }, 300_000);
});
