// Load-aware routing through a real gateway: Traefik (scripts/cluster/traefik.ts) serves a Gateway,
// the operator attaches the fleet's HTTPRoute to it (spec.exposure.gateway), and the simulated
// callers dial the gateway's /api, as browsers reach Unmute. Traefik follows the backend Service's
// EndpointSlices; the serving label takes full and draining backends out of them. Sessions reach
// sim-workers only if the /api prefix was replaced (a sim-worker refuses any other websocket path);
// a full or draining backend must get no new session through the gateway, and the conversations it
// holds must go on. Where each session landed is read on the backends (their sessions counters):
// through a gateway, the clients only know the gateway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterRef } from '../../scripts/cluster/addons.ts';
import { startTraefik, type Traefik } from '../../scripts/cluster/traefik.ts';
import type { FleetControlState } from '../../src/sim/fleet/control.ts';
import { operatorFleet, operatorFleetTargets } from '../../src/sim/fleet/fleets.ts';
import { clusterInfo, createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { kube, sleep, startFleetUnderTest, urlOf, type FleetUnderTest } from './autoscaling-support.ts';

const NAME = 'gw';
// Three backends held by minReplicas = maxReplicas; the drain comes from lowering both to 2.
const SHAPE = { minReplicas: 3, maxReplicas: 3, targetSessionsPerPod: 4, maxSessionsPerPod: 4, podStartDelay: '0s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 4, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };
const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
const HTTP_ROUTE = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' } as const;

interface Backend {
  pod: string;
  url: string;
  running: number;
  queued: number;
  total: number;
}

const backendsOf = (s: FleetControlState): Backend[] =>
  s.workers
    .filter((w) => w.state === 'running' && w.stats !== undefined)
    .map((w) => ({ pod: w.pod, url: urlOf(s, w.pod)!, running: w.stats!.running, queued: w.stats!.queued, total: w.stats!.sessionsTotal }));

describe('load-aware routing through a real gateway (Traefik, Gateway API)', () => {
  const k = kube();
  const service = operatorFleetTargets(NAME).service;
  let traefik: Traefik;
  let ns = '';
  let fleet: FleetUnderTest;
  let gatewayUrl = '';
  /** How long Traefik took to stop balancing over a backend after its label changed, per transition. */
  const lag: Record<string, number> = {};

  const backends = async () => backendsOf(await fleet.control.state());
  const byPod = (list: Backend[]) => new Map(list.map((b) => [b.pod, b]));
  const label = async (pod: string) => (await k.backendPods(ns, NAME)).find((p) => p.metadata.name === pod)?.metadata.labels?.['unmute.sh/serving'];

  /** Opens `count` sessions at the gateway and waits until every one is past its upgrade. */
  const throughGateway = async (count: number) => {
    const { ids } = await fleet.control.openSessions(count);
    const s = await waitFor(`${count} sessions open through the gateway`, async () => {
      const st = await fleet.control.state();
      return ids.every((id) => st.sessions.items.find((i) => i.id === id)?.opened) ? st : undefined;
    }, { timeoutMs: 20_000 });
    return { state: s, upgradeMs: s.sessions.items.filter((i) => ids.includes(i.id)).map((i) => i.upgradeMs!) };
  };

  /** Waits until Traefik no longer balances over `url`; returns how long that took from `since`. */
  const outOfGateway = async (url: string, since: number) => {
    await waitFor(`Traefik to stop balancing over ${url}`, async () => !(await traefik.servers(ns, service)).includes(url), { timeoutMs: 20_000, intervalMs: 100 });
    return Date.now() - since;
  };

  beforeAll(async () => {
    traefik = await startTraefik(clusterRef(clusterInfo().name), { log: (m) => process.stderr.write(`[traefik] ${m}\n`) });
    gatewayUrl = `${traefik.url}/api`;
    ns = await createNamespace('gw-route');
    fleet = await startFleetUnderTest(ns, NAME, { targetUrl: gatewayUrl });
    const cr = operatorFleet(NAME, ns, SHAPE, TIMING);
    await k.createUmd({ ...cr, spec: { ...cr.spec, exposure: { gateway: { parentRefs: [{ name: traefik.gateway.name, namespace: traefik.gateway.namespace }] } } } });
    const s = await waitFor('3 backends running and in the Service', async () => {
      const st = await fleet.control.state();
      return st.endpoints.length === 3 && backendsOf(st).length === 3 ? st : undefined;
    }, { timeoutMs: 90_000 });
    await traefik.waitForRoute(ns, NAME);
    const urls = backendsOf(s).map((b) => b.url).sort();
    await waitFor('Traefik balancing over the 3 backends', async () => JSON.stringify(await traefik.servers(ns, service)) === JSON.stringify(urls), { timeoutMs: 20_000 });
  });

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
    await traefik?.stop();
    process.stderr.write(`[gateway-routing] Traefik lag after a label change (ms): ${JSON.stringify(lag)}\n`);
  });

  it('brings sessions opened at the gateway\'s /api/v1/realtime to the backends, the prefix replaced, with the route timeout disabled', async () => {
    const route = await (await kubeClient()).get<{ metadata: { name?: string }; spec: { rules: Array<{ timeouts?: unknown }> } } & { apiVersion: string; kind: string }>(HTTP_ROUTE, NAME, ns);
    // The run's Gateway API (v1.4.1) has rules[].timeouts: the operator set it, Traefik accepted the route.
    expect(route.spec.rules[0]!.timeouts).toEqual({ request: '0s' });
    const before = await backends();
    const { state, upgradeMs } = await throughGateway(3);
    const after = backendsOf(state);
    expect(after.reduce((n, b) => n + b.running, 0)).toBe(3);
    expect(after.reduce((n, b) => n + b.total, 0) - before.reduce((n, b) => n + b.total, 0)).toBe(3);
    expect(state.sessions.items.every((i) => i.url === gatewayUrl)).toBe(true);
    expect(Math.max(...upgradeMs)).toBeLessThan(3_000);
  });

  it('sends no new session to a full backend, whose own conversations go on', async () => {
    const now = await backends();
    // The busiest backend (it holds a session from the gateway) is filled up directly.
    const full = [...now].sort((a, b) => b.running - a.running)[0]!;
    expect(full.running).toBeGreaterThan(0);
    const fromGateway = full.running;
    await fleet.control.openSessions(4 - full.running, { url: full.url });
    await waitFor('the backend full', async () => (await backends()).find((b) => b.pod === full.pod)?.running === 4, { timeoutMs: 15_000 });
    await waitFor('the backend labelled full', async () => (await label(full.pod)) === 'full', { timeoutMs: 15_000 });
    lag['full'] = await outOfGateway(full.url, Date.now());

    const before = byPod(await backends());
    const { state, upgradeMs } = await throughGateway(2);
    const after = byPod(backendsOf(state));
    expect(after.get(full.pod)).toMatchObject({ running: 4, queued: 0, total: before.get(full.pod)!.total });
    expect([...after.values()].every((b) => b.queued === 0)).toBe(true);
    expect(Math.max(...upgradeMs)).toBeLessThan(3_000);
    // Its conversations from the gateway go on: nothing was closed by a server.
    expect(fromGateway).toBeGreaterThan(0);
    expect(state.sessions.closeCodes).toEqual({});
    expect(state.sessions.open).toBe(state.sessions.held);
  });

  it('sends no new session to a draining backend, whose own conversations go on', async () => {
    const client = await kubeClient();
    await client.patch(UMD, NAME, ns, { spec: { autoscaling: { minReplicas: 2, maxReplicas: 2 } } }, 'merge');
    const drained = await waitFor('one backend draining', async () => {
      const d = (await k.backendPods(ns, NAME)).filter((p) => p.metadata.labels?.['unmute.sh/serving'] === 'false' && p.metadata.deletionTimestamp == null);
      return d.length === 1 ? d[0]!.metadata.name! : undefined;
    }, { timeoutMs: 30_000 });
    const since = Date.now();
    const d = (await backends()).find((b) => b.pod === drained)!;
    // The emptiest backend was drained; it holds conversations that came through the gateway.
    expect(d.running, 'the drained backend holds sessions from the gateway').toBeGreaterThan(0);
    lag['draining'] = await outOfGateway(d.url, since);

    const before = byPod(await backends());
    const { state } = await throughGateway(1);
    const after = byPod(backendsOf(state));
    expect(after.get(drained)).toMatchObject({ running: d.running, total: before.get(drained)!.total });
    const gained = [...after.values()].filter((b) => b.total > before.get(b.pod)!.total);
    expect(gained).toHaveLength(1);
    expect(await label(gained[0]!.pod)).toBe('true');
    // The drained backend keeps its conversations (drainTimeoutSeconds 600): still there a while later.
    await sleep(3_000);
    const later = await fleet.control.state();
    expect(byPod(backendsOf(later)).get(drained)?.running).toBe(d.running);
    expect(later.sessions.closeCodes).toEqual({});
    expect(later.totals.cutSessions).toBe(0);
    expect(later.sessions.open).toBe(later.sessions.held);
  });
});
