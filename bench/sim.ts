// npm run bench:sim — how many concurrent simulated sessions one sim-worker process and one
// load-generator process sustain on this machine, and at what CPU.
//
// One sim-worker runs as a child process (the real CLI, --max-sessions raised, bound to
// 127.0.0.1, port chosen by the OS); this process is the load generator (the library behind
// `loadtest`). For each level, N long-lived conversations ramp up; the hold starts once every one
// of them is open (a saturated worker answers upgrades seconds late: measuring from a fixed time
// would count its ramp-up work and sessions not yet open, or already ending), lasts HOLD_MS, and
// then the client ends them all. During the hold
// we measure both processes' CPU (process.cpuUsage, 100% = one core), RSS, event-loop delay, and
// the LLM/TTS latencies the clients see against the configured ones (a saturated process shows
// up as inflated latencies). Two modes: "full" (Unmute's 80 ms audio both ways) and "cheap"
// (--audio-frames=false on the worker, 400 ms chunks from the clients, no additional outputs).
// Bounded: every level has a fixed duration, the whole bench stops by itself in < 2 minutes.
// `--modes pipeline,cheap` runs only those modes.
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { LiveCounters, runPlan } from '../src/sim/loadgen/runner.ts';
import { buildReport } from '../src/sim/loadgen/stats.ts';
import { staticTargets } from '../src/sim/loadgen/targets.ts';
import { seededRng } from '../src/sim/random.ts';
import { cpuSecondsOf } from '../scripts/cluster/procs.ts';

const HARD_LIMIT_MS = 115_000;
const RAMP_MS = 3000;
const HOLD_MS = 5000;
/** Longest wait after the ramp for every session to be open; a level that needs more is not sustained. */
const OPEN_WAIT_MS = 5000;
const CONFIGURED = { llmMedianMs: 250, ttsMedianMs: 320 }; // sim-worker defaults (lognormal medians)
const GOAL = 500;
/** Event-loop delay allowed on top of what an idle process sees on this (possibly shared) machine. */
const LOOP_P99_MARGIN_MS = 100;
let baselineLoopP99Ms = 0;

interface Mode {
  name: string;
  workerFlags: string[];
  chunkMs: number;
  levels: number[];
  /** Real Opus from the clients (decoded by the worker) or stand-in packets. */
  realAudio: boolean;
  /** Run the STT, TTS and LLM as simulated moshi-server and vLLM processes (the whole pipeline). */
  pipeline?: boolean;
}

const MODES: Mode[] = [
  // The worker decodes every client's Opus (libopus in WebAssembly) for its STT: most of the cost.
  { name: 'full', workerFlags: [], chunkMs: 80, levels: [100, 200, 400], realAudio: true },
  // The same, with the STT, TTS and LLM as separate server processes reached over the network.
  { name: 'pipeline', workerFlags: [], chunkMs: 80, levels: [50, 100, 200], realAudio: true, pipeline: true },
  { name: 'cheap', workerFlags: ['--audio-frames', 'false', '--additional-outputs-ms', '0', '--decode-audio', 'false'], chunkMs: 400, levels: [1000, 2000], realAudio: false },
];

interface WorkerState {
  running: number;
  activeSessions: number;
  process: { cpuUserUs: number; cpuSystemUs: number; rssBytes: number; eventLoopDelayP99Ms: number | null };
}

const started = performance.now();
const repo = new URL('../', import.meta.url).pathname;
const children: ChildProcess[] = [];

const killer = setTimeout(() => {
  process.stderr.write('bench:sim: hard time limit reached, stopping\n');
  for (const c of children) c.kill('SIGKILL');
  process.exit(3);
}, HARD_LIMIT_MS);
killer.unref();

