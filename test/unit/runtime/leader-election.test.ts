import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.ts';
import { createMetricsRegistry, createRuntimeMetrics, type RuntimeMetrics } from '../../../src/observability/metrics.ts';
import { LeaderElector, validateLeaderElectionTimings } from '../../../src/runtime/leader-election.ts';
import { formatMicroTime } from '../../../src/runtime/lease-lock.ts';
import { FakeClock, settle } from './support/fake-clock.ts';
import { captureLogs } from './support/log-capture.ts';
import { MemoryLeaseLock } from './support/memory-lease-lock.ts';

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

function aCandidate(identity: string, lock: MemoryLeaseLock, clock: FakeClock, metrics?: RuntimeMetrics, releaseOnCancel = true, logger = silentLogger()) {
  const state = { leading: false, started: 0, stopped: 0, leaderSignal: undefined as AbortSignal | undefined };
  const stop = new AbortController();
  stops.push(stop);
  const elector = new LeaderElector({
    lock,
    identity,
    clock,
    logger,
    metrics,
    random: () => 0,
    releaseOnCancel,
    onStartedLeading: (signal) => {
      state.leading = true;
      state.started++;
      state.leaderSignal = signal;
    },
    onStoppedLeading: () => {
      state.leading = false;
      state.stopped++;
    },
  });
  const done = elector.run(stop.signal);
  return { elector, state, stop, done };
}

describe('leader election', () => {
  it.each([
    [{ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }, /leaseDuration/],
    [{ leaseDurationMs: 15_000, renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }, /renewDeadline/],
    [{ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 0 }, /positive/],
  ])('rejects timings %j', (timings, message) => {
    expect(() => validateLeaderElectionTimings(timings)).toThrow(message);
  });

  it('accepts the controller-runtime defaults', () => {
    expect(() => validateLeaderElectionTimings({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 })).not.toThrow();
  });

  it('formats Lease times as MicroTime with six fractional digits', () => {
    expect(formatMicroTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678))).toBe('2025-01-02T03:04:05.678000Z');
  });

  it('creates a missing Lease, starts leading and renews every retry period', async () => {
    const clock = new FakeClock();
    const lock = new MemoryLeaseLock();
    const metrics = createRuntimeMetrics(createMetricsRegistry());
    const a = aCandidate('a', lock, clock, metrics);
    await settle();
    expect(a.state.leading).toBe(true);
    expect(lock.stored?.record).toEqual({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: formatMicroTime(clock.now()),
      renewTime: formatMicroTime(clock.now()),
      leaseTransitions: 0,
    });
    const acquiredAt = lock.stored?.record.acquireTime;
    await clock.advance(2_000);
    expect(lock.writes).toHaveLength(2);
    expect(lock.stored?.record.acquireTime).toBe(acquiredAt);
    expect(lock.stored?.record.renewTime).toBe(formatMicroTime(clock.now()));
    expect(await metrics.registry.getSingleMetricAsString('leader_election_master_status')).toContain('leader_election_master_status{name="operators/unmute-operator"} 1');
  });

  it('says why it cannot lead when the Lease namespace does not exist, and keeps trying', async () => {
    const clock = new FakeClock();
    const lock = new MemoryLeaseLock();
    lock.namespaceMissing = true;
    const { logger, lines } = captureLogs('info');
    const a = aCandidate('a', lock, clock, undefined, true, logger);
    await settle();
    await clock.advance(10_000);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('namespace "operators" does not exist (create it, or set --leader-election-namespace)');
    lock.namespaceMissing = false;
    await clock.advance(3_000);
    expect(a.state.leading).toBe(true);
  });

  it('lets only one of two candidates lead while the leader keeps renewing', async () => {
    const clock = new FakeClock();
    const lock = new MemoryLeaseLock();
    const a = aCandidate('a', lock, clock);
    await settle();
    const b = aCandidate('b', lock, clock);
    await clock.advance(60_000);
    expect(a.state.leading).toBe(true);
    expect(b.state.leading).toBe(false);
    expect(b.elector.getLeader()).toBe('a');
    expect(lock.stored?.record.holderIdentity).toBe('a');
  });

  it('hands over after the leader dies without releasing: within leaseDuration plus one retry', async () => {
    const clock = new FakeClock();
    const lock = new MemoryLeaseLock();
    const a = aCandidate('a', lock, clock, undefined, false);
    await settle();
    const b = aCandidate('b', lock, clock);
    await clock.advance(10_000);
    a.stop.abort();
    await a.done;
    expect(lock.stored?.record.holderIdentity).toBe('a');
    const diedAt = clock.now();
    while (!b.state.leading && clock.now() - diedAt < 30_000) await clock.advance(100);
    const takeover = clock.now() - diedAt;
    expect(takeover).toBeLessThanOrEqual(15_000 + 2_000);
    expect(takeover).toBeGreaterThan(12_000);
    expect(lock.stored?.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('releases the Lease on shutdown so a successor takes over at its next retry', async () => {
    const clock = new FakeClock();
    const lock = new MemoryLeaseLock();
    const a = aCandidate('a', lock, clock);
    await settle();
    const b = aCandidate('b', lock, clock);
    await clock.advance(4_000);
    a.stop.abort();
    await a.done;
    expect(lock.stored?.record).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(a.state).toMatchObject({ leading: false, stopped: 1 });
    expect(a.state.leaderSignal?.aborted).toBe(true);
    await clock.advance(2_000);
    expect(b.state.leading).toBe(true);
  });

  it('gives up leadership when it cannot renew within renewDeadline, and returns', async () => {
    const clock = new FakeClock();
    const lock = new MemoryLeaseLock();
    const a = aCandidate('a', lock, clock);
    await settle();
    lock.unreachable = true;
    await clock.advance(2_000 + 8_000);
    expect(a.state.leading).toBe(true);
    await clock.advance(2_000);
    await a.done;
    expect(a.state).toMatchObject({ leading: false, stopped: 1 });
    expect(a.state.leaderSignal?.aborted).toBe(true);
  });

  it('falls back to rereading the Lease when a fast-path renewal conflicts, and counts it', async () => {
    const clock = new FakeClock();
    const lock = new MemoryLeaseLock();
    const metrics = createRuntimeMetrics(createMetricsRegistry());
    const a = aCandidate('a', lock, clock, metrics);
    await settle();
    // Someone bumps the resourceVersion without changing the record (e.g. a label edit).
    if (lock.stored !== undefined) lock.stored.resourceVersion = '999';
    await clock.advance(2_000);
    expect(a.state.leading).toBe(true);
    expect(lock.stored?.record.holderIdentity).toBe('a');
    expect(await metrics.registry.getSingleMetricAsString('leader_election_slowpath_total')).toContain('} 1');
  });
});
