// Session-aware autoscaling end to end: the operator process reads every backend's
// worker_active_sessions from simulated backends (sim-workers on the pod IPs, inside the cluster's
// network namespace), scales up on load, scales down only by draining the pod with the fewest
// sessions, removes it only when empty, and never scales down on missing metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorFleet, operatorFleetTargets } from '../../src/sim/fleet/fleets.ts';
import { createNamespace, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { draining, kube, serving, sleep, startFleetUnderTest, type FleetUnderTest } from './autoscaling-support.ts';

const NAME = 'scale';
const SHAPE = { minReplicas: 2, maxReplicas: 6, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '0s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 4, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };

describe('session-aware autoscaling on a simulated fleet', () => {
  const k = kube();
  const deployment = operatorFleetTargets(NAME).deployment;
  let ns = '';
  let fleet: FleetUnderTest;

  beforeAll(async () => {
    ns = await createNamespace('as-scale');
    fleet = await startFleetUnderTest(ns, NAME);
    await k.createUmd(operatorFleet(NAME, ns, SHAPE, TIMING));
    await waitFor('2 serving backends with running sim-workers', async () => {
      const s = await fleet.control.state();
      return s.endpoints.length === 2 && s.workers.filter((w) => w.state === 'running').length === 2;
    }, { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
  });

  it('scales up when the sessions need more backends', async () => {
    await fleet.control.openSessions(6);
    await fleet.control.heldBy(6);
    await sleep(2500);
    expect(await k.replicas(ns, deployment)).toBe(2); // 6 sessions fit 2 backends at 3 per pod
    await fleet.control.openSessions(1);
    // Counted as running backends, not Service endpoints: a backend holding 4 sessions is full and
    // out of rotation (load-aware routing), so endpoints undercount the fleet.
    await waitFor('3 running backends', async () => (await fleet.control.state()).workers.filter((w) => w.state === 'running').length === 3, { timeoutMs: 20_000 });
    expect(await k.replicas(ns, deployment)).toBe(3);
    // A backend just started may miss one read: the status settles on every backend read.
    const status = await waitFor('status with 7 active sessions, every backend read', async () => {
      const st = await k.status(ns, NAME);
      return st.sessions?.active === 7 && st.conditions?.find((c) => c.type === 'MetricsAvailable')?.status === 'True' ? st : undefined;
    }, { timeoutMs: 15_000 });
    expect(status.sessions?.unknownPods).toBe(0);
    expect((await k.events(ns)).some((e) => e.reason === 'ScaledUp')).toBe(true);
  });

  it('scales down only by draining the backend with the fewest sessions, removed once empty', async () => {
    // Two more sessions land on the new backend (least connections): 9 sessions on 3 backends.
    await fleet.control.openSessions(2);
    const held = await fleet.control.heldBy(9);
    const state = await fleet.control.state();
    expect(state.workers.filter((w) => w.state === 'running')).toHaveLength(3);
    // Leave 3 + 2 + 1 sessions: 6 sessions need 2 backends; the one holding 1 must be drained.
    const urls = state.workers.map((w) => `http://${w.ip}:${w.port}`).sort((a, b) => (held[b] ?? 0) - (held[a] ?? 0));
    const keep = [3, 2, 1];
    for (let i = 0; i < 3; i++) {
      const have = held[urls[i]!] ?? 0;
      if (have < keep[i]!) throw new Error(`backends hold ${JSON.stringify(held)}: cannot leave ${keep.join('/')}`);
      if (have > keep[i]!) await fleet.control.endSessions(have - keep[i]!, urls[i]);
    }
    const lightest = urls[2]!;
    const lightestPod = state.workers.find((w) => `http://${w.ip}:${w.port}` === lightest)!.pod;

    const drained = await waitFor('one backend draining', async () => {
      const d = (await k.backendPods(ns, NAME)).filter(draining);
      return d.length === 1 ? d[0]! : undefined;
    }, { timeoutMs: 20_000 });
    expect(drained.metadata?.name).toBe(lightestPod);
    expect(drained.metadata?.annotations?.['unmute.sh/draining-since']).toBeTruthy();
    expect(Number(drained.metadata?.annotations?.['controller.kubernetes.io/pod-deletion-cost'])).toBeLessThan(0);
    await waitFor('the drained backend out of the endpoints', async () => !(await fleet.control.state()).endpoints.includes(lightest), { timeoutMs: 10_000 });

    // While its conversation lasts, the drained pod stays.
    await sleep(5000);
    expect((await k.backendPods(ns, NAME)).map((p) => p.metadata?.name)).toContain(lightestPod);
    expect((await k.status(ns, NAME)).drainingPods).toEqual([lightestPod]);
    expect((await k.backendPods(ns, NAME)).filter(serving)).toHaveLength(2);

    // The user hangs up: the pod goes, the others stay.
    await fleet.control.endSessions(1, lightest);
    await waitFor('the drained backend removed', async () => {
      const names = (await k.backendPods(ns, NAME)).filter((p) => p.metadata?.deletionTimestamp == null).map((p) => p.metadata?.name);
      return !names.includes(lightestPod) && names.length === 2 ? true : undefined;
    }, { timeoutMs: 20_000 });
    expect(await k.replicas(ns, deployment)).toBe(2);
    const after = await fleet.control.state();
    expect(after.sessions.closeCodes['1012'] ?? 0).toBe(0);
    expect(after.sessions.outcomes['dropped'] ?? 0).toBe(0);
    expect(after.totals.cutSessions).toBe(0);
    expect(after.sessions.open).toBe(5);
    // Events are recorded asynchronously: the pod can be gone before DrainCompleted is written.
    const events = await waitFor('a DrainCompleted event', async () => {
      const ev = await k.events(ns);
      return ev.some((e) => e.reason === 'DrainCompleted') ? ev : undefined;
    }, { timeoutMs: 10_000 });
    expect(events.some((e) => e.reason === 'DrainStarted' && e.message?.includes(lightestPod))).toBe(true);
  });

  it('never scales down while the backends cannot be read, and says so', async () => {
    // Up to 4 backends (11 sessions), then the load goes away and the metrics with it.
    await fleet.control.openSessions(6);
    await waitFor('4 running backends', async () => (await fleet.control.state()).workers.filter((w) => w.state === 'running').length === 4, { timeoutMs: 30_000 });
    await fleet.control.endSessions(100);
    await sleep(1000);
    await fleet.control.suspend();
    const cond = await waitFor('MetricsAvailable=False', async () => {
      const c = await k.condition(ns, NAME, 'MetricsAvailable');
      return c?.status === 'False' ? c : undefined;
    }, { timeoutMs: 15_000 });
    expect(cond.reason).toBe('SessionsUnknown');
    expect(cond.message).toMatch(/scale-down held/);
    // Well past the stabilisation window: no drain, no fewer replicas.
    await sleep((TIMING.scaleDownStabilizationSeconds + 6) * 1000);
    expect(await k.replicas(ns, deployment)).toBe(4);
    expect((await k.backendPods(ns, NAME)).filter(draining)).toHaveLength(0);
    expect((await k.events(ns)).some((e) => e.reason === 'MetricsUnavailable' && e.type === 'Warning')).toBe(true);

    // Metrics back: the idle fleet shrinks to its minimum, by draining empty pods.
    await fleet.control.resume();
    await waitFor('MetricsAvailable=True', async () => (await k.condition(ns, NAME, 'MetricsAvailable'))?.status === 'True', { timeoutMs: 15_000 });
    await waitFor('back to 2 backends', async () => (await k.replicas(ns, deployment)) === 2, { timeoutMs: 30_000 });
    const s = await fleet.control.state();
    expect(s.sessions.closeCodes['1012'] ?? 0).toBe(0);
  });
});
