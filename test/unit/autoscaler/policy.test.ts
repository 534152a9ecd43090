import { describe, expect, it } from 'vitest';
import { autoscaling } from '../../../src/api/v1alpha1/autoscaling.ts';
import { DRAIN_SETTLE_MS, decide, pruneHistory, type ComponentPod, type FollowerInput, type PolicyInput, type Recommendation } from '../../../src/autoscaler/policy.ts';

const spec = (over: Record<string, unknown> = {}) =>
  autoscaling.parse({ enabled: true, minReplicas: 1, maxReplicas: 50, scaleDownStabilizationSeconds: 60, ...over });

const running = (name: string, load: number | undefined, over: Partial<ComponentPod> = {}): ComponentPod => ({
  name,
  serving: true,
  phase: 'Running',
  terminating: false,
  load,
  observedAtMs: 0,
  ...over,
});

/** A GPU component the autoscaler sizes: `n` running pods with the given loads. */
function follower(loads: Array<number | undefined>, over: Partial<FollowerInput> = {}): FollowerInput {
  return {
    replicas: loads.length,
    pods: loads.map((l, i) => running(`stt-${i}`, l)),
    slotsPerReplica: 10,
    gpusPerReplica: 1,
    history: [],
    startupSeconds: 120,
    perSession: 1,
    ...over,
  };
}

function input(over: Partial<PolicyInput>): PolicyInput {
  return {
    nowMs: 1_000_000,
    spec: spec(),
    maxSessionsPerPod: 4,
    replicas: 0,
    pods: [],
    history: [],
    followers: {},
    fixedGpus: 0,
    gpuBudget: undefined,
    pendingGpuPods: 0,
    ...over,
  };
}

/**
 * A tiny fleet driven by the policy, tick by tick, with the ReplicaSet's victim choice and a
 * load balancer that sends new sessions to the least-loaded serving pod. Counts sessions that
 * a pod removal would cut.
 */
function simulateFleet(load: number[], opts: { tickMs?: number; spec?: ReturnType<typeof spec>; gapTicks?: Set<number> } = {}) {
  const tickMs = opts.tickMs ?? 5000;
  const s = opts.spec ?? spec();
  type Pod = ComponentPod & { sessionsTrue: number };
  let pods: Pod[] = [];
  let replicas = s.minReplicas;
  let history: Recommendation[] = [];
  let seq = 0;
  let cut = 0;
  const directions: string[] = [];
  const servingSeries: number[] = [];
  let reason = '';
  for (let t = 0; t < load.length; t++) {
    const now = t * tickMs + 1_000_000;
    // ReplicaSet: create missing pods (Pending for one tick), delete extra ones (lowest cost first).
    while (pods.length < replicas) pods.push({ ...running(`p${seq++}`, 0), phase: 'Pending', sessionsTrue: 0 });
    // Sessions: move the fleet's total towards the target load.
    const total = pods.reduce((a, p) => a + p.sessionsTrue, 0);
    const target = load[t]!;
    if (target < total) {
      let end = total - target;
      for (const p of [...pods].sort((a, b) => b.sessionsTrue - a.sessionsTrue)) {
        const k = Math.min(end, p.sessionsTrue);
        p.sessionsTrue -= k;
        end -= k;
      }
    } else {
      for (let i = total; i < target; i++) {
        const serving = pods.filter((p) => p.serving && p.phase === 'Running');
        if (serving.length === 0) break;
        serving.sort((a, b) => a.sessionsTrue - b.sessionsTrue)[0]!.sessionsTrue++;
      }
    }
    for (const p of pods) {
      p.load = opts.gapTicks?.has(t) && p.name === pods[0]?.name ? undefined : p.sessionsTrue;
      p.observedAtMs = now;
    }
    const d = decide(input({ nowMs: now, spec: s, replicas, pods, history }));
    history = pruneHistory([...history, d.recommendation], now, s.scaleDownStabilizationSeconds);
    for (const p of pods) {
      if (d.drain.includes(p.name)) Object.assign(p, { serving: false, drainingSinceMs: now });
      if (d.undrain.includes(p.name)) Object.assign(p, { serving: true, drainingSinceMs: undefined });
    }
    // The ReplicaSet removes pods: pending ones first, then the ones marked for removal.
    let excess = pods.length - d.replicas;
    const order = [...pods].sort(
      (a, b) => rank(a, d.remove) - rank(b, d.remove),
    );
    for (const p of order) {
      if (excess <= 0) break;
      cut += p.sessionsTrue;
      pods = pods.filter((x) => x !== p);
      excess--;
    }
    replicas = d.replicas;
    for (const p of pods) if (p.phase === 'Pending') p.phase = 'Running';
    directions.push(d.direction);
    servingSeries.push(d.serving);
    reason = d.reason;
  }
  return { cut, directions, servingSeries, replicas, reason };
}