async function startSim(args: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(`${repo}node_modules/.bin/node`, ['src/sim/cli/main.ts', ...args], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on ((?:http|ws):\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, proc });
    });
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${out}`)));
  });
}

/** The worker, and for the pipeline mode its STT, TTS and vLLM processes (URLs handed over as Unmute's env). */
async function startWorker(mode: Mode): Promise<{ url: string; procs: ChildProcess[] }> {
  const procs: ChildProcess[] = [];
  const flags = [...mode.workerFlags];
  if (mode.pipeline === true) {
    const stt = await startSim(['moshi', '--kind', 'stt', '--port', '0', '--batch-size', '4096']);
    const tts = await startSim(['moshi', '--kind', 'tts', '--port', '0', '--batch-size', '4096']);
    const llm = await startSim(['vllm', '--model', 'sim/model', '--port', '0']);
    procs.push(stt.proc, tts.proc, llm.proc);
    flags.push('--stt-url', stt.url, '--tts-url', tts.url, '--llm-url', llm.url, '--llm-model', 'sim/model');
  }
  const w = await startSim(['worker', '--host', '127.0.0.1', '--port', '0', '--max-sessions', '5000', ...flags]);
  return { url: w.url, procs: [w.proc, ...procs] };
}

/** CPU time (µs) of a child process so far, from /proc (Linux). */
function procCpuUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return cpuSecondsOf(pid) * 1e6;
  } catch {
    return 0;
  }
}

async function workerState(url: string): Promise<WorkerState> {
  return (await (await fetch(`${url}/sim/state`)).json()) as WorkerState;
}

/** Server-side CPU (worker + STT/TTS/LLM processes) per simulated session, % of one core. */
const perSession = (r: { workerCpu: number; servicesCpu: number; sessions: number }): number => Math.round(((r.workerCpu + r.servicesCpu) / r.sessions) * 1000) / 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (cpuUs: number, wallMs: number): number => Math.round((cpuUs / (wallMs * 1000)) * 1000) / 10;

interface Row {
  mode: string;
  sessions: number;
  /** Sessions open (client side) through the whole hold: at its start and at its end. */
  open: number;
  /** Sessions the server dropped or refused, or that failed (the client ends the others itself). */
  lost: number;
  /** Connect -> upgrade, p95: how late a busy worker answers new callers. */
  upgradeP95: number | undefined;
  workerCpu: number;
  /** The STT, TTS and vLLM processes together (pipeline mode). */
  servicesCpu: number;
  loadgenCpu: number;
  workerRssMb: number;
  loadgenRssMb: number;
  workerLoopP99Ms: number | null;
  loadgenLoopP99Ms: number;
  llmP50: number | undefined;
  llmP95: number | undefined;
  ttsP50: number | undefined;
  ttsP95: number | undefined;
  replies: number;
}

async function runLevel(mode: Mode, url: string, n: number, services: ChildProcess[]): Promise<Row> {
  const live = new LiveCounters();
  const end = new AbortController();
  // Sessions outlast any hold; the client ends them all once it is measured.
  const plan = Array.from({ length: n }, (_, i) => ({ atMs: (RAMP_MS * i) / n, durationMs: 10 * 60_000 }));
  const run = runPlan({
    picker: staticTargets([url]),
    plan,
    session: { chunkMs: mode.chunkMs, rng: seededRng(n), speechMs: { kind: 'uniform', min: 1000, max: 3000 }, replyTimeoutMs: 30_000, realAudio: mode.realAudio, backendMaxSessions: 5000 },
    // A safety net only: the client ends the sessions itself after the hold, however late a
    // saturated worker answers the state reads.
    deadlineMs: 90_000,
    live,
    signal: end.signal,
  });
  const lostSoFar = (): number => live.done.dropped + live.done.refused + live.done.failed;
  const openBy = performance.now() + RAMP_MS + OPEN_WAIT_MS;
  await sleep(RAMP_MS);
  while (live.open + lostSoFar() < n && performance.now() < openBy) await sleep(100);
  await sleep(300);
  // Measure over the hold, with every session that made it open.
  const openAtStart = live.open;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const w0 = await workerState(url);
  const s0 = services.reduce((a, p) => a + procCpuUs(p.pid), 0);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(HOLD_MS);
  const w1 = await workerState(url);
  const s1 = services.reduce((a, p) => a + procCpuUs(p.pid), 0);
  const c1 = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  const openAtEnd = Math.min(live.open, w1.running);
  loop.disable();
  end.abort();
  const result = await run;
  const report = buildReport(result.results, { wallMs: result.wallMs });
  return {
    mode: mode.name,
    sessions: n,
    open: Math.min(openAtStart, openAtEnd),
    lost: report.sessions.dropped + report.sessions.refused + report.sessions.failed,
    upgradeP95: report.latencyMs.upgrade.p95,
    workerCpu: pct(w1.process.cpuUserUs + w1.process.cpuSystemUs - w0.process.cpuUserUs - w0.process.cpuSystemUs, wall),
    servicesCpu: pct(s1 - s0, wall),
    loadgenCpu: pct(c1.user + c1.system, wall),
    workerRssMb: Math.round(w1.process.rssBytes / 1e6),
    loadgenRssMb: Math.round(process.memoryUsage().rss / 1e6),
    workerLoopP99Ms: w1.process.eventLoopDelayP99Ms === null ? null : Math.round(w1.process.eventLoopDelayP99Ms),
    loadgenLoopP99Ms: Math.round(loop.percentile(99) / 1e6),
    llmP50: report.latencyMs.llm.p50,
    llmP95: report.latencyMs.llm.p95,
    ttsP50: report.latencyMs.ttsStart.p50,
    ttsP95: report.latencyMs.ttsStart.p95,
    replies: report.replies.total,
  };
}

/**
 * A level is sustained when every session opened and stayed open, none was lost, both processes kept up with
 * real time (event-loop delay p99 within 100 ms of an idle process' on this machine, about one
 * 80 ms audio frame), and the latencies the
 * clients measured stayed within 20% of the configured medians. The machine may be shared: other
 * processes' load shows up in the latencies too, so the CPU figures are the ones to extrapolate from.
 */
function sustained(r: Row): boolean {
  return (
    r.lost === 0 &&
    r.open === r.sessions &&
    (r.workerLoopP99Ms ?? 0) < baselineLoopP99Ms + LOOP_P99_MARGIN_MS &&
    r.loadgenLoopP99Ms < baselineLoopP99Ms + LOOP_P99_MARGIN_MS &&
    (r.llmP50 ?? Infinity) < CONFIGURED.llmMedianMs * 1.2 &&
    (r.ttsP50 ?? Infinity) < CONFIGURED.ttsMedianMs * 1.2
  );
}

/** `--modes a,b`: the modes to run (default all). */
function modesArg(): string[] | undefined {
  const i = process.argv.indexOf('--modes');
  if (i < 0) return undefined;
  const names = (process.argv[i + 1] ?? '').split(',').filter((x) => x !== '');
  const unknown = names.filter((n) => !MODES.some((m) => m.name === n));
  if (names.length === 0 || unknown.length > 0) throw new Error(`--modes: expected some of ${MODES.map((m) => m.name).join(',')}`);
  return names;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const os = await import('node:os');
  // How late timers fire in an idle process right now: the machine's own contention.
  const idle = monitorEventLoopDelay({ resolution: 10 });
  idle.enable();
  await sleep(1500);
  idle.disable();
  baselineLoopP99Ms = Math.round(idle.percentile(99) / 1e6);
  process.stdout.write(
    `bench:sim on ${os.cpus().length} CPU(s), load average ${os.loadavg()[0]!.toFixed(2)}, idle event-loop p99 ${baselineLoopP99Ms} ms; ramp ${RAMP_MS / 1000}s, hold ${HOLD_MS / 1000}s per level; CPU 100% = one core\n`,
  );
  const only = modesArg();
  for (const mode of MODES) {
    if (only !== undefined && !only.includes(mode.name)) continue;
    const { url, procs } = await startWorker(mode);
    try {
      for (const n of mode.levels) {
        if (performance.now() - started > HARD_LIMIT_MS - (RAMP_MS + OPEN_WAIT_MS + HOLD_MS + 8000)) {
          process.stdout.write(`  (skipping ${mode.name} ${n}: time budget)\n`);
          continue;
        }
        const row = await runLevel(mode, url, n, procs.slice(1));
        rows.push(row);
        process.stdout.write(
          `  ${mode.name.padEnd(8)} ${String(n).padStart(5)} sessions: worker ${row.workerCpu}% CPU ${row.workerRssMb} MB${mode.pipeline ? `, stt+tts+llm ${row.servicesCpu}% CPU` : ''}, per session ${perSession(row)}% CPU, loadgen ${row.loadgenCpu}% CPU ${row.loadgenRssMb} MB, llm p50/p95 ${row.llmP50}/${row.llmP95} ms, tts ${row.ttsP50}/${row.ttsP95} ms, upgrade p95 ${row.upgradeP95} ms, open ${row.open}, lost ${row.lost}, loop p99 ${row.workerLoopP99Ms}/${row.loadgenLoopP99Ms} ms${sustained(row) ? '' : '  <- not sustained'}\n`,
        );
        await sleep(500);
        if (!sustained(row)) break;
      }
    } finally {
      for (const proc of procs) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
    }
  }
  process.stdout.write('\n');
  const header = ['mode', 'sessions', 'worker CPU %', 'stt+tts+llm CPU %', 'server CPU % per session', 'loadgen CPU %', 'worker RSS MB', 'loadgen RSS MB', 'worker loop p99 ms', 'loadgen loop p99 ms', 'llm p50/p95 ms', 'tts start p50/p95 ms', 'ok'];
  const table = rows.map((r) => [
    r.mode,
    String(r.sessions),
    String(r.workerCpu),
    String(r.servicesCpu),
    String(perSession(r)),
    String(r.loadgenCpu),
    String(r.workerRssMb),
    String(r.loadgenRssMb),
    String(r.workerLoopP99Ms ?? '-'),
    String(r.loadgenLoopP99Ms),
    `${r.llmP50 ?? '-'}/${r.llmP95 ?? '-'}`,
    `${r.ttsP50 ?? '-'}/${r.ttsP95 ?? '-'}`,
    sustained(r) ? 'yes' : 'no',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  process.stdout.write(header.map((h, i) => h.padEnd(widths[i]!)).join('  ') + '\n');
  for (const row of table) process.stdout.write(row.map((c, i) => c.padEnd(widths[i]!)).join('  ') + '\n');
  for (const mode of MODES.filter((m) => only === undefined || only.includes(m.name))) {
    const best = rows.filter((r) => r.mode === mode.name && sustained(r)).reduce((m, r) => Math.max(m, r.sessions), 0);
    const goal = mode.name === 'cheap' ? GOAL : 0;
    process.stdout.write(`${mode.name}: sustained ${best} concurrent sessions per process${goal > 0 ? ` (goal ${goal}): ${best >= goal ? 'met' : 'NOT met'}` : ''}\n`);
  }
  process.stdout.write(`configured medians: llm ${CONFIGURED.llmMedianMs} ms, tts start ${CONFIGURED.ttsMedianMs} ms; total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

main().then(
  () => {
    clearTimeout(killer);
  },
  (err: unknown) => {
    process.stderr.write(`bench:sim: ${(err as Error).stack ?? String(err)}\n`);
    for (const c of children) c.kill('SIGKILL');
    process.exitCode = 1;
  },
);
