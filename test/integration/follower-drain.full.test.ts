// STT shrinks by draining, under load, with the whole pipeline simulated: three STT pods each hold
// live streams (one per session, for the session's whole life); the load then asks for one STT
// pod. The two emptiest leave the headless Service (new sessions reach only the one left), keep
// their streams, and are removed only once those streams ended: no session is cut (an STT stream
// lost mid-session closes the session with 1011 in Unmute).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVING } from '../../src/api/v1alpha1/labels.ts';
import { operatorFleet } from '../../src/sim/fleet/fleets.ts';
import type { FleetControlState } from '../../src/sim/fleet/control.ts';
import { createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { expectNoConversationEnded, kube, sleep, startFleetUnderTest, withSttFollower, type FleetUnderTest, type LooseUmd, type Pod } from './autoscaling-support.ts';

const NAME = 'sttd';
const STT_SLOTS = 32;
// Backends aim at 2 sessions of 4 (room for the next caller while one more starts); at 100 % of 32
// slots, one STT pod suffices for up to 32 sessions and 16 backends: the load asks for 1 while three run.
const SHAPE = { minReplicas: 1, maxReplicas: 12, targetSessionsPerPod: 2, maxSessionsPerPod: 4, podStartDelay: '0s', gpuStartDelay: '1s' };
// A long window at first, so the three STT pods stay while they fill; shortened to start the shrink.
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 600, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };
/** A session still connecting this long after its call is waiting for a slot on a full backend. */
const WAITING_AFTER_MS = 3000;
const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;

type Services = FleetControlState['services'];
const sttOf = (s: FleetControlState): Services => s.services.filter((w) => w.component === 'stt' && w.state !== 'stopped');
const channels = (w: Services[number]) => w.stats?.openChannels ?? 0;