function rank(p: ComponentPod, remove: string[]): number {
  if (p.phase === 'Pending') return 0;
  if (remove.includes(p.name)) return 1;
  if (!p.serving) return 2;
  return 3;
}

const repeat = (v: number, n: number) => Array.from({ length: n }, () => v);

describe('autoscaling policy', () => {
  it('scales up at once on a load step, limited by the step size', () => {
    const d = decide(input({ replicas: 2, pods: [running('a', 3), running('b', 3)], spec: spec({ scaleUpMaxStep: 10 }) }));
    expect(d.serving).toBe(2);
    const step = decide(input({ replicas: 2, pods: [running('a', 40), running('b', 20)], spec: spec({ scaleUpMaxStep: 10 }) }));
    expect(step.direction).toBe('up');
    expect(step.serving).toBe(12);
    expect(step.reason).toMatch(/step limited/);
  });

  it('adds headroom sessions on top of the load', () => {
    const d = decide(input({ replicas: 1, pods: [running('a', 3)], spec: spec({ headroomSessions: 6 }) }));
    expect(d.serving).toBe(3);
  });

  it('holds a scale-down inside the stabilisation window', () => {
    const history = [{ atMs: 1_000_000 - 30_000, serving: 4 }];
    const d = decide(input({ replicas: 4, pods: ['a', 'b', 'c', 'd'].map((n) => running(n, 0)), history }));
    expect(d.serving).toBe(4);
    expect(d.drain).toEqual([]);
    expect(d.reason).toMatch(/stabilisation window/);
  });

  it('drains the pods with the fewest sessions once the window has passed', () => {
    const pods = [running('a', 3), running('b', 1), running('c', 0), running('d', 2)];
    const d = decide(input({ replicas: 4, pods }));
    expect(d.serving).toBe(2);
    expect(d.drain.sort()).toEqual(['b', 'c']);
    // Nothing is removed in the tick that starts the drain: the reading predates the drain.
    expect(d.remove).toEqual([]);
    expect(d.replicas).toBe(4);
  });

  it('never scales down while a pod has no fresh session count', () => {
    const pods = [running('a', 0), running('b', undefined), running('c', 0), running('d', 0)];
    const d = decide(input({ replicas: 4, pods }));
    expect(d.metricsAvailable).toBe(false);
    expect(d.serving).toBe(4);
    expect(d.drain).toEqual([]);
    expect(d.sessions.unknownPods).toBe(1);
    expect(d.reason).toMatch(/held/);
  });

  it('still scales up on partial data, counting a pod that stopped answering as busy at the target per pod', () => {
    // 4 + 4 read, b read before (1) but not now: counted at 3 (the target) → 11 sessions → 4 backends.
    const d = decide(input({ replicas: 3, pods: [running('a', 4), running('b', undefined, { lastLoad: 1 }), running('c', 4)] }));
    expect(d.serving).toBe(4);
    expect(d.reason).toContain('counting 1 unread backend(s) as 3 sessions');
    const more = decide(input({ replicas: 3, pods: [running('a', 9), running('b', undefined, { lastLoad: 1 }), running('c', 4)] }));
    expect(more.serving).toBe(6);
  });

  it('counts a pod never read at 0: broken metrics add no capacity, even with headroom', () => {
    const pods = [running('a', undefined), running('b', undefined)];
    const d = decide(input({ replicas: 2, spec: spec({ headroomSessions: 4 }), pods }));
    expect(d.serving).toBe(2);
  });

  it('does not ratchet up on empty pods that stall: a pod last read empty counts 0', () => {
    // One pod above the target, two new ones read once at 0 and now stalled: 4 sessions fit 2 backends.
    const pods = [running('a', 4), running('x', undefined, { lastLoad: 0 }), running('y', undefined, { lastLoad: 0 })];
    const d = decide(input({ replicas: 3, pods }));
    expect(d.direction).toBe('none');
    expect(d.serving).toBe(3);
  });

  it('counts an unread pod at its last good reading when that was higher than the target', () => {
    const d = decide(input({ replicas: 2, pods: [running('a', 2), running('b', undefined, { lastLoad: 7 })] }));
    expect(d.serving).toBe(3);
  });

  it('holds a fleet whose every pod stopped answering: neither down nor up to maxReplicas', () => {
    const pods = [running('a', undefined, { lastLoad: 2 }), running('b', undefined, { lastLoad: 0 }), running('c', undefined, { lastLoad: 3 })];
    const d = decide(input({ replicas: 3, pods }));
    expect(d.serving).toBe(3);
    expect(d.direction).toBe('none');
    expect(d.metricsAvailable).toBe(false);
  });

  it('counts the sessions on a backend in its preStop (rollout, eviction) as load: a rollout is no drop in demand', () => {
    const old = running('old', 5, { terminating: true });
    const d = decide(input({ replicas: 2, pods: [old, running('new-a', 0), running('new-b', 1)], spec: spec({ scaleDownStabilizationSeconds: 0 }) }));
    expect(d.sessions.active).toBe(6);
    // 6 sessions at 3 per pod: the 2 new pods stay, nothing drains.
    expect(d.drain).toEqual([]);
    expect(d.serving).toBe(2);
  });

  it('waits to remove an empty drained pod while another pod is not ready: the ReplicaSet would delete that one first', () => {
    const drainedAt = 1_000_000 - 60_000;
    const empty = running('x', 0, { serving: false, drainingSinceMs: drainedAt, observedAtMs: 1_000_000 });
    const notReady = running('b', 3, { ready: false });
    const held = decide(input({ replicas: 3, pods: [running('a', 3), notReady, empty] }));
    expect(held.remove).toEqual([]);
    expect(held.replicas).toBe(3);
    expect(held.reason).toContain('b not running and ready');
    const ready = decide(input({ replicas: 3, pods: [running('a', 3), { ...notReady, ready: true }, empty] }));
    expect(ready.remove).toEqual(['x']);
    expect(ready.replicas).toBe(2);
  });

  it('removes a draining pod only after an empty reading taken after the drain settled', () => {
    const drainedAt = 1_000_000 - 10_000;
    const early = running('x', 0, { serving: false, drainingSinceMs: drainedAt, observedAtMs: drainedAt + DRAIN_SETTLE_MS - 1 });
    const late = running('y', 0, { serving: false, drainingSinceMs: drainedAt, observedAtMs: drainedAt + DRAIN_SETTLE_MS });
    const busy = running('z', 2, { serving: false, drainingSinceMs: drainedAt, observedAtMs: 1_000_000 });
    const d = decide(input({ replicas: 4, pods: [running('a', 1), early, late, busy] }));
    expect(d.remove).toEqual(['y']);
    expect(d.replicas).toBe(3);
  });

  it('removes a draining pod at its drain deadline even with sessions', () => {
    const old = running('x', 2, { serving: false, drainingSinceMs: 1_000_000 - 3_600_000, observedAtMs: 1_000_000 });
    const d = decide(input({ replicas: 2, pods: [running('a', 1), old] }));
    expect(d.remove).toEqual(['x']);
  });

  it('brings draining pods back into service before asking for new ones', () => {
    const drainedAt = 1_000_000 - 5_000;
    const pods = [running('a', 4), running('b', 4), running('x', 2, { serving: false, drainingSinceMs: drainedAt })];
    const d = decide(input({ replicas: 3, pods }));
    expect(d.undrain).toEqual(['x']);
    expect(d.serving).toBe(4);
    expect(d.replicas).toBe(4);
  });

  it('lowers replicas for pods that never started before draining running ones', () => {
    const pods = [running('a', 0), running('b', 0), { ...running('c', undefined), phase: 'Pending' as const }];
    const d = decide(input({ replicas: 4, pods }));
    expect(d.serving).toBe(1);
    // One not yet created and one Pending go by lowering replicas; one running pod drains.
    expect(d.drain).toHaveLength(1);
    expect(d.replicas).toBe(2);
  });

  it('reports maxReplicas as the limit when the load wants more', () => {
    const d = decide(input({ replicas: 2, pods: [running('a', 40), running('b', 40)], spec: spec({ maxReplicas: 5 }) }));
    expect(d.serving).toBe(5);
    expect(d.limited?.reason).toBe('MaxReplicas');
  });

  describe('on recorded load series, no session is ever cut', () => {
    it('step up then step down', () => {
      const r = simulateFleet([...repeat(3, 5), ...repeat(60, 20), ...repeat(3, 40)]);
      expect(r.cut).toBe(0);
      expect(Math.max(...r.servingSeries)).toBe(20);
      expect(r.servingSeries.at(-1)).toBe(1);
    });

    it('a short spike', () => {
      const r = simulateFleet([...repeat(6, 5), ...repeat(90, 3), ...repeat(6, 40)]);
      expect(r.cut).toBe(0);
      expect(r.servingSeries.at(-1)).toBe(2);
    });

    it('a slow decline', () => {
      const decline = Array.from({ length: 80 }, (_, i) => Math.max(0, 60 - Math.floor(i * 0.75)));
      const r = simulateFleet([...decline, ...repeat(0, 20)]);
      expect(r.cut).toBe(0);
      // It follows the decline a stabilisation window behind, and ends at the minimum.
      expect(r.servingSeries[60]).toBeLessThan(Math.max(...r.servingSeries));
      expect(r.servingSeries.at(-1)).toBe(1);
    });

    it('a noisy plateau does not flap', () => {
      let x = 7;
      const noisy = Array.from({ length: 60 }, () => {
        x = (x * 1103515245 + 12345) % 2147483648;
        return 30 + (x % 7) - 3;
      });
      const r = simulateFleet(noisy);
      expect(r.cut).toBe(0);
      const downs = r.directions.filter((d) => d === 'down').length;
      expect(downs).toBeLessThanOrEqual(1);
    });

    it('a metrics gap during a decline holds the fleet until data is back', () => {
      const gap = new Set(Array.from({ length: 30 }, (_, i) => 20 + i));
      const r = simulateFleet([...repeat(30, 20), ...repeat(3, 60)], { gapTicks: gap });
      expect(r.cut).toBe(0);
      // Held at 10 through the gap, then back down once readings return.
      expect(r.servingSeries[40]).toBe(10);
      expect(r.servingSeries.at(-1)).toBe(1);
    });
  });
});

