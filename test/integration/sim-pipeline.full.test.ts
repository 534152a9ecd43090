// The whole voice pipeline in the fleet simulation: the operator renders an UnmuteDeployment
// (backend, STT, TTS, vLLM); the pod runner plays every pod (sim-worker, moshi-server STT and TTS,
// vLLM on their pod IPs); a backend reaches the STT/TTS through the headless Services' ready
// endpoints as Unmute does. Each session holds an STT stream on the STT pod for its whole life and
// a TTS stream per reply; stopping the STT pod ends those sessions the way Unmute ends them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorFleet } from '../../src/sim/fleet/fleets.ts';
import { createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { kube, sleep, startFleetUnderTest, type FleetUnderTest } from './autoscaling-support.ts';

const NAME = 'pipe';
const SHAPE = { minReplicas: 1, maxReplicas: 1, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '0s', gpuStartDelay: '2s' };
const TIMING = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 4, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 60 };
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;

describe('the fleet simulation runs the whole pipeline', () => {
  const k = kube();
  let ns = '';
  let fleet: FleetUnderTest;

  beforeAll(async () => {
    ns = await createNamespace('sim-pipe');
    fleet = await startFleetUnderTest(ns, NAME, { pipeline: true });
    await k.createUmd(operatorFleet(NAME, ns, SHAPE, TIMING, { pipeline: true }));
    await waitFor('a backend, STT, TTS and vLLM running', async () => {
      const s = await fleet.control.state();
      const up = new Set(s.services.filter((w) => w.state === 'running').map((w) => w.component));
      return s.endpoints.length === 1 && up.has('stt') && up.has('tts') && up.has('llm') ? s : undefined;
    }, { timeoutMs: 90_000 });
    await sleep(1500); // the STT/TTS EndpointSlices reach the backends' resolver
  });

  afterAll(async () => {
    await fleet?.stop();
    await stopNetnsProcesses();
  });

  it('holds an STT stream on the STT pod per session and a TTS stream per reply; stopping the STT pod ends them with 1011', async () => {
    await fleet.control.openSessions(3);
    await fleet.control.heldBy(3);
    const s = await waitFor('3 STT streams and a TTS stream per greeting', async () => {
      const st = await fleet.control.state();
      const stt = st.services.find((w) => w.component === 'stt');
      const tts = st.services.find((w) => w.component === 'tts');
      return stt?.stats?.openChannels === 3 && (tts?.stats?.sessionsTotal ?? 0) >= 3 ? st : undefined;
    }, { timeoutMs: 30_000 });
    const stt = s.services.find((w) => w.component === 'stt')!;
    // asr_open_channels of the STT pod = the sessions routed to it (all three: one STT pod).
    expect(stt.stats!.openChannels).toBe(3);
    expect(s.sessions.open).toBe(3);

    await (await kubeClient()).delete(POD, stt.pod, ns, { gracePeriodSeconds: 0 });
    const ended = await waitFor('the sessions ended by the lost STT', async () => {
      const st = await fleet.control.state();
      return (st.sessions.closeCodes['1011'] ?? 0) === 3 ? st : undefined;
    }, { timeoutMs: 30_000 });
    expect(ended.sessions.closeReasons).toEqual({ '1011 Internal server error :( Complain to Kyutai': 3 });
    expect(ended.sessions.closeCodes['1012'] ?? 0).toBe(0);
  });
});
