import { describe, expect, it } from 'vitest';
import { hpaDecide } from '../../../src/sim/fleet/hpa.ts';
import { apiWritesFromMetrics, classifyWait, idealReplicas, integrate, measureRun, reactionTo, routingSnapshot, splitQueued, type SessionRecord, type TimelineSample } from '../../../src/sim/fleet/measure.ts';
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

  it('counts a full backend out of the Service as capacity: a reaction ends with the serving backends, not the endpoints', () => {
    // 4 backends serve 12 sessions; 2 of them are full and out of the Service (ready 2): not short.
    const full = [{ ...s(0, 4, 2, 12), serving: 4 }, { ...s(1000, 4, 2, 12), serving: 4 }];
    expect(reactionTo(full, { name: 'spike', atMs: 0, untilMs: 1000 }, spec).seconds).toBe(0);
    // Short of serving backends until a new one starts at 3 s, whatever the endpoints say.
    const short = [{ ...s(0, 4, 4, 15), serving: 4 }, { ...s(1000, 5, 2, 15), serving: 4 }, { ...s(3000, 5, 3, 15), serving: 5 }];
    expect(reactionTo(short, { name: 'spike', atMs: 0, untilMs: 1000 }, spec)).toEqual({ name: 'spike', seconds: 3, unresolved: false });
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

describe('queued session-seconds, avoidable or not', () => {
  const b = (url: string, held: number, serving = true) => ({ url, held, serving });
  const rec = (waitedMs: number, routing?: SessionRecord['routing']): SessionRecord => ({ outcome: 'completed', waitedMs, ...(routing ? { routing } : {}) });

  it('counts free slots on serving backends other than the one picked, and whether that one was full', () => {
    const fleet = [b('a', 4), b('b', 1), b('c', 3), b('d', 0, false)];
    expect(routingSnapshot(fleet, 'a', 4)).toEqual({ freeElsewhere: 3 + 1, pickedFull: true });
    // A draining backend's slots are no one's to take; the picked backend's own slots are not elsewhere.
    expect(routingSnapshot(fleet, 'b', 4)).toEqual({ freeElsewhere: 1, pickedFull: false });
    // Over-full (sessions waiting there) is full too; negative room is not subtracted.
    expect(routingSnapshot([b('a', 6), b('b', 5)], 'a', 4)).toEqual({ freeElsewhere: 0, pickedFull: true });
  });

  it('does not know which backend a caller behind a gateway reached', () => {
    expect(routingSnapshot([b('a', 4), b('b', 2)], 'http://gateway/api', 4)).toEqual({ freeElsewhere: 2 });
  });

  it('blames routing only for a wait on a full backend while another serving one had a free slot', () => {
    expect(classifyWait(rec(2000, { freeElsewhere: 3, pickedFull: true }))).toBe('avoidable');
    // Every serving backend full: capacity, not routing.
    expect(classifyWait(rec(2000, { freeElsewhere: 0, pickedFull: true }))).toBe('unavoidable');
    // Sent to a backend with a slot and still late: a slow backend, not a routing mistake.
    expect(classifyWait(rec(2000, { freeElsewhere: 3, pickedFull: false }))).toBe('unavoidable');
    // Behind a gateway: a wait while a slot was free elsewhere is the gateway's routing.
    expect(classifyWait(rec(2000, { freeElsewhere: 1 }))).toBe('avoidable');
    // The upgrade's own round trip is no wait for a slot; nor is a caller routed with no snapshot.
    expect(classifyWait(rec(50, { freeElsewhere: 3, pickedFull: true }))).toBe('unavoidable');
    expect(classifyWait(rec(2000))).toBe('unavoidable');
  });

  it('splits the queued seconds so that the parts add up to the total', () => {
    const sessions = [
      rec(1500, { freeElsewhere: 2, pickedFull: true }),
      rec(2500, { freeElsewhere: 0, pickedFull: true }),
      rec(40, { freeElsewhere: 8, pickedFull: false }),
      rec(700, { freeElsewhere: 1, pickedFull: true }),
    ];
    expect(splitQueued(sessions)).toEqual({ avoidableSeconds: 2.2, unavoidableSeconds: 2.5, avoidableSessions: 2 });
    const f = measureRun({ samples: [s(0, 2, 2, 0)], sessions, steps: [], spec, scaleEvents: 0, endMs: 1000 });
    expect(f).toMatchObject({ queuedSeconds: 4.7, queuedAvoidableSeconds: 2.2, queuedUnavoidableSeconds: 2.5, queuedAvoidableSessions: 2 });
  });
});

describe("the operator's API writes", () => {
  it('sums the writing methods of rest_client_requests_total, whatever their code, and no reads', () => {
    const text = [
      '# HELP rest_client_requests_total Number of HTTP requests to the API server, partitioned by status code, method, and host.',
      '# TYPE rest_client_requests_total counter',
      'rest_client_requests_total{code="200",method="GET",host="10.0.0.1:6443"} 900',
      'rest_client_requests_total{code="200",method="PATCH",host="10.0.0.1:6443"} 40',
      'rest_client_requests_total{code="409",method="PATCH",host="10.0.0.1:6443"} 2',
      'rest_client_requests_total{code="201",method="POST",host="10.0.0.1:6443"} 7',
      'rest_client_requests_total{code="200",method="DELETE",host="10.0.0.1:6443"} 1',
      'rest_client_requests_total{code="200",method="PUT",host="10.0.0.1:6443"} 0',
      'rest_client_request_duration_seconds_count{verb="PATCH",host="10.0.0.1:6443"} 42',
    ].join('\n');
    expect(apiWritesFromMetrics(text)).toBe(50);
    expect(apiWritesFromMetrics('')).toBe(0);
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
