// npm run bench:scale [-- --backends 2000 --fleets 100 --steady-s 30 --step-sessions 4 --step-fleets N
//                        --pad-kb 0 --runners 2 --workers N --timeout-s S --operator-log PATH
//                        --operator-node-options '--max-semi-space-size=4']
//
// What reading every backend's /metrics at the default 5 s interval costs the operator, at the
// scale of a large Unmute platform. On a full local cluster (real kube-apiserver, controller-
// manager, scheduler; KWOK nodes generated here with room for the backends; pods deleted by KWOK):
//   1. --fleets UnmuteDeployments with autoscaling (backends only: STT/TTS at 0 replicas, LLM
//      external), --backends / --fleets backends each (minReplicas), spread over namespaces of 10;
//   2. every backend pod is played by a GaugeBackend (src/sim/fleet/gauge-backend.ts): an HTTP
//      server on the pod's IP serving only worker_active_sessions (1 at the start; --pad-kb adds
//      other metrics' lines around it, 30 is the size of Unmute's exposition), hundreds per
//      process in --runners processes (pod runners, src/sim/fleet/pod-runner.ts);
//   3. the real operator process (`unmute-operator run`, --workers, default scrape concurrency)
//      reads them; once every backend is served and read, a steady window of --steady-s:
//        cores     = process_cpu_seconds_total delta / window (the operator's own /metrics),
//        rss_mib   = VmRSS of the operator at the window's end (/proc; rss_hwm_mib: VmHWM),
//        reads/s, read p50/p99 = unmute_operator_session_read_duration_seconds deltas over the window;
//   4. load step: the gauge of every backend of the first --step-fleets fleets (default all) goes
//      to --step-sessions at once (above the target of 3 per pod); decision_s = the longest, over
//      those fleets, from the step to the backend Deployment's replicas being raised (watched).
//      Also reported, to say why a decision waits: the operator's passes per second, queue depth,
//      CPU, API writes and mean API request time between the step and the last decision.
//      Goals: ≤ 0.25 core, ≤ 300 MiB, decision ≤ 2 intervals.
// --operator-log PATH keeps the operator's log (debug level; costs it CPU, so not for figures).
// Everything but the cluster runs inside the cluster's network namespace (pod IPs exist only
// there): one inner process (--inner) which starts the operator and the runners (--runner).
// Prints a table and, last, one JSON line. Bounded: a hard deadline (--timeout-s) and SIGINT/
// SIGTERM stop every process and the cluster. A small run: --backends 200 --fleets 20.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { NetnsProcesses } from '../scripts/cluster/netns-node.ts';
import { startCluster, stopCluster, type Cluster } from '../scripts/cluster/harness.ts';
import { autoscaling } from '../src/api/v1alpha1/autoscaling.ts';
import { OPERATOR_ENV, operatorNodeArgs } from '../src/cli/node-flags.ts';
import { LABEL_APP_COMPONENT, LABEL_APP_INSTANCE, LABEL_APP_MANAGED_BY, MANAGED_BY } from '../src/api/v1alpha1/labels.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { sessionReadMetricNames } from '../src/observability/metrics.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { createInformer } from '../src/runtime/informer.ts';
import { KubeClient } from '../src/runtime/kube-client.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import { GaugeBackend } from '../src/sim/fleet/gauge-backend.ts';
import { operatorFleet, type FleetShape } from '../src/sim/fleet/fleets.ts';
import { PodRunner } from '../src/sim/fleet/pod-runner.ts';

