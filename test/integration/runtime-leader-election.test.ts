// Leader election on a real coordination.k8s.io/v1 Lease: one leader among two candidates, takeover
// after the leader dies, fast handover when the leader releases.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import { LeaderElector, leaderElectionJitter } from '../../src/runtime/leader-election.ts';
import { KubeLeaseLock } from '../../src/runtime/lease-lock.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { createNamespace, waitFor } from '../support/cluster.ts';
import { aKubeClient } from './runtime-support.ts';

// Short but valid timings (leaseDuration > renewDeadline > 1.2 x retryPeriod) keep the test quick.
const timings = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 };

interface Candidate {
  identity: string;
  leading: () => boolean;
  stop: AbortController;
  done: Promise<void>;
}

function aCandidate(client: KubeClient, namespace: string, lease: string, identity: string, releaseOnCancel: boolean): Candidate {
  let leading = false;
  const stop = new AbortController();
  const elector = new LeaderElector({
    ...timings,
    lock: new KubeLeaseLock(client, namespace, lease),
    identity,
    clock: systemClock(),
    logger: silentLogger(),
    releaseOnCancel,
    onStartedLeading: () => {
      leading = true;
    },
    onStoppedLeading: () => {
      leading = false;
    },
  });
  return { identity, leading: () => leading, stop, done: elector.run(stop.signal) };
}

describe('leader election on a Lease', () => {
  let client: KubeClient;
  let namespace = '';
  const candidates: Candidate[] = [];

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('rt-lease');
  });
  afterAll(async () => {
    for (const c of candidates) c.stop.abort();
    await Promise.all(candidates.map((c) => c.done));
    await client.close();
  });

  const getLease = () => client.get<KubeObject & { spec: Record<string, unknown> }>({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' }, 'takeover', namespace);

  it('lets one of two candidates lead and the other take over within the lease duration after the leader dies', async () => {
    const a = aCandidate(client, namespace, 'takeover', 'a', false);
    const b = aCandidate(client, namespace, 'takeover', 'b', false);
    candidates.push(a, b);
    const first = await waitFor('a leader', () => [a, b].find((c) => c.leading()));
    const other = first === a ? b : a;
    // No flapping: the same single leader over several renewals.
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 500));
      expect([a.leading(), b.leading()].filter(Boolean)).toHaveLength(1);
      expect(first.leading()).toBe(true);
    }
    const lease = await getLease();
    expect(lease.spec).toMatchObject({ holderIdentity: first.identity, leaseDurationSeconds: 4 });
    expect(String(lease.spec.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const transitionsBefore = Number(lease.spec.leaseTransitions ?? 0);

    // The leader "dies": it stops renewing and does not release.
    first.stop.abort();
    await first.done;
    const diedAt = Date.now();
    await waitFor('the other candidate to lead', () => other.leading(), { timeoutMs: 15_000, intervalMs: 50 });
    const takeoverMs = Date.now() - diedAt;
    // Expiry is judged from when the follower last saw the record change (at most one jittered retry
    // before the death), plus one more jittered retry to notice: lease + 2 x retry x (1 + jitter).
    expect(takeoverMs).toBeLessThanOrEqual(timings.leaseDurationMs + 2 * timings.retryPeriodMs * (1 + leaderElectionJitter) + 500);
    const after = await getLease();
    expect(after.spec).toMatchObject({ holderIdentity: other.identity, leaseTransitions: transitionsBefore + 1 });
  });

  it('hands over within about one retry period when the leader releases the Lease on shutdown', async () => {
    const a = aCandidate(client, namespace, 'release', 'a', true);
    candidates.push(a);
    await waitFor('a to lead', () => a.leading());
    const b = aCandidate(client, namespace, 'release', 'b', true);
    candidates.push(b);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(b.leading()).toBe(false);
    a.stop.abort();
    await a.done;
    const releasedAt = Date.now();
    await waitFor('b to lead', () => b.leading(), { timeoutMs: 10_000, intervalMs: 50 });
    expect(Date.now() - releasedAt).toBeLessThan(timings.leaseDurationMs);
  });
});
