// Stall faults: a stalled backend answers /metrics, /v1/health and websocket upgrades only when the
// stall ends, and its sessions hear nothing meanwhile. In a process of its own the stall blocks the
// thread; among workers sharing a process (the fleet runner) it freezes only its own worker.
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST, TestClient, scrape, sleep } from './helpers.ts';
import { startSimWorker, type SimWorker, type SimWorkerOptions } from '../../../src/sim/worker/server.ts';

const workers: SimWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.shutdown()));
});
async function worker(opts: SimWorkerOptions = {}): Promise<SimWorker> {
  const w = await startSimWorker({ host: '127.0.0.1', port: 0, audioFrames: false, ...FAST, ...opts });
  workers.push(w);
  return w;
}

/** How long a GET takes, in ms. */
async function timed(url: string): Promise<number> {
  const t0 = performance.now();
  await (await fetch(url)).text();
  return performance.now() - t0;
}

async function postFaults(w: SimWorker, body: unknown): Promise<Response> {
  return fetch(`${w.url}/sim/faults`, { method: 'POST', body: JSON.stringify(body) });
}

describe('worker-scoped stalls (workers sharing a process)', () => {
  it('delays only the stalled worker: its /metrics, health and upgrades wait, the other worker and the thread run on', async () => {
    const sick = await worker({ stallScope: 'worker' });
    const well = await worker({ stallScope: 'worker' });
    let last = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
    }, 10);
    sick.staller.stall(1500);
    const [metrics, health, other] = await Promise.all([timed(`${sick.url}/metrics`), timed(`${sick.url}/v1/health`), timed(`${well.url}/metrics`)]);
    const t0 = performance.now();
    sick.staller.stall(800);
    const c = new TestClient(sick.url);
    await c.opened;
    const upgradeMs = performance.now() - t0;
    clearInterval(ticker);
    c.close();
    expect(metrics).toBeGreaterThan(1300);
    expect(health).toBeGreaterThan(1300);
    expect(upgradeMs).toBeGreaterThan(650);
    expect(other).toBeLessThan(500);
    expect(longestGap).toBeLessThan(400);
  });

  it('holds what a live session sends and reads until the stall ends, then delivers it in order', async () => {
    const w = await worker({ stallScope: 'worker' });
    const c = new TestClient(w.url);
    await c.opened;
    c.update();
    await c.waitFor((e) => e.type === 'session.updated');
    w.staller.stall(1000);
    const stalledAt = performance.now();
    c.send({ type: 'session.update', session: { instructions: { type: 'smalltalk' }, voice: 'x', allow_recording: false } });
    const second = await c.waitForNth('session.updated', 2, 5000);
    expect(second.at - stalledAt).toBeGreaterThan(850);
    c.close();
  });

  it('stalls at each new session (stall_per_session_ms set through /sim/faults), stalls adding up', async () => {
    const w = await worker({ stallScope: 'worker' });
    const res = await postFaults(w, { stall_per_session_ms: 700 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ stall_per_session_ms: 700 });
    const t0 = performance.now();
    const clients = [new TestClient(w.url), new TestClient(w.url)];
    await Promise.all(clients.map((c) => c.opened));
    // Two sessions started: the second is accepted when the first one's stall ends, then stalls
    // in turn, as on a blocked loop; /metrics answers after both.
    await timed(`${w.url}/metrics`);
    expect(performance.now() - t0).toBeGreaterThan(1300);
    for (const c of clients) c.close();
  });

  it('stalls periodically from stall_every_ms/stall_ms, and stops when they are set to 0', async () => {
    const w = await worker({ stallScope: 'worker' });
    await postFaults(w, { stall_every_ms: 400, stall_ms: 2500 });
    await sleep(450);
    expect(w.staller.frozen).toBe(true);
    // The simulator's /sim/* endpoints stay reachable while frozen: that is how a test lifts a stall.
    const t0 = performance.now();
    expect((await postFaults(w, { stall_every_ms: 0 })).status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(await timed(`${w.url}/metrics`)).toBeGreaterThan(1000); // the stall under way still ends first
    await sleep(600);
    expect(await timed(`${w.url}/metrics`)).toBeLessThan(400);
    expect((await scrape(w.url)).get('worker_active_sessions')).toBe(0);
  });

  it('answers between back-to-back stalls longer than their period, late, as a blocked loop does', async () => {
    const w = await worker({ stallScope: 'worker' });
    await postFaults(w, { stall_every_ms: 200, stall_ms: 1000 });
    await sleep(250);
    // Reads wait for the end of the stall under way, never for ever.
    const waits = [];
    for (let i = 0; i < 3; i++) waits.push(await timed(`${w.url}/metrics`));
    await postFaults(w, { stall_every_ms: 0 });
    for (const ms of waits) expect(ms).toBeLessThan(1400);
    expect(Math.max(...waits)).toBeGreaterThan(500);
  });

  it('rejects stall values that are not non-negative numbers', async () => {
    const w = await worker({ stallScope: 'worker' });
    expect((await postFaults(w, { stall_ms: -1 })).status).toBe(400);
    expect((await postFaults(w, { stall_every_ms: 'often' })).status).toBe(400);
  });
});

describe('process-scoped stalls (a worker process of its own)', () => {
  it('blocks the whole thread, as Python’s blocking call does', async () => {
    const w = await worker({ stallScope: 'process' });
    const t0 = performance.now();
    w.staller.stall(300);
    expect(performance.now() - t0).toBeGreaterThan(290);
    expect(w.staller.frozen).toBe(false);
  });
});
