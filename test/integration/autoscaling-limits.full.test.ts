// Limits the autoscaler must respect and say: the fleet's GPU budget (spec.gpu.maxTotal) stops a
// scale-up with ScalingLimited/GpuBudget, and a Prometheus that cannot be reached never lets the
// fleet shrink (MetricsAvailable=False with a reason, and an Event).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorFleet, operatorFleetTargets } from '../../src/sim/fleet/fleets.ts';
import { createNamespace, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { draining, kube, sleep, startFleetUnderTest, startOperatorProcess, type FleetUnderTest } from './autoscaling-support.ts';
import type { NetnsProcess } from '../support/cluster.ts';

const SHAPE = { minReplicas: 1, maxReplicas: 8, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '0s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 3, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };

describe('the GPU budget', () => {
  const k = kube();
  const NAME = 'budget';
  const deployment = operatorFleetTargets(NAME).deployment;
  let ns = '';
  let fleet: FleetUnderTest;

  beforeAll(async () => {
    ns = await createNamespace('as-budget');
    fleet = await startFleetUnderTest(ns, NAME);
    // STT and TTS take 1 GPU each; TTS serves 8 streams and follows the load. Its pods run nothing
    // to read here, so it is sized on its floor from the backends: 2 backends × 3 sessions / (8 ×
    // 80 %) → 1 pod, 3 backends → 2 pods. With a budget of 2 GPUs, TTS stays at one replica and
    // the backends at 2.
    const cr = operatorFleet(NAME, ns, SHAPE, TIMING, { gpuMaxTotal: 2 });
    (cr.spec as Record<string, unknown>)['tts'] = { image: 'sim.invalid/moshi:sim', slotsPerReplica: 8 };
    (cr.spec['autoscaling'] as Record<string, unknown>)['followers'] = { stt: false, tts: true, llm: false };
    await k.createUmd(cr);
    await waitFor('1 serving backend with a running sim-worker', async () => {
      const s = await fleet.control.state();
      return s.endpoints.length === 1 && s.workers.some((w) => w.state === 'running');
    }, { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
  });

  it('stops the scale-up at what the budget allows and says why', async () => {
    // 9 sessions want 3 backends; the budget allows 2.
    await fleet.control.openSessions(4);
    await fleet.control.heldBy(4);
    await fleet.control.openSessions(5);
    const cond = await waitFor('ScalingLimited=True', async () => {
      const c = await k.condition(ns, NAME, 'ScalingLimited');
      return c?.status === 'True' ? c : undefined;
    }, { timeoutMs: 20_000 });
    expect(cond.reason).toBe('GpuBudget');
    expect(cond.message).toMatch(/GPU budget 2/);
    await sleep(3000);
    const decisions = () => fleet.operator.output().split('\n').filter((l) => l.includes('scaling decision')).slice(-8).join('\n');
    expect(await k.replicas(ns, deployment), `backend replicas; status ${JSON.stringify(await k.status(ns, NAME))}; the operator's last decisions:\n${decisions()}`).toBe(2);
    const status = await k.status(ns, NAME);
    expect(status.desiredReplicas).toBe(2);
    expect((await k.events(ns)).some((e) => e.reason === 'ScalingLimited' && e.type === 'Warning')).toBe(true);
    expect(await k.replicas(ns, operatorFleetTargets(NAME).deployment.replace('backend', 'tts'))).toBe(1);
  });
});

describe('session counts from a Prometheus that is not there', () => {
  const k = kube();
  const NAME = 'noprom';
  const deployment = operatorFleetTargets(NAME).deployment;
  let ns = '';
  let operator: NetnsProcess;

  beforeAll(async () => {
    ns = await createNamespace('as-noprom');
    operator = startOperatorProcess(ns);
    // Nothing listens on this port inside the network namespace.
    const cr = operatorFleet(NAME, ns, SHAPE, TIMING, { metrics: { source: 'Prometheus', prometheus: { url: 'http://127.0.0.1:9' }, timeoutSeconds: 1 } });
    cr.spec.backend.replicas = 3;
    await k.createUmd(cr);
  });

  afterAll(async () => {
    await operator?.stop();
    await stopNetnsProcesses();
  });

  it('holds the fleet as it is, with MetricsAvailable=False and a Warning event', async () => {
    const cond = await waitFor('MetricsAvailable=False', async () => {
      const c = await k.condition(ns, NAME, 'MetricsAvailable');
      return c?.status === 'False' ? c : undefined;
    }, { timeoutMs: 30_000 });
    expect(cond.reason).toBe('SessionsUnknown');
    expect(cond.message).toMatch(/scale-down held/);
    // No load at all, minReplicas 1, window 3 s: only the missing metrics keep the 3 backends.
    await sleep((TIMING.scaleDownStabilizationSeconds + 7) * 1000);
    expect(await k.replicas(ns, deployment)).toBe(3);
    expect((await k.backendPods(ns, NAME)).filter(draining)).toHaveLength(0);
    const events = await k.events(ns);
    expect(events.some((e) => e.reason === 'MetricsUnavailable' && e.type === 'Warning')).toBe(true);
    expect((await k.status(ns, NAME)).sessions?.unknownPods).toBe(3);
  });
});
