// 409 Conflict on every write for 30 s, with figures: the operator's controller runs on a
// transport (test/support/conflict-operator.ts) that answers every PATCH, PUT, POST and DELETE
// with a Conflict Status while switched on; reads and watches pass. The load drops meanwhile, so
// the operator wants to drain a backend and cannot write the drain; once writes go through again
// it must drain and remove the empty backend, and nothing may be cut meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, stopNetnsProcesses } from '../support/cluster.ts';
import {
  createFleet,
  dropLoadTo,
  keepLogs,
  recordFigure,
  sessionsCut,
  settle,
  sleep,
  snapshot,
  startConflictOperator,
  startFaultFleet,
  waitRecovered,
  waitServing,
  watchNoScaleDown,
  writeFiguresTable,
  type ConflictOperator,
  type FaultFleet,
} from '../support/faults.ts';

const CONFLICTS_MS = 30_000;

describe('409 Conflict on every write', () => {
  const NAME = 'conflicts';
  let ns = '';
  let fleet: FaultFleet;
  let operator: ConflictOperator;

  beforeAll(async () => {
    ns = await createNamespace('fault-409');
    fleet = await startFaultFleet(ns, NAME);
    operator = await startConflictOperator(ns);
    await createFleet(ns, NAME, 3);
    await waitServing(fleet, 3);
  });

  afterAll(async () => {
    keepLogs('conflicts', { operator: operator?.process, fleet: fleet?.process });
    await operator?.stop();
    await fleet?.stop();
    await stopNetnsProcesses();
    const { path, table } = writeFiguresTable();
    process.stdout.write(`\n${table}\n(figures in ${path})\n`);
  });

  it('for 30 s while the load drops: nothing is written, nothing is cut; then it drains the empty backend', async () => {
    const cutBefore = await settle(fleet, { active: 8, serving: 3 });
    const before = await snapshot(ns, NAME);
    const on = await operator.setConflicts(true);
    const start = Date.now();
    const guard = watchNoScaleDown(fleet, 3);
    await dropLoadTo(fleet, 4);
    await sleep(CONFLICTS_MS - (Date.now() - start));
    const during = await guard.stop();
    const state = await operator.setConflicts(false);
    const end = Date.now();
    // The operator tried (drain patches, status) and every write was refused: the fleet is as it was.
    expect(state.conflicts).toBeGreaterThan(0);
    expect(during.violations).toEqual([]);
    const stale = await snapshot(ns, NAME);
    expect(stale.active).toBe(before.active);

    const r = await waitRecovered(fleet, { active: 4, serving: 2 }, end, 120_000);
    const cut = sessionsCut(await fleet.control.state()) - cutBefore;
    recordFigure({
      order: 20,
      fault: '409 Conflict on every write for 30 s (operator transport)',
      during: `load 8 → 4 sessions (3 → 2 backends); ${state.conflicts} writes refused in ${state.reconciles - on.reconciles} reconciles (the per-key backoff doubles from 5 ms on each conflict), no drain written`,
      cut,
      statusMs: r.statusMs,
      fleetMs: r.fleetMs,
      measured: 'from the writes going through again (the next attempt waits out the backoff); fleet: the empty backend drained and removed',
    });
    expect(cut).toBe(0);
  });
});