describe('autoscaling policy: removal and the ReplicaSet', () => {
  const drainedAt = 1_000_000 - 10_000;
  const empty = (name: string, over: Partial<ComponentPod> = {}) =>
    running(name, 0, { serving: false, drainingSinceMs: drainedAt, observedAtMs: 1_000_000, ...over });

  it('does not lower replicas twice for a drained pod the ReplicaSet has not deleted yet', () => {
    // Pass 1 removed x: replicas went 4 -> 3 and x carries the removal cost; the pod cache still lists it.
    const pods = [running('a', 3), running('b', 3), running('c', 3), empty('x', { removing: true })];
    const d = decide(input({ replicas: 3, pods, history: [{ atMs: 1_000_000, serving: 3 }] }));
    expect(d.remove).toEqual([]);
    expect(d.replicas).toBe(3);
    expect(d.serving).toBe(3);
  });

  it('removes a marked pod again when its replica was not given up (e.g. a scale-up in the same pass)', () => {
    const pods = [running('a', 3), running('b', 3), running('c', 3), empty('x', { removing: true })];
    const d = decide(input({ replicas: 4, pods, history: [{ atMs: 1_000_000, serving: 3 }] }));
    expect(d.remove).toEqual(['x']);
    expect(d.replicas).toBe(3);
  });

  it('waits with a removal while a serving pod is still Pending, so the ReplicaSet cannot take it instead', () => {
    const pods = [running('a', 3), { ...running('b', undefined), phase: 'Pending' as const }, empty('x')];
    const d = decide(input({ replicas: 3, pods, history: [{ atMs: 1_000_000, serving: 2 }] }));
    expect(d.remove).toEqual([]);
    expect(d.replicas).toBe(3);
    const later = decide(input({ replicas: 3, pods: [running('a', 3), running('b', 0), empty('x')], history: [{ atMs: 1_000_000, serving: 2 }] }));
    expect(later.remove).toEqual(['x']);
    expect(later.replicas).toBe(2);
  });
});

