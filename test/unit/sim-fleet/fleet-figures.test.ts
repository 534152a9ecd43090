import { describe, expect, it } from 'vitest';
import { hpaDecide } from '../../../src/sim/fleet/hpa.ts';
import { idealReplicas, integrate, measureRun, reactionTo, type TimelineSample } from '../../../src/sim/fleet/measure.ts';
import { concurrencyAt, FULL_TRACE, planTrace, plannedConcurrency, QUICK_TRACE } from '../../../src/sim/fleet/trace.ts';
import { seededRng } from '../../../src/sim/random.ts';
import { gpuUse } from '../../../src/sim/fleet/scenario.ts';

const spec = { targetSessionsPerPod: 3, maxSessionsPerPod: 4, minReplicas: 2 };
const hpaSpec = { minReplicas: 2, maxReplicas: 20, targetSessionsPerPod: 3, scaleDownStabilizationMs: 30_000 };
const s = (tMs: number, pods: number, ready: number, sessions: number): TimelineSample => ({ tMs, pods, ready, sessions });

describe('the fleet trace', () => {
  it('is the same plan for the same seed, so both benchmark runs replay the same sessions', () => {
    const a = planTrace(QUICK_TRACE, { timeScale: 10, rng: seededRng(7) });
    const b = planTrace(QUICK_TRACE, { timeScale: 10, rng: seededRng(7) });
    expect(a).toEqual(b);
  });

  it('lasts at least 30 fleet-minutes in full and compresses into wall time', () => {
    const p = planTrace(FULL_TRACE, { timeScale: 10, rng: seededRng(1) });
    expect(FULL_TRACE.totalMs).toBeGreaterThanOrEqual(30 * 60_000);
    expect(p.totalMs).toBe(FULL_TRACE.totalMs / 10);
    expect(p.sessions.every((x) => x.atMs >= 0 && x.atMs < p.totalMs && x.durationMs >= 1000)).toBe(true);
  });

  it('follows the concurrency shape: base load, plateau, spike on top, back to the base', () => {
    const p = planTrace(FULL_TRACE, { timeScale: 10, rng: seededRng(3) });
    const at = (fleetMin: number) => plannedConcurrency(p.sessions, (fleetMin * 60_000) / 10);
    const shape = (fleetMin: number) => concurrencyAt(FULL_TRACE.points, fleetMin * 60_000);
    expect(Math.abs(at(14) - shape(14))).toBeLessThan(10);
    expect(at(17.5)).toBeGreaterThan(shape(17.5) + 8); // the spike
    expect(at(35)).toBeLessThan(15);
  });

  it('marks the spike as a load step in wall time', () => {
    const p = planTrace(QUICK_TRACE, { timeScale: 10, rng: seededRng(1) });
    expect(p.steps).toEqual([{ name: 'spike', atMs: 36_000, untilMs: 36_200 }]);
  });
});

describe('the HPA baseline formula', () => {
  it('scales up to ceil(current × avg / target) when outside the 10% tolerance', () => {
    const d = hpaDecide({ nowMs: 0, spec: hpaSpec, currentReplicas: 4, readings: [4, 4, 4, 4], history: [] });
    expect(d.replicas).toBe(6);
  });

  it('does nothing within the tolerance', () => {
    const d = hpaDecide({ nowMs: 0, spec: hpaSpec, currentReplicas: 10, readings: Array(10).fill(3.2), history: [] });
    expect(d.replicas).toBe(10);
  });

  it('limits one scale-up to max(+100%, +4 pods)', () => {
    const d = hpaDecide({ nowMs: 0, spec: hpaSpec, currentReplicas: 2, readings: [20, 20], history: [] });
    expect(d.replicas).toBe(6);
  });

  it('scales down only to the highest recommendation of the window', () => {
    const history = [{ atMs: 0, replicas: 8 }];
    expect(hpaDecide({ nowMs: 10_000, spec: hpaSpec, currentReplicas: 10, readings: Array(10).fill(0.3), history }).replicas).toBe(8);
    expect(hpaDecide({ nowMs: 40_000, spec: hpaSpec, currentReplicas: 10, readings: Array(10).fill(0.3), history }).replicas).toBe(2);
  });

  it('counts pods without a reading as empty', () => {
    const d = hpaDecide({ nowMs: 0, spec: hpaSpec, currentReplicas: 6, readings: [6, 6], history: [] });
    expect(d.replicas).toBe(4);
  });
});

