// The load generator against simulated workers with known latencies: it must measure them back,
// and count every way a session can end. Traffic only to 127.0.0.1; every run is bounded.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHealth, fetchVoice } from '../../../src/sim/loadgen/preflight.ts';
import { planSessions, parseProfile } from '../../../src/sim/loadgen/profile.ts';
import { runClosedLoop, runPlan } from '../../../src/sim/loadgen/runner.ts';
import { startSession } from '../../../src/sim/loadgen/session.ts';
import { buildReport, formatReport } from '../../../src/sim/loadgen/stats.ts';
import { staticTargets } from '../../../src/sim/loadgen/targets.ts';
import { seededRng } from '../../../src/sim/random.ts';
import { startSimWorker, type SimWorker } from '../../../src/sim/worker/server.ts';

const repo = new URL('../../../', import.meta.url).pathname;
const workers: SimWorker[] = [];
async function worker(opts: Parameters<typeof startSimWorker>[0] = {}): Promise<SimWorker> {
  const w = await startSimWorker({ host: '127.0.0.1', port: 0, ...opts });
  workers.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.shutdown()));
});

const constant = (value: number) => ({ kind: 'constant' as const, value });
// Simulated latencies the client must measure back.
const KNOWN = { stt: 300, llm: 200, tts: 250 };
// Tolerance: timers on a loaded 2-core machine; the measured values are the simulated ones plus
// event-loop and socket delays (about a millisecond when idle).
const P50_TOLERANCE_MS = 50;
const P95_TOLERANCE_MS = 120;

