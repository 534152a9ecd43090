// Load-aware routing with callers spread round robin over the backend Service's ready endpoints,
// as kube-proxy spreads them: a backend holding maxSessionsPerPod (4) conversations leaves the
// Service, so no new caller waits on it while others have free slots, and it takes new callers
// again once a slot frees. Round robin is what makes this fail without load-aware routing (the
// last test switches it off and shows the callers waiting). A slot wait is read on the backends:
// Unmute (the sim-worker) holds the upgrade of a caller beyond its slots, counted in `queued`.
// Seven fixed backends (autoscaling off, so nothing but routing moves); about a minute.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetControlState } from '../../src/sim/fleet/control.ts';
import { operatorFleet } from '../../src/sim/fleet/fleets.ts';
import { createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { kube, sleep, startFleetUnderTest, urlOf, type FleetUnderTest } from './autoscaling-support.ts';

const NAME = 'rr';
const BACKENDS = 7;
const SLOTS = 4;
const SHAPE = { minReplicas: BACKENDS, maxReplicas: BACKENDS, targetSessionsPerPod: SLOTS, maxSessionsPerPod: SLOTS, podStartDelay: '0s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 4, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };
const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
/** Generous for a loaded 2-core machine; a caller waiting for a slot would wait as long as a conversation. */
const UPGRADE_BOUND_MS = 2_000;

interface Backend {
  pod: string;
  url: string;
  running: number;
  queued: number;
  total: number;
}

const backendsOf = (s: FleetControlState): Map<string, Backend> =>
  new Map(
    s.workers
      .filter((w) => w.state === 'running' && w.stats !== undefined)
      .map((w) => [w.pod, { pod: w.pod, url: urlOf(s, w.pod)!, running: w.stats!.running, queued: w.stats!.queued, total: w.stats!.sessionsTotal }]),
  );

const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: Math.round(s[Math.floor(s.length / 2)]!), max: Math.round(s[s.length - 1]!) };
};

