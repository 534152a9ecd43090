// The leader killed (SIGKILL: no lease release) mid-drain and mid-rollout, with figures. Two
// `unmute-operator run` processes with leader election at the operator's defaults (lease 15 s,
// renew deadline 10 s, retry 2 s) run inside the cluster's network namespace; the standby takes
// over when the lease expires. Everything a drain needs is on the pods, so the new leader must
// carry the drain on (keep the busy backend out of service, remove it only when empty) and the
// rollout must go on without a session cut. The file runs with KWOK's pod deletion `external`:
// the fleet's pod runner plays the kubelet, so a replaced backend's preStop waits for its
// sessions to end, as on a real node. (KWOK is restarted for that before the fleet's first pod:
// a restarted KWOK does not know which pod IPs are taken.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setKwokPodDeletion } from '../../scripts/cluster/faults.ts';
import { clusterInfo, createNamespace, kubeClient, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import type { OperatorProcess } from '../support/operator.ts';
import { stopOperators } from '../support/operator.ts';
import {
  createFleet,
  keepLogs,
  logTime,
  recordFigure,
  sessionsByBackend,
  sessionsCut,
  settle,
  snapshot,
  startFaultFleet,
  startLeaderCandidate,
  waitRecovered,
  waitServing,
  waitStatusCurrent,
  writeFiguresTable,
  type FaultFleet,
} from '../support/faults.ts';

const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
const ACQUIRED = 'acquired leader lease';

/** The candidate that holds the lease now (it logged the acquisition and still runs). */
async function leaderAmong(candidates: OperatorProcess[], timeoutMs = 40_000): Promise<OperatorProcess> {
  return waitFor('a leader', () => candidates.find((c) => logTime(c, ACQUIRED) !== undefined && c.child.exitCode === null && c.child.signalCode === null), { timeoutMs, intervalMs: 50 });
}

describe('the leader killed', () => {
  const cluster = clusterInfo().name;
  let ns = '';
  let fleet: FaultFleet;
  const candidates: OperatorProcess[] = [];
  let serial = 0;

  /** Starts candidates until two run. */
  async function twoCandidates(): Promise<void> {
    const alive = candidates.filter((c) => c.child.exitCode === null && c.child.signalCode === null);
    while (alive.length < 2) alive.push(await startLeaderCandidate(ns, `faults-op-${++serial}`));
    candidates.splice(0, candidates.length, ...alive);
  }

  /** SIGKILLs the leader; returns the kill time and the standby that took over, with when. */
  async function killLeader(): Promise<{ killedAt: number; successor: OperatorProcess; tookOverAt: number }> {
    const leader = await leaderAmong(candidates);
    const standby = candidates.find((c) => c !== leader)!;
    const killedAt = Date.now();
    await leader.kill();
    await waitFor('the standby acquiring the lease', () => logTime(standby, ACQUIRED) !== undefined, { timeoutMs: 60_000, intervalMs: 50 });
    return { killedAt, successor: standby, tookOverAt: logTime(standby, ACQUIRED)! };
  }

  beforeAll(async () => {
    ns = await createNamespace('fault-leader');
    await setKwokPodDeletion(cluster, 'external');
    fleet = await startFaultFleet(ns, 'leader');
    await twoCandidates();
    await leaderAmong(candidates);
    await createFleet(ns, 'leader', 2);
    await waitServing(fleet, 2);
  });

  afterAll(async () => {
    keepLogs('leader', { fleet: fleet?.process, ...Object.fromEntries(candidates.map((c) => [c.identity, c])) });
    await setKwokPodDeletion(cluster, 'immediate').catch(() => undefined);
    await stopOperators();
    await fleet?.stop();
    await stopNetnsProcesses();
    const { path, table } = writeFiguresTable();
    process.stdout.write(`\n${table}\n(figures in ${path})\n`);
  });

  it('mid-drain: the new leader keeps the busy backend draining and removes it once empty', async () => {
    await twoCandidates();
    const cutBefore = await settle(fleet, { active: 4, serving: 2 });
    // 2 + 1 sessions want one backend: the one with 1 session drains, and stays while it holds it.
    const [busy, light] = await sessionsByBackend(fleet);
    await fleet.control.endSessions(1, light!.url);
    await waitFor('the lighter backend draining', async () => (await snapshot(ns, 'leader')).draining.includes(light!.pod), { timeoutMs: 20_000 });

    const { killedAt, tookOverAt } = await killLeader();
    // The load changes while nobody leads: only the new leader can say so.
    await fleet.control.endSessions(1, busy!.url);
    const statusMs = await waitStatusCurrent(fleet, { active: 2 }, killedAt, 60_000);
    // The drain survived the handover: still out of service, not removed, Deployment unchanged.
    const s = await snapshot(ns, 'leader');
    expect(s.draining).toEqual([light!.pod]);
    expect(s.replicas).toBe(2);

    await fleet.control.endSessions(1, light!.url);
    const ended = Date.now();
    const r = await waitRecovered(fleet, { active: 1, serving: 1 }, ended);
    expect(r.last.serving).toEqual([busy!.pod]);
    const cut = sessionsCut(await fleet.control.state()) - cutBefore;
    recordFigure({
      order: 30,
      fault: 'leader killed (SIGKILL) mid-drain',
      during: `a backend draining with 1 session; standby took the lease ${((tookOverAt - killedAt) / 1000).toFixed(1)} s after the kill (lease 15 s); status current ${(statusMs / 1000).toFixed(1)} s after the kill`,
      cut,
      statusMs,
      fleetMs: r.fleetMs,
      measured: 'status: from the kill (load changed meanwhile); fleet: from the drained backend\'s last session ending until it is removed',
    });
    expect(cut).toBe(0);
  });

  it('mid-rollout: the rollout goes on under the new leader and no session is cut', async () => {
    await twoCandidates();
    const cutBefore = await settle(fleet, { active: 4, serving: 2 }, 90_000);
    const client = await kubeClient();
    const oldPods = new Set((await snapshot(ns, 'leader')).serving);
    // A template change: every backend is replaced, one at a time (maxSurge 25 %, maxUnavailable 0).
    await client.patch(UMD, 'leader', ns, { spec: { backend: { podAnnotations: { 'faults.example.com/rollout': String(Date.now()) } } } }, 'merge', { fieldManager: 'faults-test' });
    const generation = (await snapshot(ns, 'leader')).generation;
    // Mid-rollout: an old backend is terminating and its preStop waits for its sessions.
    const old = await waitFor('an old backend in preStop with sessions', async () => {
      const state = await fleet.control.state();
      return state.workers.find((w) => w.state === 'prestop' && (state.sessions.heldByUrl[`http://${w.ip}:${w.port}`] ?? 0) > 0);
    }, { timeoutMs: 60_000, intervalMs: 100 });
    const { killedAt, tookOverAt } = await killLeader();
    // One more caller while nobody leads.
    await fleet.control.openSessions(1);
    await fleet.control.heldBy(5, { allowQueued: true });
    // What the new leader's status says while the old backend's users are still connected.
    const whileOld = await waitFor('the status while an old backend is in preStop', async () => {
      const s = await snapshot(ns, 'leader');
      return s.terminating.length > 0 && s.active !== 4 ? s : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 }).catch(() => undefined);

    // The users on the replaced backends hang up; they call again and land on new backends.
    let lastEnded = Date.now();
    await waitFor('every old backend gone', async () => {
      const state = await fleet.control.state();
      for (const w of state.workers.filter((x) => x.state === 'prestop')) {
        const url = `http://${w.ip}:${w.port}`;
        const n = state.sessions.heldByUrl[url] ?? 0;
        if (n > 0) {
          await fleet.control.endSessions(n, url);
          await fleet.control.openSessions(n);
          lastEnded = Date.now();
        }
      }
      const s = await snapshot(ns, 'leader');
      return [...s.serving, ...s.draining, ...s.terminating].every((p) => !oldPods.has(p)) ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 200 });
    await fleet.control.heldBy(5);
    const r = await waitRecovered(fleet, { active: 5, serving: 2 }, lastEnded, 120_000);
    expect(r.last.observedGeneration).toBe(generation);
    expect(r.last.serving).not.toContain(old.pod);
    const cut = sessionsCut(await fleet.control.state()) - cutBefore;
    recordFigure({
      order: 31,
      fault: 'leader killed (SIGKILL) mid-rollout',
      during:
        `spec change replacing both backends, an old one in preStop with 4 sessions; standby took the lease ${((tookOverAt - killedAt) / 1000).toFixed(1)} s after the kill; load 4 → 5 sessions meanwhile ` +
        `(status.sessions.active said ${whileOld?.active ?? '?'} meanwhile: sessions on a backend in preStop count); users on replaced backends hang up and call again`,
      cut,
      statusMs: r.statusMs,
      fleetMs: r.fleetMs,
      measured: 'from the last session on an old backend ending until the rollout is complete and the status current (new generation, Progressing=False)',
    });
    expect(cut).toBe(0);
  });

  // Found by this suite: a terminating backend (rollout, eviction, node drain: its preStop waits
  // for its sessions) was left out of the readings, so status and the autoscaler saw its
  // conversations as gone. Terminating pods are now read, and their load counts as demand.
  it('status counts the conversations of a backend in preStop', async () => {
    await settle(fleet, { active: 4, serving: 2 });
    const [busy] = await sessionsByBackend(fleet);
    const client = await kubeClient();
    await client.delete({ apiVersion: 'v1', kind: 'Pod' }, busy!.pod, ns);
    try {
      await waitFor('the busy backend in preStop', async () => (await fleet.control.state()).workers.some((w) => w.pod === busy!.pod && w.state === 'prestop'), { timeoutMs: 20_000 });
      await new Promise((r) => setTimeout(r, 4_000));
      expect((await snapshot(ns, 'leader')).active).toBe(4);
    } finally {
      await fleet.control.endSessions(busy!.sessions, busy!.url);
    }
  });
});