describe('STT shrinks from 3 to 1 under load without cutting a stream', () => {
  const k = kube();
  let ns = '';
  let fleet: FleetUnderTest;

  beforeAll(async () => {
    ns = await createNamespace('stt-drain');
    fleet = await startFleetUnderTest(ns, NAME, { pipeline: true });
    const umd = operatorFleet(NAME, ns, SHAPE, TIMING, { pipeline: true }) as unknown as LooseUmd;
    withSttFollower(umd, 3, STT_SLOTS);
    await k.createUmd(umd as never);
    await waitFor('three STT pods, a TTS, a vLLM and a backend running', async () => {
      const s = await fleet.control.state();
      const up = s.services.filter((w) => w.state === 'running');
      return s.endpoints.length >= 1 && up.filter((w) => w.component === 'stt').length === 3 && up.some((w) => w.component === 'tts') && up.some((w) => w.component === 'llm') ? s : undefined;
    }, { timeoutMs: 90_000 });
    await sleep(1500); // the STT EndpointSlice reaches the backends' resolver
  }, 150_000);

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
  });

  it('drains the two emptiest STT pods, sends new streams to the one left, and removes each only after its streams ended', async () => {
    // Sessions one at a time until every STT pod holds a stream (the backend picks an STT address at
    // random). A caller that finds no backend in rotation for a moment (one full, the next starting)
    // is refused by the client and simply not counted.
    for (let i = 0; i < 30; i++) {
      const s = await fleet.control.state();
      if (sttOf(s).length === 3 && sttOf(s).every((w) => channels(w) > 0)) break;
      await fleet.control.openSessions(1);
      const calledAt = Date.now();
      await waitFor('the session settled: its STT stream open, refused, or waiting for a slot', async () => {
        const st = await fleet.control.state();
        const streams = sttOf(st).reduce((n, w) => n + channels(w), 0);
        // A caller that reached a backend as it filled waits there for a slot (Unmute's queue)
        // until a session on it ends, which none does here: after a few seconds it counts as settled.
        const waiting = Date.now() - calledAt > WAITING_AFTER_MS ? st.sessions.connecting : 0;
        if (st.sessions.connecting === waiting && streams === st.sessions.open) return st;
        throw new Error(`connecting ${st.sessions.connecting}, open ${st.sessions.open}, held ${st.sessions.held}, STT streams ${sttOf(st).map((w) => `${w.pod}=${channels(w)}`).join(' ')}, outcomes ${JSON.stringify(st.sessions.outcomes)}, closes ${JSON.stringify(st.sessions.closeReasons)}`);
      }, { timeoutMs: 20_000 });
      await sleep(300);
    }
    const loaded = await fleet.control.state();
    expect(sttOf(loaded).map(channels).every((c) => c > 0)).toBe(true);

    // The shrink: a short window now, and the load asks for one STT pod.
    await (await kubeClient()).patch(UMD, NAME, ns, { spec: { autoscaling: { scaleDownStabilizationSeconds: 2 } } }, 'merge');
    const drained = await waitFor('two STT pods draining', async () => {
      const pods = (await (await kubeClient()).list<Pod>(POD, { namespace: ns, labelSelector: `app.kubernetes.io/instance=${NAME},app.kubernetes.io/component=stt` })).items;
      const out = pods.filter((p) => p.metadata.labels?.['unmute.sh/serving'] === SERVING.draining && p.metadata.deletionTimestamp == null);
      return out.length === 2 ? out.map((p) => p.metadata.name ?? '') : undefined;
    }, { timeoutMs: 30_000 });
    const atDrain = await fleet.control.state();
    const byPod = new Map(sttOf(atDrain).map((w) => [w.pod, channels(w)]));
    // The emptiest two drained, each still holding streams; the busiest serves on.
    const kept = sttOf(atDrain).find((w) => !drained.includes(w.pod))!;
    expect(drained.every((p) => (byPod.get(p) ?? 0) > 0)).toBe(true);
    expect(drained.every((p) => (byPod.get(p) ?? 0) <= channels(kept))).toBe(true);
    expect(await k.replicas(ns, `${NAME}-stt`)).toBe(3);

    // A session opened now gets its STT stream on the pod left in the Service.
    await sleep(1500); // the endpoint removal reaches the backends' resolver
    const before = await fleet.control.state();
    await fleet.control.openSessions(2);
    const after = await waitFor('two more streams', async () => {
      const st = await fleet.control.state();
      return sttOf(st).reduce((n, w) => n + channels(w), 0) === sttOf(before).reduce((n, w) => n + channels(w), 0) + 2 ? st : undefined;
    }, { timeoutMs: 20_000 });
    for (const p of drained) expect(channels(sttOf(after).find((w) => w.pod === p)!)).toBe(byPod.get(p));
    expect(channels(sttOf(after).find((w) => w.pod === kept.pod)!)).toBe(channels(sttOf(before).find((w) => w.pod === kept.pod)!) + 2);

    // Sessions end one by one; watch every drained STT pod until it is gone: the last reading seen
    // before it went must be 0 streams, and it must go within seconds of emptying.
    const lastSeen = new Map<string, number>();
    const emptiedAt = new Map<string, number>();
    const goneAt = new Map<string, number>();
    let ending = true;
    const ender = (async () => {
      while (ending) {
        await fleet.control.endSessions(1);
        await sleep(700);
      }
    })();
    await waitFor('both drained STT pods removed', async () => {
      const st = await fleet.control.state();
      const now = Date.now();
      for (const p of drained) {
        const w = sttOf(st).find((x) => x.pod === p);
        if (w === undefined) {
          if (!goneAt.has(p)) goneAt.set(p, now);
          continue;
        }
        lastSeen.set(p, channels(w));
        if (channels(w) === 0 && !emptiedAt.has(p)) emptiedAt.set(p, now);
      }
      return drained.every((p) => goneAt.has(p)) ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 100 });
    ending = false;
    await ender;

    for (const p of drained) {
      expect(lastSeen.get(p)).toBe(0);
      expect(goneAt.get(p)! - emptiedAt.get(p)!).toBeLessThan(15_000);
    }
    await waitFor('STT at one replica', async () => ((await k.replicas(ns, `${NAME}-stt`)) === 1 ? true : undefined), { timeoutMs: 20_000 });
    const end = await fleet.control.state();
    expectNoConversationEnded(end);
    const events = await k.events(ns);
    expect(events.some((e) => e.reason === 'DrainStarted' && /stt/.test(e.message ?? ''))).toBe(true);
  }, 300_000);
});