describe('load-aware routing with round-robin callers', () => {
  const k = kube();
  let ns = '';
  let fleet: FleetUnderTest;
  let full: Backend;
  const figures: Record<string, unknown> = {};

  const state = () => fleet.control.state();
  const label = async (pod: string) => (await k.backendPods(ns, NAME)).find((p) => p.metadata.name === pod)?.metadata.labels?.['unmute.sh/serving'];

  /** Waits until the Service lists exactly the backends with a free slot (and reports them). */
  const rotationSettled = () =>
    waitFor('the Service listing exactly the backends with a free slot', async () => {
      const s = await state();
      const free = [...backendsOf(s).values()].filter((b) => b.running + b.queued < SLOTS).map((b) => b.url).sort();
      return JSON.stringify([...s.endpoints].sort()) === JSON.stringify(free) ? s : undefined;
    }, { timeoutMs: 20_000, intervalMs: 100 });

  /** Opens `count` sessions round robin; resolves with their upgrade times once all are open (or the deadline passed). */
  const roundRobin = async (count: number, timeoutMs = 20_000) => {
    const { ids } = await fleet.control.openSessions(count);
    const s = await waitFor(`${count} sessions open`, async () => {
      const st = await state();
      return ids.every((id) => st.sessions.items.find((i) => i.id === id)?.opened) ? st : undefined;
    }, { timeoutMs });
    return { state: s, upgradeMs: s.sessions.items.filter((i) => ids.includes(i.id)).map((i) => i.upgradeMs!) };
  };

  beforeAll(async () => {
    ns = await createNamespace('routing');
    fleet = await startFleetUnderTest(ns, NAME, { strategy: 'round-robin' });
    const cr = operatorFleet(NAME, ns, SHAPE, TIMING);
    // Autoscaling off: the backends stay as they are, only their rotation changes.
    await k.createUmd({ ...cr, spec: { ...cr.spec, backend: { ...cr.spec.backend, replicas: BACKENDS }, autoscaling: { enabled: false, intervalSeconds: 1, metricsStaleSeconds: 3 } } });
    await waitFor(`${BACKENDS} backends running and in the Service`, async () => {
      const s = await state();
      return s.endpoints.length === BACKENDS && backendsOf(s).size === BACKENDS ? s : undefined;
    }, { timeoutMs: 90_000 });
  });

  afterAll(async () => {
    await fleet?.control.endSessions(500).catch(() => undefined);
    await fleet?.stop();
    await stopNetnsProcesses();
    process.stderr.write(`[routing] ${JSON.stringify(figures)}\n`);
  });

  it('takes a backend holding 4 conversations out of the Service', async () => {
    full = [...backendsOf(await state()).values()][0]!;
    await fleet.control.openSessions(SLOTS, { url: full.url });
    const t0 = Date.now();
    await waitFor('the backend labelled full', async () => (await label(full.pod)) === 'full', { timeoutMs: 15_000, intervalMs: 100 });
    const s = await waitFor('the backend out of the Service', async () => {
      const st = await state();
      return st.endpoints.includes(full.url) ? undefined : st;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    figures['fullToOutOfServiceMs'] = Date.now() - t0;
    expect(s.endpoints).toHaveLength(BACKENDS - 1);
    expect(backendsOf(s).get(full.pod)).toMatchObject({ running: SLOTS, queued: 0 });
  });

  it('starts 20 new round-robin sessions at once, none of them waiting, none on the full backend', async () => {
    const before = backendsOf(await state());
    const { state: s, upgradeMs } = await roundRobin(20);
    const after = backendsOf(s);
    figures['burst20UpgradeMs'] = summary(upgradeMs);
    expect(after.get(full.pod)).toMatchObject({ running: SLOTS, queued: 0, total: before.get(full.pod)!.total });
    expect([...after.values()].map((b) => b.queued)).toEqual(Array(BACKENDS).fill(0));
    expect([...after.values()].reduce((n, b) => n + b.running, 0)).toBe(SLOTS + 20);
    expect(Math.max(...upgradeMs)).toBeLessThan(UPGRADE_BOUND_MS);
    expect(s.sessions.connecting).toBe(0);
  });

  it('sends new sessions to the full backend again once one of its conversations ends', async () => {
    await fleet.control.endSessions(1, full.url);
    const t0 = Date.now();
    await waitFor('the backend back in the Service', async () => (await state()).endpoints.includes(full.url), { timeoutMs: 15_000, intervalMs: 100 });
    figures['slotFreedToInServiceMs'] = Date.now() - t0;
    const settled = await rotationSettled();
    expect(await label(full.pod)).toBe('true');
    // Every backend in the Service has one free slot: as many sessions as backends, one each.
    const before = backendsOf(settled);
    const { state: s, upgradeMs } = await roundRobin(settled.endpoints.length);
    const after = backendsOf(s);
    figures['refillUpgradeMs'] = summary(upgradeMs);
    expect(after.get(full.pod)).toMatchObject({ running: SLOTS, queued: 0, total: before.get(full.pod)!.total + 1 });
    expect([...after.values()].map((b) => b.queued)).toEqual(Array(BACKENDS).fill(0));
    expect(Math.max(...upgradeMs)).toBeLessThan(UPGRADE_BOUND_MS);
  });

  it('without load-aware routing, the full backends are back in the Service and round-robin callers wait on them', async () => {
    // Every backend holds 4 now; switching load-aware routing off must put them all back.
    await (await kubeClient()).patch(UMD, NAME, ns, { spec: { backend: { routing: { loadAware: false } } } }, 'merge');
    await waitFor('every backend back in the Service', async () => (await state()).endpoints.length === BACKENDS, { timeoutMs: 15_000, intervalMs: 100 });
    const { ids } = await fleet.control.openSessions(BACKENDS);
    await sleep(3_000);
    const s = await state();
    // One caller per backend, each waiting for a slot on a backend that holds 4 conversations.
    expect([...backendsOf(s).values()].map((b) => b.queued)).toEqual(Array(BACKENDS).fill(1));
    expect(s.sessions.items.filter((i) => ids.includes(i.id) && i.opened)).toEqual([]);
    expect(s.sessions.connecting).toBe(BACKENDS);
  });
});