const self = fileURLToPath(import.meta.url);
const repo = fileURLToPath(new URL('../', import.meta.url));
const log = (m: string) => process.stderr.write(`bench:scale: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FLEETS_PER_NAMESPACE = 10;
/** Sessions every backend reports before the step: below the target, so nothing scales. */
const BASE_SESSIONS = 1;
const TARGET_SESSIONS_PER_POD = 3;
/** Far from full, so load-aware routing's fast path has no backend to follow (it would add its own reads). */
const MAX_SESSIONS_PER_POD = 8;
const INTERVAL_S = autoscaling.parse({}).intervalSeconds;
/** Inside the cluster's netns (its own loopback): the operator's /metrics and probes. */
const OPERATOR_METRICS = '127.0.0.1:18095';
const OPERATOR_HEALTH = '127.0.0.1:18096';
const PODS_PER_NODE = 250;

const Args = z
  .object({
    backends: z.coerce.number().int().min(1).max(10_000).default(2000),
    fleets: z.coerce.number().int().min(1).max(1000).default(100),
    'steady-s': z.coerce.number().int().min(5).max(600).default(30),
    'step-sessions': z.coerce.number().int().min(TARGET_SESSIONS_PER_POD + 1).max(MAX_SESSIONS_PER_POD - 2).default(4),
    'pad-kb': z.coerce.number().min(0).max(256).default(0),
    /** How many fleets get the load step (the first ones); default all: the worst case, every fleet deciding at once. */
    'step-fleets': z.coerce.number().int().min(1).max(1000).optional(),
    runners: z.coerce.number().int().min(1).max(16).default(2),
    /** The operator's --workers; default its own default. */
    workers: z.coerce.number().int().min(1).max(64).optional(),
    'timeout-s': z.coerce.number().int().min(60).max(7200).optional(),
    /** NODE_OPTIONS of the operator process only (V8 heap flags, for example). */
    'operator-node-options': z.string().max(500).optional(),
    /** Keeps the operator's log (level info) in this file. */
    'operator-log': z.string().optional(),
  })
  .refine((a) => a.backends % a.fleets === 0, { message: '--backends must be a multiple of --fleets (the same number of backends per fleet)', path: ['backends'] });
type Args = z.infer<typeof Args>;

// ---------------------------------------------------------------------------------------------
// Runner: plays the backend pods of some namespaces with gauge backends.

const RunnerConfig = z.object({
  kubeconfig: z.string(),
  namespaces: z.array(z.string()).min(1),
  stepSessions: z.number().int(),
  paddingBytes: z.number().int().min(0),
  /** namespace/fleet keys the step applies to. */
  stepFleets: z.array(z.string()),
});

async function runner(config: z.infer<typeof RunnerConfig>): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(config.kubeconfig);
  const client = await KubeClient.fromKubeConfig(kc);
  let stepped = false;
  const stepFleets = new Set(config.stepFleets);
  const steps = (pod: KubeObject) => stepFleets.has(`${pod.metadata.namespace}/${pod.metadata.labels?.[LABEL_APP_INSTANCE]}`);
  const sessionsOf = (pod: KubeObject) => (stepped && steps(pod) ? config.stepSessions : BASE_SESSIONS);
  const backends = new Map<GaugeBackend, KubeObject>();
  const runners = config.namespaces.map(
    (namespace) =>
      new PodRunner({
        client,
        namespace,
        labelSelector: `${LABEL_APP_COMPONENT}=backend`,
        logger: silentLogger(),
        processFor: (pod, addr) => {
          // A kept connection outlives the 5 s interval here; Node's (and uvicorn's) default 5 s would race it.
          const b = new GaugeBackend({ host: addr.ip, port: addr.port, sessions: sessionsOf(pod), paddingBytes: config.paddingBytes, keepAliveTimeoutMs: 60_000 });
          const shutdown = b.shutdown.bind(b);
          backends.set(b, pod);
          b.shutdown = async () => {
            backends.delete(b);
            await shutdown();
          };
          return b;
        },
        onEvent: (e) => {
          if (e.type === 'error') process.stderr.write(`runner: ${e.pod}: ${e.message}\n`);
        },
      }),
  );
  const stop = async () => {
    await Promise.all(runners.map((r) => r.stop().catch(() => undefined)));
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // The load step: every backend, and every one started later, reports the new value at once.
  process.on('SIGUSR2', () => {
    stepped = true;
    for (const [b, pod] of backends) b.setSessions(sessionsOf(pod));
    process.stdout.write(`STEP ${Date.now()}\n`);
  });
  await Promise.all(runners.map((r) => r.start()));
  for (;;) {
    let reads = 0;
    for (const b of backends.keys()) reads += b.reads;
    process.stdout.write(`SERVED ${backends.size} ${reads}\n`);
    await sleep(1000);
  }
}

// ---------------------------------------------------------------------------------------------
// Inner: the run, inside the cluster's network namespace.

const InnerConfig = z.object({ kubeconfig: z.string(), args: z.record(z.string(), z.unknown()), deadlineMs: z.number() });

interface Child {
  name: string;
  proc: ChildProcess;
  out: string;
  err: string;
}

function child(name: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const c: Child = { name, proc, out: '', err: '' };
  proc.on('exit', (code, signal) => log(`${name} (pid ${proc.pid}) exited: ${code ?? signal}`));
  proc.stdout!.on('data', (d: Buffer) => {
    c.out += d.toString();
    // Only the latest lines matter (progress), keep the buffer small.
    if (c.out.length > 1_000_000) c.out = c.out.slice(-100_000);
  });
  proc.stderr!.on('data', (d: Buffer) => {
    c.err += d.toString();
    if (c.err.length > 1_000_000) c.err = c.err.slice(-100_000);
  });
  return c;
}

/** The last `KEY ...` line a child printed, split. */
function lastLine(c: Child, key: string): string[] | undefined {
  const lines = c.out.split('\n').filter((l) => l.startsWith(`${key} `));
  return lines.at(-1)?.split(' ').slice(1);
}

interface Sample {
  atMs: number;
  cpuSeconds: number;
  /** le -> cumulative count, over both results. */
  buckets: Map<number, number>;
  count: number;
  errors: number;
  staleRetries: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  /** Passes of the main controller so far, and its queue's depth now. */
  reconciles: number;
  depth: number;
  /** API requests of the operator so far (count, seconds summed, writes). */
  apiCount: number;
  apiSeconds: number;
  apiWrites: number;
}

/** Parses the lines of the operator's exposition that the benchmark needs. */
function sample(text: string): Sample {
  const buckets = new Map<number, number>();
  let count = 0;
  let errors = 0;
  let cpuSeconds = NaN;
  let staleRetries = 0;
  let heapUsedMiB = NaN;
  let heapTotalMiB = NaN;
  let externalMiB = NaN;
  let reconciles = 0;
  let depth = 0;
  let apiCount = 0;
  let apiSeconds = 0;
  let apiWrites = 0;
  const name = sessionReadMetricNames.readDuration;
  const value = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1));
  const main = 'controller="unmutedeployment"';
  for (const line of text.split('\n')) {
    if (line.startsWith('process_cpu_seconds_total ')) cpuSeconds = Number(line.split(' ')[1]);
    else if (line.startsWith('nodejs_heap_size_used_bytes ')) heapUsedMiB = Math.round(value(line) / 2 ** 20);
    else if (line.startsWith('nodejs_heap_size_total_bytes ')) heapTotalMiB = Math.round(value(line) / 2 ** 20);
    else if (line.startsWith('nodejs_external_memory_bytes ')) externalMiB = Math.round(value(line) / 2 ** 20);
    else if (line.startsWith('controller_runtime_reconcile_total{') && line.includes(main)) reconciles += value(line);
    else if (line.startsWith('workqueue_depth{') && line.includes('name="unmutedeployment"')) depth = value(line);
    else if (line.startsWith('rest_client_request_duration_seconds_count{')) apiCount += value(line);
    else if (line.startsWith('rest_client_request_duration_seconds_sum{')) apiSeconds += value(line);
    else if (line.startsWith('rest_client_requests_total{') && /method="(POST|PUT|PATCH|DELETE)"/.test(line)) apiWrites += value(line);
    else if (line.startsWith(`${sessionReadMetricNames.staleRetries} `)) staleRetries = Number(line.split(' ')[1]);
    else if (line.startsWith(`${name}_bucket{`)) {
      const le = /le="([^"]+)"/.exec(line)?.[1];
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      const key = le === '+Inf' ? Infinity : Number(le);
      buckets.set(key, (buckets.get(key) ?? 0) + v);
    } else if (line.startsWith(`${name}_count{`)) {
      const v = Number(line.slice(line.lastIndexOf(' ') + 1));
      count += v;
      if (line.includes('result="error"')) errors += v;
    }
  }
  return { atMs: Date.now(), cpuSeconds, buckets, count, errors, staleRetries, heapUsedMiB, heapTotalMiB, externalMiB, reconciles, depth, apiCount, apiSeconds, apiWrites };
}

/** A quantile of the reads between two samples, interpolated inside its bucket (as histogram_quantile). */
function quantile(q: number, a: Sample, b: Sample): number {
  const les = [...b.buckets.keys()].sort((x, y) => x - y);
  const total = (b.buckets.get(Infinity) ?? 0) - (a.buckets.get(Infinity) ?? 0);
  if (total <= 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = (b.buckets.get(le) ?? 0) - (a.buckets.get(le) ?? 0);
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

function procStatus(pid: number): { rssMiB: number; hwmMiB: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)\\s+kB`).exec(s)?.[1] ?? NaN);
  return { rssMiB: Math.round((kb('VmRSS') / 1024) * 10) / 10, hwmMiB: Math.round((kb('VmHWM') / 1024) * 10) / 10 };
}

