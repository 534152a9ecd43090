// The fleet's control API sending sessions to a fixed target (a gateway) or to one given URL, and
// reporting each held session's connect -> upgrade time.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FleetControl, type FleetControlState } from '../../../src/sim/fleet/control.ts';
import type { PodRunner } from '../../../src/sim/fleet/pod-runner.ts';
import { staticTargets } from '../../../src/sim/loadgen/targets.ts';
import { startSimWorker, type SimWorker } from '../../../src/sim/worker/server.ts';
import { CHEAP_SESSION, CHEAP_WORKER } from '../../../src/sim/fleet/scenario.ts';

const noRunner = { workers: () => [], totals: { started: 0, stopped: 0, cutSessions: 0, preStopDrained: 0 } } as unknown as PodRunner;

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('FleetControl targets', () => {
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });

  const start = async (target: (w: SimWorker[]) => string, endpoints?: () => readonly string[]) => {
    const workers = [await startSimWorker({ ...CHEAP_WORKER, host: '127.0.0.1', port: 0 }), await startSimWorker({ ...CHEAP_WORKER, host: '127.0.0.1', port: 0 })];
    stops.push(async () => {
      for (const w of workers) await w.shutdown();
    });
    const control = await new FleetControl({
      socketPath: join(tmpdir(), `umf-control-test-${process.pid}.sock`),
      runner: noRunner,
      picker: staticTargets([target(workers)]),
      ...(endpoints ? { endpoints } : {}),
      session: CHEAP_SESSION,
    }).listen();
    stops.push(() => control.close());
    return { workers, control };
  };
  const opened = (s: FleetControlState, ids: number[]) => s.sessions.items.filter((i) => ids.includes(i.id) && i.opened);

  it('sends sessions to the fixed target, or to a URL given with the request, and shows their upgrade times', async () => {
    const { workers, control } = await start((w) => w[0]!.url, () => ['http://10.0.0.1:8000', 'http://10.0.0.2:8000']);
    const toTarget = control.openSessions(2);
    const toOther = control.openSessions(1, undefined, workers[1]!.url);
    const s = await until('3 sessions open', () => {
      const st = control.state();
      return opened(st, [...toTarget, ...toOther]).length === 3 ? st : undefined;
    });
    expect(workers.map((w) => w.stats().running)).toEqual([2, 1]);
    expect(s.sessions.heldByUrl).toEqual({ [workers[0]!.url]: 2, [workers[1]!.url]: 1 });
    for (const item of opened(s, toTarget)) expect(item.upgradeMs).toBeGreaterThan(0);
    // The Service's endpoints and where sessions go are reported apart.
    expect(s.endpoints).toEqual(['http://10.0.0.1:8000', 'http://10.0.0.2:8000']);
    expect(s.targets).toEqual([workers[0]!.url]);
  });

  it('keeps the path of a target: a backend reached at /api without a gateway rewriting it refuses the upgrade', async () => {
    const { workers, control } = await start((w) => `${w[0]!.url}/api`);
    control.openSessions(1);
    const s = await until('the session refused', () => {
      const st = control.state();
      return st.sessions.outcomes['refused'] === 1 ? st : undefined;
    });
    expect(s.sessions.held).toBe(0);
    expect(workers[0]!.stats().sessionsTotal).toBe(0);
  });
});