describe('loadtest against sim-worker', () => {
  it('reports the simulated STT, LLM and TTS-start latencies back within tolerance', async () => {
    const w = await worker({
      sttDelayMs: constant(KNOWN.stt),
      llmTtftMs: constant(KNOWN.llm),
      ttsTtftMs: constant(KNOWN.tts),
      replyWords: constant(4),
      ttsMsPerWord: 100,
      vadSilenceMs: 300,
    });
    await checkHealth(w.url);
    const voice = await fetchVoice(w.url);
    expect(voice).toBe('unmute-prod-website/p329_022.wav');
    const run = await runClosedLoop({
      picker: staticTargets([w.url]),
      workers: 4,
      conversations: 4,
      rampUpMs: 200,
      session: { turns: 2, speechMs: constant(400), voice, rng: seededRng(1) },
      deadlineMs: 30_000,
    });
    const report = buildReport(run.results, { wallMs: run.wallMs });
    expect(report.sessions).toMatchObject({ total: 4, completed: 4 });
    expect(report.userTurns).toBe(8);
    expect(report.latencyMs.stt.count).toBe(8);
    expect(report.latencyMs.llm.count).toBe(12); // greeting + 2 replies per session
    for (const [key, known] of [['stt', KNOWN.stt], ['llm', KNOWN.llm], ['ttsStart', KNOWN.tts]] as const) {
      const s = report.latencyMs[key];
      expect(Math.abs(s.p50! - known), `${key} p50 ${s.p50}`).toBeLessThan(P50_TOLERANCE_MS);
      expect(Math.abs(s.p95! - known), `${key} p95 ${s.p95}`).toBeLessThan(P95_TOLERANCE_MS);
    }
    // The user waits: end of speech -> response.created (VAD) + LLM + TTS.
    expect(report.latencyMs.response.p50!).toBeGreaterThan(KNOWN.llm + KNOWN.tts + 200);
    expect(report.latencyMs.upgrade.count).toBe(4);
    expect(report.latencyMs.queued.count).toBe(0); // nobody waited for a slot
  }, 40_000);

  it('counts dropped sessions with their close codes and refused upgrades', async () => {
    const full = await worker({ sttSlots: 1, replyWords: constant(3), ttsMsPerWord: 100 });
    const stopping = await worker({ maxSessions: 2, replyWords: constant(3), ttsMsPerWord: 100 });
    const picker = staticTargets([full.url, stopping.url]);
    // 6 sessions of 3 s, round robin: `full` refuses its 2nd and 3rd with 1011 (no STT slot);
    // `stopping` runs 2 and queues 1, then gets SIGTERM-like shutdown: 1012, and HTTP 500 for the queued one.
    const plan = Array.from({ length: 6 }, (_, i) => ({ atMs: i * 20, durationMs: 3000 }));
    const running = runPlan({ picker, plan, session: { rng: seededRng(2) }, deadlineMs: 20_000 });
    await new Promise((r) => setTimeout(r, 800));
    expect(stopping.stats()).toMatchObject({ running: 2, queued: 1 });
    await stopping.shutdown();
    const run = await running;
    const report = buildReport(run.results, { wallMs: run.wallMs });
    expect(report.sessions).toMatchObject({ total: 6, completed: 1, dropped: 4, refused: 1 });
    expect(report.dropCloseCodes).toEqual({ '1011': 2, '1012': 2 });
    expect(report.httpStatuses).toEqual({ '500': 1 });
    const fatal = run.results.find((r) => r.closeCode === 1011)!;
    expect(fatal.serverErrors[0]).toMatchObject({ type: 'fatal' });
    expect(fatal.closeReason).toMatch(/Too many people/);
  }, 30_000);

  it('ends sessions after durationMs whatever their state, and refuses when nothing listens', async () => {
    const w = await worker();
    const r = await startSession({ url: w.url, durationMs: 700, rng: seededRng(3) });
    expect(r).toMatchObject({ outcome: 'completed', closedBy: 'client', closeCode: 1000 });
    expect(r.durationMs).toBeGreaterThan(650);
    expect(r.durationMs).toBeLessThan(1500);
    await w.shutdown();
    const refused = await startSession({ url: w.url, turns: 1 });
    expect(refused.outcome).toBe('refused');
    expect(refused.error).toBe('ECONNREFUSED');
  });

  it('gives up waiting for a slot after connectTimeoutMs, recording the time queued', async () => {
    const w = await worker({ maxSessions: 1 });
    const holder = startSession({ url: w.url, durationMs: 1500 });
    await new Promise((r) => setTimeout(r, 100));
    const waiter = await startSession({ url: w.url, turns: 1, connectTimeoutMs: 400 });
    expect(waiter.outcome).toBe('failed');
    expect(waiter.error).toMatch(/timed out/i);
    expect((await holder).outcome).toBe('completed');
  });

  it('tells a wait for a slot from a slow server that had a slot free', async () => {
    // One slot: the second caller waits for it (the backend shows 2 > 1 active sessions).
    const full = await worker({ maxSessions: 1 });
    const holder = startSession({ url: full.url, durationMs: 1200, backendMaxSessions: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const waiter = await startSession({ url: full.url, turns: 0, durationMs: 100, backendMaxSessions: 1 });
    expect(waiter.queueCause).toBe('slot');
    expect(waiter.queuedMs!).toBeGreaterThan(800);
    // Free slots, but the backend stalls: its upgrade and /metrics are late alike.
    const stalled = await worker({ stallScope: 'worker' });
    stalled.staller.stall(1000);
    const late = await startSession({ url: stalled.url, turns: 0, durationMs: 100 });
    expect(late.queueCause).toBe('slow-server');
    expect(late.queuedMs!).toBeGreaterThan(800);
    const report = buildReport([await holder, waiter, late], { wallMs: 1 });
    expect(report.queueCauses).toEqual({ slot: 1, slowServer: 1 });
    expect(report.latencyMs.upgrade.count).toBe(3);
    expect(report.latencyMs.queued).toMatchObject({ count: 1, max: Math.round(waiter.queuedMs! * 10) / 10 });
    expect(report.latencyMs.slowServer).toMatchObject({ count: 1, max: Math.round(late.queuedMs! * 10) / 10 });
    expect(formatReport(report)).toMatch(/late upgrades: 1 waited for a slot .*, 1 on a slow server with a slot free/);
  });

  it('tells which target each planned session was given before it connects, and pairs its result with it', async () => {
    // Nothing listens on either port: every session fails fast, in whatever order.
    const picker = staticTargets(['http://127.0.0.1:9', 'http://127.0.0.1:7']);
    const picked = new Map<number, string | undefined>();
    const pairs: Array<[number, string]> = [];
    const plan = [0, 5, 10, 15].map((atMs) => ({ atMs, durationMs: 1000 }));
    await runPlan({
      picker,
      plan,
      session: {},
      deadlineMs: 10_000,
      onPick: (i, url) => {
        expect(picked.has(i)).toBe(false);
        picked.set(i, url);
      },
      onIndexedResult: (i, r) => pairs.push([i, r.url]),
    });
    expect([...picked.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect([...picked.values()]).toEqual(['http://127.0.0.1:9', 'http://127.0.0.1:7', 'http://127.0.0.1:9', 'http://127.0.0.1:7']);
    expect(pairs).toHaveLength(4);
    for (const [i, url] of pairs) expect(url).toBe(picked.get(i));
  });

  it('replays a compressed trace through the CLI and prints a JSON report', async () => {
    const w = await worker({ maxSessions: 200, replyWords: constant(2), ttsMsPerWord: 100, llmTtftMs: constant(100), ttsTtftMs: constant(100) });
    // 300/min for 20 s of trace time, x4 -> 100 arrivals over 5 s; each lasts 4 s of trace = 1 s.
    const args = ['src/sim/cli/main.ts', 'loadtest', '--server-url', w.url, '--profile', 'constant:300', '--trace-duration', '20s', '--time-scale', '4',
      '--session-duration', '4s', '--arrivals', 'uniform', '--json', '--deadline', '30s'];
    const proc = spawn(`${repo}node_modules/.bin/node`, args, { cwd: repo });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out) as ReturnType<typeof buildReport>;
    expect(report.sessions).toMatchObject({ total: 100, completed: 100 });
    expect(report.wallMs).toBeLessThan(9000);
    expect(w.stats().sessionsTotal).toBe(100);
  }, 40_000);

  it('plans the same trace for the same seed (pure given the RNG)', () => {
    const mk = () => planSessions({ profile: parseProfile('spike:10,100,30s,10s'), traceMs: 60_000, timeScale: 10, sessionDuration: { kind: 'lognormal', median: 60_000, sigma: 0.5 }, rng: seededRng(9) });
    expect(mk()).toEqual(mk());
  });
});