async function operatorMetrics(): Promise<string> {
  const res = await fetch(`http://${OPERATOR_METRICS}/metrics`, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`operator /metrics: HTTP ${res.status}`);
  return res.text();
}

async function inner(config: z.infer<typeof InnerConfig>): Promise<void> {
  const args = Args.parse(config.args);
  const perFleet = args.backends / args.fleets;
  const kc = new KubeConfig();
  kc.loadFromFile(config.kubeconfig);
  const client = await KubeClient.fromKubeConfig(kc, { requestTimeoutMs: 60_000 });
  const children: Child[] = [];
  const killChildren = () => {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  };
  process.once('SIGTERM', () => {
    killChildren();
    process.exit(143);
  });
  const until = async (what: string, ok: () => boolean | Promise<boolean>, everyMs = 500) => {
    while (!(await ok())) {
      if (Date.now() > config.deadlineMs) throw new Error(`deadline reached waiting for ${what}`);
      for (const c of children) if (c.proc.exitCode !== null || c.proc.signalCode !== null) throw new Error(`${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}) while waiting for ${what}:\n${c.err.slice(-3000)}\n${c.out.slice(-3000)}`);
      await sleep(everyMs);
    }
  };

  try {
    const namespaces = Array.from({ length: Math.ceil(args.fleets / FLEETS_PER_NAMESPACE) }, (_, i) => `scale-${i}`);
    for (const ns of namespaces) await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

    const fleets = Array.from({ length: args.fleets }, (_, i) => ({ name: `fleet-${String(i).padStart(4, '0')}`, namespace: namespaces[Math.floor(i / FLEETS_PER_NAMESPACE)]! }));
    const stepped = fleets.slice(0, args['step-fleets'] ?? fleets.length);
    const stepFleets = stepped.map((f) => `${f.namespace}/${f.name}`);
    const runners = Array.from({ length: Math.min(args.runners, namespaces.length) }, (_, r) =>
      child(`runner ${r}`, [self, '--runner', JSON.stringify({ kubeconfig: config.kubeconfig, namespaces: namespaces.filter((_, i) => i % args.runners === r), stepSessions: args['step-sessions'], paddingBytes: Math.round(args['pad-kb'] * 1024), stepFleets })]),
    );
    children.push(...runners);
    // With the Node flags the image runs it with (src/cli/node-flags.ts): what is measured is what ships.
    const operator = child('operator', operatorNodeArgs([
      'run', '--kubeconfig', config.kubeconfig, '--no-leader-elect',
      '--metrics-bind-address', OPERATOR_METRICS, '--health-probe-bind-address', OPERATOR_HEALTH,
      '--log-level', args['operator-log'] === undefined ? 'warn' : 'debug',
      ...(args.workers === undefined ? [] : ['--workers', String(args.workers)]),
    ]), { ...OPERATOR_ENV, ...(args['operator-node-options'] === undefined ? {} : { NODE_OPTIONS: args['operator-node-options'] }) });
    children.push(operator);
    await until('the operator to be ready', async () => (await fetch(`http://${OPERATOR_HEALTH}/readyz`).catch(() => undefined))?.status === 200);

    // The backend Deployments' replicas, as the operator writes them (one watch).
    const replicas = new Map<string, { replicas: number; atMs: number }>();
    const deployments = createInformer<KubeObject & { spec?: { replicas?: number } }>(
      client,
      { apiVersion: 'apps/v1', kind: 'Deployment' },
      { labelSelector: `${LABEL_APP_COMPONENT}=backend,${LABEL_APP_MANAGED_BY}=${MANAGED_BY}` },
      { logger: silentLogger(), clock: systemClock() },
    );
    const track = (d: KubeObject & { spec?: { replicas?: number } }) => {
      const key = `${d.metadata.namespace}/${d.metadata.labels?.[LABEL_APP_INSTANCE]}`;
      const r = d.spec?.replicas ?? 0;
      if (replicas.get(key)?.replicas !== r) replicas.set(key, { replicas: r, atMs: Date.now() });
    };
    deployments.addHandler({ onAdd: track, onUpdate: (_, d) => track(d), onDelete: () => {} });
    const stopWatch = new AbortController();
    void deployments.start(stopWatch.signal);
    await deployments.waitForSync(stopWatch.signal);

    const shape: FleetShape = { minReplicas: perFleet, maxReplicas: perFleet * 3, targetSessionsPerPod: TARGET_SESSIONS_PER_POD, maxSessionsPerPod: MAX_SESSIONS_PER_POD, podStartDelay: '1s' };
    const defaults = autoscaling.parse({});
    const timing = { intervalSeconds: INTERVAL_S, metricsStaleSeconds: defaults.metricsStaleSeconds, scaleDownStabilizationSeconds: defaults.scaleDownStabilizationSeconds, drainTimeoutSeconds: defaults.drainTimeoutSeconds, drainGracePeriodSeconds: 60 };
    log(`creating ${args.fleets} fleets of ${perFleet} backends in ${namespaces.length} namespaces`);
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < fleets.length) {
          const f = fleets[next++]!;
          const cr = operatorFleet(f.name, f.namespace, shape, timing);
          // Backends only: the STT and TTS Deployments stay at 0 (followers off), the LLM is external.
          const spec = { ...cr.spec, stt: { ...cr.spec.stt, replicas: 0 }, tts: { ...cr.spec.tts, replicas: 0 } };
          await client.create({ ...cr, spec } as KubeObject);
        }
      }),
    );

    const served = () => runners.reduce((n, r) => n + Number(lastLine(r, 'SERVED')?.[0] ?? 0), 0);
    let lastReport = 0;
    await until(`${args.backends} backends served`, () => {
      if (Date.now() - lastReport > 10_000) {
        lastReport = Date.now();
        log(`${served()} of ${args.backends} backends served after ${Math.round((Date.now() - t0) / 1000)} s`);
      }
      return served() >= args.backends;
    });
    const servedS = (Date.now() - t0) / 1000;
    log(`all ${args.backends} backends served after ${servedS.toFixed(1)} s; warming up for 3 intervals`);
    // Every backend read at least once, connections opened, the caches settled.
    await sleep(3 * INTERVAL_S * 1000);
    const base = new Map([...replicas].map(([k, v]) => [k, v.replicas]));
    const unexpected = [...base].filter(([, r]) => r !== perFleet);
    if (unexpected.length > 0) log(`warning: ${unexpected.length} fleets not at ${perFleet} backends before the step: ${unexpected.slice(0, 3).map(([k, r]) => `${k}=${r}`).join(', ')}`);

    log(`steady window: ${args['steady-s']} s`);
    const s0 = sample(await operatorMetrics());
    let rssPeak = 0;
    const sampleRss = async () => {
      for (let t = 0; t < args['steady-s']; t++) {
        rssPeak = Math.max(rssPeak, procStatus(operator.proc.pid!).rssMiB);
        await sleep(1000);
      }
    };
    await sampleRss();
    const s1 = sample(await operatorMetrics());
    const mem = procStatus(operator.proc.pid!);
    const windowS = (s1.atMs - s0.atMs) / 1000;
    const cores = (s1.cpuSeconds - s0.cpuSeconds) / windowS;
    const reads = s1.count - s0.count;
    const readErrors = s1.errors - s0.errors;

    // The load step, on every fleet at once.
    log(`load step: the backends of ${stepped.length} fleet(s) to ${args['step-sessions']} sessions`);
    const stepAsked = Date.now();
    for (const r of runners) r.proc.kill('SIGUSR2');
    await until('the runners to apply the step', () => runners.every((r) => lastLine(r, 'STEP') !== undefined), 20);
    const stepMs = Math.min(...runners.map((r) => Number(lastLine(r, 'STEP')![0])));
    const stepDeadline = Math.min(config.deadlineMs, stepMs + 6 * INTERVAL_S * 1000);
    const decided = () => stepped.filter((f) => {
      const key = `${f.namespace}/${f.name}`;
      const now = replicas.get(key);
      return now !== undefined && now.replicas > (base.get(key) ?? perFleet) && now.atMs >= stepMs;
    });
    // What the operator does meanwhile: its passes, its queue, its CPU (why a decision waits).
    const a0 = sample(await operatorMetrics());
    let depthPeak = a0.depth;
    let lastSample = Date.now();
    while (decided().length < stepped.length && Date.now() < stepDeadline) {
      await sleep(100);
      if (Date.now() - lastSample >= 1000) {
        lastSample = Date.now();
        depthPeak = Math.max(depthPeak, (sample(await operatorMetrics())).depth);
      }
    }
    const a1 = sample(await operatorMetrics());
    const stepWindowS = (a1.atMs - a0.atMs) / 1000;
    const decisions = decided().map((f) => (replicas.get(`${f.namespace}/${f.name}`)!.atMs - stepMs) / 1000).sort((a, b) => a - b);
    stopWatch.abort();

    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    const result = {
      bench: 'scale',
      backends: args.backends,
      fleets: args.fleets,
      interval_s: INTERVAL_S,
      workers: args.workers ?? 'operator default',
      pad_kb: args['pad-kb'],
      window_s: Math.round(windowS * 10) / 10,
      cores: r3(cores),
      rss_mib: mem.rssMiB,
      rss_peak_mib: rssPeak,
      rss_hwm_mib: mem.hwmMiB,
      heap_used_mib: s1.heapUsedMiB,
      heap_total_mib: s1.heapTotalMiB,
      operator_node_options: args['operator-node-options'] ?? null,
      external_mib: s1.externalMiB,
      steady_reconciles_per_s: Math.round(((s1.reconciles - s0.reconciles) / windowS) * 10) / 10,
      step_cores: r3((a1.cpuSeconds - a0.cpuSeconds) / stepWindowS),
      step_reconciles_per_s: Math.round(((a1.reconciles - a0.reconciles) / stepWindowS) * 10) / 10,
      step_queue_depth_peak: depthPeak,
      step_api_writes_per_s: Math.round(((a1.apiWrites - a0.apiWrites) / stepWindowS) * 10) / 10,
      step_api_mean_ms: Math.round(((a1.apiSeconds - a0.apiSeconds) / Math.max(1, a1.apiCount - a0.apiCount)) * 1000),
      steady_api_writes_per_s: Math.round(((s1.apiWrites - s0.apiWrites) / windowS) * 10) / 10,
      reads_per_s: Math.round((reads / windowS) * 10) / 10,
      reads_expected_per_s: Math.round((args.backends / INTERVAL_S) * 10) / 10,
      read_errors: readErrors,
      stale_retries: s1.staleRetries - s0.staleRetries,
      read_p50_ms: r3(quantile(0.5, s0, s1) * 1000),
      read_p99_ms: r3(quantile(0.99, s0, s1) * 1000),
      step_fleets: stepped.length,
      decision_s: decisions.length === stepped.length ? r3(decisions.at(-1)!) : null,
      decision_p50_s: decisions.length > 0 ? r3(decisions[Math.floor(decisions.length / 2)]!) : null,
      fleets_decided: decisions.length,
      step_signal_ms: stepMs - stepAsked,
      all_served_s: Math.round(servedS),
    };
    const goals = [
      `goal: ≤ 0.25 core: ${cores <= 0.25 ? 'met' : 'NOT met'} (${result.cores})`,
      `goal: ≤ 300 MiB: ${mem.rssMiB <= 300 ? 'met' : 'NOT met'} (${mem.rssMiB} MiB)`,
      `goal: every fleet's decision within 2 intervals (${2 * INTERVAL_S} s): ${result.decision_s !== null && result.decision_s <= 2 * INTERVAL_S ? 'met' : 'NOT met'} (${result.decision_s ?? `${decisions.length}/${stepped.length} decided`})`,
    ];
    const rows: Array<[string, string]> = [
      ['backends (fleets × per fleet)', `${args.backends} (${args.fleets} × ${perFleet})`],
      ['interval', `${INTERVAL_S} s`],
      ['steady window', `${result.window_s} s`],
      ['operator CPU', `${result.cores} cores`],
      ['operator RSS (end / peak / VmHWM)', `${result.rss_mib} / ${result.rss_peak_mib} / ${result.rss_hwm_mib} MiB`],
      ['session reads per second', `${result.reads_per_s} (expected ${result.reads_expected_per_s})`],
      ['read errors in the window', String(result.read_errors)],
      ['stale kept connections retried', String(result.stale_retries)],
      ['read latency p50 / p99', `${result.read_p50_ms} / ${result.read_p99_ms} ms`],
      ['heap used / heap total / external at the end', `${result.heap_used_mib} / ${result.heap_total_mib} / ${result.external_mib} MiB`],
      ['passes per second (steady)', String(result.steady_reconciles_per_s)],
      ['API writes per second (steady)', String(result.steady_api_writes_per_s)],
      ['after the step: CPU, passes/s, peak queue', `${result.step_cores} cores, ${result.step_reconciles_per_s}/s, ${result.step_queue_depth_peak} fleets waiting`],
      ['after the step: API writes/s, mean request', `${result.step_api_writes_per_s}/s, ${result.step_api_mean_ms} ms`],
      ['step to decision (max / p50)', `${result.decision_s ?? '-'} / ${result.decision_p50_s ?? '-'} s (${decisions.length}/${stepped.length} fleets stepped)`],
    ];
    const w = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')}\n\n${goals.join('\n')}\n`);
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    for (const f of stepped.filter((f) => !decided().includes(f)).slice(0, 5)) log(`undecided: ${f.namespace}/${f.name}`);
    process.stderr.write(`STEP_AT ${new Date(stepMs).toISOString()}\n`);
    if (args['operator-log'] !== undefined) writeFileSync(args['operator-log'], operator.out + operator.err);
    else if (operator.err.trim() !== '') log(`operator stderr (last lines):\n${operator.err.trim().split('\n').slice(-10).join('\n')}`);
  } finally {
    killChildren();
    await client.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Outer: the cluster (nodes sized for the backends), the inner run, cleanup.

function nodesYaml(backends: number): string {
  // Room for the backends after a step (up to ×3 per fleet) and nothing else on these nodes.
  const count = Math.min(240, Math.ceil((backends * 1.6) / PODS_PER_NODE) + 1);
  return [
    'pools:',
    '  - name: cpu',
    `    count: ${count}`,
    `    capacity: { cpu: "100000", memory: 100Ti, ephemeral-storage: 100Ti, pods: "${PODS_PER_NODE}" }`,
    '    labels:',
    '      node.kubernetes.io/instance-type: bench-scale',
    '',
  ].join('\n');
}

async function outer(args: Args): Promise<number> {
  const name = `bench-scale-${process.pid}`;
  const timeoutS = args['timeout-s'] ?? 300 + Math.ceil(args.backends * 0.15);
  const deadlineMs = Date.now() + timeoutS * 1000;
  const processes = new NetnsProcesses();
  const ac = new AbortController();
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'));
  const nodesFile = join(dir, 'nodes.yaml');
  writeFileSync(nodesFile, nodesYaml(args.backends));
  // Once, whoever asks first (a signal, the deadline, the end of the run); the others wait for it.
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      processes.killAll();
      await stopCluster(name).catch((e: Error) => log(`cleanup: ${e.message}`));
      rmSync(dir, { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}, cleaning up`);
    ac.abort();
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const killer = setTimeout(() => {
    log(`hard time limit (${timeoutS} s) reached, stopping`);
    ac.abort();
    void cleanup().finally(() => process.exit(3));
  }, (timeoutS + 60) * 1000);
  killer.unref();

  let cluster: Cluster | undefined;
  try {
    log(`starting a full cluster (${name}, ${nodesYaml(args.backends).match(/count: (\d+)/)?.[1]} KWOK nodes of ${PODS_PER_NODE} pods)`);
    cluster = await startCluster({ name, mode: 'full', podDeletion: 'immediate', nodesFile, signal: ac.signal, log: (m) => log(`  ${m}`) });
    const p = processes.spawn(cluster, [self, '--inner', JSON.stringify({ kubeconfig: cluster.kubeconfigInNetnsPath, args, deadlineMs })], { passStderr: true });
    const code = await p.exited;
    const out = p.output();
    const result = out.split('\n').find((l) => l.startsWith('RESULT '));
    process.stdout.write(out.split('\n').filter((l) => !l.startsWith('RESULT ')).join('\n'));
    if (code !== 0 || result === undefined) {
      log(`the run failed (exit ${code})`);
      process.stdout.write(`${JSON.stringify({ bench: 'scale', ok: false, backends: args.backends, fleets: args.fleets })}\n`);
      return 1;
    }
    const r = JSON.parse(result.slice('RESULT '.length)) as { decision_s: number | null };
    process.stdout.write(`${JSON.stringify({ ...r, ok: r.decision_s !== null })}\n`);
    return r.decision_s !== null ? 0 : 1;
  } catch (err) {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    return 1;
  } finally {
    clearTimeout(killer);
    await cleanup();
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--runner') {
  runner(RunnerConfig.parse(JSON.parse(argv[1] ?? '{}'))).catch((err: unknown) => {
    process.stderr.write(`runner: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else if (argv[0] === '--inner') {
  inner(InnerConfig.parse(JSON.parse(argv[1] ?? '{}'))).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`inner: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  const { values } = parseArgs({
    args: argv,
    options: {
      backends: { type: 'string' },
      fleets: { type: 'string' },
      'steady-s': { type: 'string' },
      'step-sessions': { type: 'string' },
      'pad-kb': { type: 'string' },
      'step-fleets': { type: 'string' },
      runners: { type: 'string' },
      workers: { type: 'string' },
      'timeout-s': { type: 'string' },
      'operator-log': { type: 'string' },
      'operator-node-options': { type: 'string' },
    },
    strict: true,
  });
  const parsed = Args.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`bench:scale: ${z.prettifyError(parsed.error)}\n`);
    process.exit(2);
  }
  outer(parsed.data).then((code) => process.exit(code));
}
