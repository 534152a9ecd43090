// The drain survives the operator: all drain state is on the pods (serving label, draining-since,
// deletion cost), so an operator killed with SIGKILL while a backend drains with a live session
// picks the drain up after its restart, keeps the pod until the session ends, and cuts nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorFleet, operatorFleetTargets } from '../../src/sim/fleet/fleets.ts';
import { createNamespace, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { draining, kube, serving, sleep, startFleetUnderTest, type FleetUnderTest } from './autoscaling-support.ts';

const NAME = 'restart';
const SHAPE = { minReplicas: 1, maxReplicas: 4, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '0s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 8, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };

describe('an operator killed mid-drain', () => {
  const k = kube();
  const deployment = operatorFleetTargets(NAME).deployment;
  let ns = '';
  let fleet: FleetUnderTest;

  beforeAll(async () => {
    ns = await createNamespace('as-restart');
    fleet = await startFleetUnderTest(ns, NAME);
    const cr = operatorFleet(NAME, ns, SHAPE, TIMING);
    cr.spec.backend.replicas = 2;
    await k.createUmd(cr);
    await waitFor('2 serving backends with running sim-workers', async () => {
      const s = await fleet.control.state();
      return s.endpoints.length === 2 && s.workers.filter((w) => w.state === 'running').length === 2;
    }, { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
  });

  it('resumes the drain after a restart and removes the pod only when its session ended', async () => {
    // 4 sessions (2 + 2) keep 2 backends; ending one leaves 3 = one backend's worth.
    await fleet.control.openSessions(4);
    const held = await fleet.control.heldBy(4);
    const [busy, light] = Object.keys(held) as [string, string];
    expect(held[busy]).toBe(2);
    expect(held[light]).toBe(2);
    await sleep(1500);
    expect(await k.replicas(ns, deployment)).toBe(2);
    await fleet.control.endSessions(1, light);

    const drained = await waitFor('the backend with one session draining', async () => {
      const d = (await k.backendPods(ns, NAME)).filter(draining);
      return d.length === 1 ? d[0]! : undefined;
    }, { timeoutMs: 20_000 });
    const pod = drained.metadata!.name!;
    const state = await fleet.control.state();
    expect(state.workers.find((w) => w.pod === pod)?.stats?.activeSessions).toBe(1);
    expect(`http://${drained.status?.podIP}:8000`).toBe(light);

    // SIGKILL: no graceful stop, nothing handed over but what is on the pods.
    await fleet.killOperator();
    await sleep(3000);
    fleet.startOperator();
    await fleet.operator.waitForOutput(/operator started/, 30_000);

    // The new operator keeps the drain: the pod stays out of service and is not removed.
    await sleep(6000);
    const pods = await k.backendPods(ns, NAME);
    expect(pods.filter(draining).map((p) => p.metadata?.name)).toEqual([pod]);
    expect(pods.filter(serving)).toHaveLength(1);
    expect(await k.replicas(ns, deployment)).toBe(2);
    expect((await fleet.control.state()).endpoints).not.toContain(light);

    // The conversation ends: the restarted operator removes the pod.
    await fleet.control.endSessions(1, light);
    await waitFor('the drained pod removed', async () => {
      const names = (await k.backendPods(ns, NAME)).filter((p) => p.metadata?.deletionTimestamp == null).map((p) => p.metadata?.name);
      return names.length === 1 && !names.includes(pod) ? true : undefined;
    }, { timeoutMs: 20_000 });
    expect(await k.replicas(ns, deployment)).toBe(1);
    const after = await fleet.control.state();
    expect(after.sessions.closeCodes['1012'] ?? 0).toBe(0);
    expect(after.totals.cutSessions).toBe(0);
    expect(after.sessions.open).toBe(2);
  });
});