describe('followers (STT, TTS, LLM): sized on their own load, drained on the way down', () => {
  // Two backends at the default target of 3: a floor of ceil(2 × 3 × 1 / 8) = 1 pod of 10 slots at 80 %.
  const backends = () => ({ replicas: 2, pods: [running('a', 3), running('b', 3)] });

  it('sizes on the streams the pods hold, at the target utilisation', () => {
    const d = decide(input({ ...backends(), followers: { stt: follower([9, 9]) } }));
    // 18 streams at 8 per pod (80 % of 10) → 3 pods.
    expect(d.followers.stt).toMatchObject({ serving: 3, replicas: 3, direction: 'up', load: 18 });
  });

  it('keeps a floor from the backends when the followers read low (the backends are the earlier signal)', () => {
    const d = decide(input({ replicas: 8, pods: Array.from({ length: 8 }, (_, i) => running(`p${i}`, 3)), followers: { stt: follower([0]) } }));
    // 8 backends × 3 sessions × 1 stream per session / 8 → 3 pods, although STT holds nothing yet.
    expect(d.followers.stt?.serving).toBe(3);
  });

  it('adds what arrives while a new pod loads its model: rate × start-up × streams per session', () => {
    const calm = decide(input({ ...backends(), followers: { tts: follower([4], { perSession: 0.5 }) } }));
    expect(calm.followers.tts?.serving).toBe(1);
    // 0.1 sessions/s × 120 s × 0.5 streams = 6 more streams: (4 + 6) / 8 → 2 pods.
    const ramp = decide(input({ ...backends(), sessionRate: 0.1, followers: { tts: follower([4], { perSession: 0.5 }) } }));
    expect(ramp.followers.tts?.serving).toBe(2);
    // A slower start-up needs more headroom: 0.1 × 600 × 0.5 = 30 → (4 + 30) / 8 → 5 pods.
    const slow = decide(input({ ...backends(), sessionRate: 0.1, followers: { tts: follower([4], { perSession: 0.5, startupSeconds: 600 }) } }));
    expect(slow.followers.tts?.serving).toBe(5);
  });

  it('drains the emptiest pod once the window allows, and removes it only when a settled reading says 0', () => {
    const d = decide(input({ ...backends(), followers: { stt: follower([5, 1, 3]) } }));
    expect(d.followers.stt).toMatchObject({ serving: 2, drain: ['stt-1'], remove: [], replicas: 3 });

    const now = 1_000_000;
    const draining = (load: number, sinceMs: number) => running('stt-1', load, { serving: false, drainingSinceMs: sinceMs, observedAtMs: now });
    const busy = decide(input({ ...backends(), followers: { stt: follower([5, 3], { replicas: 3, pods: [running('stt-0', 5), draining(1, now - 60_000), running('stt-2', 3)] }) } }));
    expect(busy.followers.stt).toMatchObject({ remove: [], replicas: 3, draining: 1 });
    // Empty, but read right after leaving the Service: a stream may still have been on its way.
    const unsettled = decide(input({ ...backends(), followers: { stt: follower([], { replicas: 3, pods: [running('stt-0', 5), draining(0, now - 500), running('stt-2', 3)] }) } }));
    expect(unsettled.followers.stt?.remove).toEqual([]);
    const empty = decide(input({ ...backends(), followers: { stt: follower([], { replicas: 3, pods: [running('stt-0', 5), draining(0, now - 60_000), running('stt-2', 3)] }) } }));
    expect(empty.followers.stt).toMatchObject({ remove: ['stt-1'], replicas: 2 });
  });

  it('brings a draining pod back before asking for a new one', () => {
    const pods = [running('stt-0', 8), running('stt-1', 2, { serving: false, drainingSinceMs: 990_000 })];
    const d = decide(input({ ...backends(), followers: { stt: follower([], { replicas: 2, pods }) } }));
    expect(d.followers.stt).toMatchObject({ undrain: ['stt-1'], serving: 2, replicas: 2 });
  });

  it('never shrinks on an unknown reading, and counts a pod read before at its last reading', () => {
    const held = decide(input({ ...backends(), followers: { stt: follower([0, undefined, 0]) } }));
    expect(held.followers.stt).toMatchObject({ serving: 3, drain: [] });
    expect(held.followers.stt?.reason).toContain('scale-down held');
    const stalled = decide(input({ ...backends(), followers: { stt: follower([8], { replicas: 2, pods: [running('stt-0', 8), running('stt-1', undefined, { lastLoad: 8 })] }) } }));
    // 8 read + 8 assumed = 16 → 2 pods: a stalled busy pod is not taken for an empty one.
    expect(stalled.followers.stt?.serving).toBe(2);
  });

  it('counts draining GPU pods against the budget and caps the backends to what the followers can serve', () => {
    const pods = [running('stt-0', 8), running('stt-1', 8), running('stt-2', 4, { serving: false, drainingSinceMs: 990_000 })];
    const d = decide(
      input({
        replicas: 10,
        pods: Array.from({ length: 10 }, (_, i) => running(`p${i}`, 4)),
        followers: { stt: follower([], { replicas: 3, pods }) },
        gpuBudget: 4,
      }),
    );
    expect(d.limited?.reason).toBe('GpuBudget');
    const stt = d.followers.stt!;
    // The draining pod holds a GPU until it is gone: serving + draining stays within 4.
    expect(stt.serving + stt.draining).toBeLessThanOrEqual(4);
    expect(stt.replicas).toBeLessThanOrEqual(4);
  });

  it('caps the backends under a GPU budget by what the backends send the followers, not by the start-up headroom', () => {
    // 9 sessions on 1 backend want 3 backends. TTS: 8 slots at 80 %; 2 backends × 3 / 6.4 → 1 pod,
    // 3 backends → 2 pods. STT fixed at 1 GPU; budget 2: 2 backends fit, 3 do not. A steep ramp
    // (5 sessions/s × 120 s of start-up) asks for headroom the budget has no room for: it must
    // not pull the backends down to minReplicas.
    const d = decide(
      input({
        replicas: 1,
        pods: [running('a', 9)],
        sessionRate: 5,
        followers: { tts: follower([0], { slotsPerReplica: 8 }) },
        fixedGpus: 1,
        gpuBudget: 2,
      }),
    );
    expect(d.limited).toMatchObject({ reason: 'GpuBudget', message: expect.stringContaining('allows 2') });
    expect(d.serving).toBe(2);
    expect(d.followers.tts?.serving).toBe(1);
  });

  it('keeps one pod at least: every conversation passes through it', () => {
    const d = decide(input({ replicas: 1, pods: [running('a', 0)], followers: { llm: follower([0, 0]) }, spec: spec({ scaleDownStabilizationSeconds: 0 }) }));
    expect(d.followers.llm?.serving).toBe(1);
  });
});