describe('the benchmark figures', () => {
  it('sizes the ideal fleet at ceil(sessions / target), never below minReplicas', () => {
    expect(idealReplicas(0, spec)).toBe(2);
    expect(idealReplicas(7, spec)).toBe(3);
    expect(idealReplicas(30, spec)).toBe(10);
  });

  it('integrates a step function over the timeline in seconds', () => {
    expect(integrate([s(0, 2, 2, 0), s(1000, 4, 4, 0)], (x) => x.pods, 3000)).toBe(2 + 8);
  });

  it('measures the reaction to a step until the ready endpoints are what the load asks for', () => {
    const samples = [s(0, 2, 2, 6), s(1000, 2, 2, 12), s(2000, 4, 2, 12), s(5000, 4, 4, 12)];
    expect(reactionTo(samples, { name: 'spike', atMs: 500, untilMs: 1000 }, spec)).toEqual({ name: 'spike', seconds: 4.5, unresolved: false });
  });

  it('gives a reaction of 0 when capacity never fell short', () => {
    const samples = [s(0, 4, 4, 6), s(1000, 4, 4, 12), s(2000, 4, 4, 11)];
    expect(reactionTo(samples, { name: 'spike', atMs: 0, untilMs: 1000 }, spec).seconds).toBe(0);
  });

  it('counts as dropped only sessions the server closed with 1012', () => {
    const f = measureRun({
      samples: [s(0, 2, 2, 0)],
      sessions: [
        { outcome: 'dropped', closeCode: 1012, waitedMs: 0 },
        { outcome: 'dropped', closeCode: 1011, waitedMs: 0 },
        { outcome: 'completed', waitedMs: 1500 },
        { outcome: 'aborted', waitedMs: 0 },
      ],
      steps: [],
      spec,
      scaleEvents: 3,
      endMs: 10_000,
    });
    expect(f).toMatchObject({ dropped: 1, failed: 1, completed: 2, queuedSeconds: 1.5, queuedSessions: 1, replicaSeconds: 20, idealReplicaSeconds: 20, replicaRatio: 1, scaleEvents: 3 });
  });
});

describe('gpuUse: the GPUs the GPU tiers hold against the fewest their load needs', () => {
  const pod = (name: string, component: string, opts: { gated?: boolean; phase?: string; terminating?: boolean; gpus?: number } = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'app.kubernetes.io/component': component }, ...(opts.terminating ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: {
      ...(opts.gated ? { schedulingGates: [{ name: 'unmute.sh/gpu-budget' }] } : {}),
      containers: [{ name: component, resources: { limits: { 'nvidia.com/gpu': String(opts.gpus ?? 1) } } }],
    },
    status: { phase: opts.phase ?? 'Running' },
  });
  const worker = (p: string, component: string, channels: number) => ({ pod: p, uid: p, ip: '10.0.0.1', port: 1, state: 'running' as const, component, stats: { running: channels, queued: 0, activeSessions: channels, sessionsTotal: 0, shuttingDown: false, openChannels: channels } });

  it('counts pods past the gate, starting and terminating ones included, and per tier the pods its load fills', () => {
    const pods = [
      pod('stt-a', 'stt'),
      pod('stt-b', 'stt', { terminating: true }), // in its preStop: still holds its GPU
      pod('stt-c', 'stt', { phase: 'Pending' }), // scheduled, loading its model
      pod('stt-d', 'stt', { gated: true }), // waits for the budget: holds nothing
      pod('tts-a', 'tts', { phase: 'Succeeded' }),
      pod('backend-a', 'backend', { gpus: 0 }),
    ];
    const use = gpuUse(pods, [worker('stt-a', 'stt', 70), worker('stt-b', 'stt', 2)], { stt: 64, tts: 16 });
    expect(use.held).toBe(3);
    // STT: 72 streams need 2 pods of 64; TTS: nothing read, still one pod.
    expect(use.ideal).toBe(3);
  });
});
