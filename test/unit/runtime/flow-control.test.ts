import { describe, expect, it } from 'vitest';
import { FlowControl } from '../../../src/runtime/flow-control.ts';
import { FakeClock } from './support/fake-clock.ts';

describe('flow control', () => {
  it('lets at most maxInFlight requests run, the next one starting when one finishes, in arrival order', async () => {
    const flow = new FlowControl({ qps: 0, burst: 1, maxInFlight: 2, clock: new FakeClock() });
    const started: number[] = [];
    const releases = new Map<number, () => void>();
    const all = [1, 2, 3, 4].map((n) => flow.acquire().then((release) => (started.push(n), releases.set(n, release))));
    await Promise.resolve();
    await Promise.resolve();
    expect(started).toEqual([1, 2]);
    expect(flow.waiting).toBe(2);
    releases.get(2)!();
    releases.get(2)!(); // a second call gives back nothing more
    await all[2];
    expect(started).toEqual([1, 2, 3]);
    expect(flow.inFlight).toBe(2);
    releases.get(1)!();
    await Promise.all(all);
    expect(started).toEqual([1, 2, 3, 4]);
  });

  it('starts a burst at once, then one request per 1/qps seconds', async () => {
    const clock = new FakeClock();
    const flow = new FlowControl({ qps: 10, burst: 3, maxInFlight: 100, clock });
    const started: number[] = [];
    for (let n = 0; n < 6; n++) void flow.acquire().then((release) => (started.push(clock.now()), release()));
    await clock.advance(0);
    expect(started).toHaveLength(3);
    await clock.advance(100);
    expect(started).toHaveLength(4);
    await clock.advance(200);
    expect(started).toHaveLength(6);
    expect(started.at(-1)! - started[0]!).toBe(300);
  });

  it('drops a waiter whose signal aborts, and lets the others through', async () => {
    const flow = new FlowControl({ qps: 0, burst: 1, maxInFlight: 1, clock: new FakeClock() });
    const first = await flow.acquire();
    const abort = new AbortController();
    const cancelled = flow.acquire(abort.signal);
    const next = flow.acquire();
    abort.abort(new Error('stop'));
    await expect(cancelled).rejects.toThrow('stop');
    first();
    const release = await next;
    expect(flow.inFlight).toBe(1);
    release();
    expect(flow.inFlight).toBe(0);
  });
});
