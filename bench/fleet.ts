// npm run bench:fleet [-- --quick] [--peers] [--sequential] [--window=S] [--baseline-window=S] [--operator-log=PATH] [--gateway]
// Session-aware autoscaling against the HPA formula, on a full
// local cluster (real kube-apiserver, controller-manager, scheduler; KWOK nodes; podDeletion
// 'external': a pod runner plays the kubelet, runs preStop and SIGTERM).
//
// The same trace (ramp up, plateau, spike, ramp down; 36 fleet-minutes, 20 with --quick) runs on
// two fleets at once, in two namespaces of one cluster, compressed ×10 (session lengths, the
// stabilisation windows, the HPA period and the drain timeouts alike):
//   (a) operator: an UnmuteDeployment with autoscaling, the operator process reconciling it;
//   (b) baseline: a plain Deployment + Service scaled through the scale subresource by the HPA
//       formula (10% tolerance, 15 s loop, 300 s scale-down window, default scale-up policies),
//       the ReplicaSet choosing the victims, no preStop.
// Each fleet's sim-workers, load generator and sampler run in a child process inside the cluster's
// network namespace (bench/fleet.ts --inner), as does the operator. Prints a table and, last, one
// JSON line. Exits 1 if the operator cut a session. Bounded: a hard deadline stops everything;
// SIGINT/SIGTERM clean up the cluster. Figures and how to read them: docs/autoscaling.md.
// --peers: the operator against KEDA + the real HPA (with and without the preStop best practice),
// reading sessions from Prometheus and from the pods: bench/peers.ts.
// --gateway: the operator side's callers go through Traefik and the fleet's HTTPRoute (bench/gateway.ts).
// --scenario scale|rollout|node-drain (default scale): what removes pods from the operator's fleet
// besides the load. rollout: the backend and STT images change mid-trace; node-drain: mid-trace,
// the GPU node holding most of the fleet's GPU pods and the node holding most of its backends are
// drained through the eviction API (as `kubectl drain`), both at once. The JSON line gains cut_operator
// split by cause (which pod stopped holding work: one the scale-down drained, one replaced by the
// rollout, one evicted; capacity: callers refused 1011 "Too many people are connected") and
// gpu_s_ratio_operator (GPU-seconds the STT/TTS/vLLM pods held over the fewest their measured load
// needed, sampled with the timeline). Only the operator's fleet is disrupted: the baseline runs the
// load trace alone.
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { NetnsProcesses } from '../scripts/cluster/netns-node.ts';
import { startCluster, stopCluster, type Cluster } from '../scripts/cluster/harness.ts';
import { KubeClient } from '../src/runtime/kube-client.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import { baselineFleet, operatorFleet, operatorFleetTargets, SIM_SLOTS, type FleetShape, type OperatorTiming } from '../src/sim/fleet/fleets.ts';
import { apiWritesFromMetrics, type RunFigures, type TimelineRow } from '../src/sim/fleet/measure.ts';
import { CHEAP_SESSION, CHEAP_WORKER, runFleetScenario, type HpaLoopOptions } from '../src/sim/fleet/scenario.ts';
import { FULL_TRACE, planTrace, QUICK_TRACE } from '../src/sim/fleet/trace.ts';
import { seededRng } from '../src/sim/random.ts';
import { autoscaling } from '../src/api/v1alpha1/autoscaling.ts';
import { LABEL_APP_COMPONENT } from '../src/api/v1alpha1/labels.ts';
import { startFleetGateway, type FleetGateway } from './gateway.ts';
import { drainNode, podsOnNode } from '../src/sim/fleet/node-drain.ts';
import type { PodRunnerEvent } from '../src/sim/fleet/pod-runner.ts';
import { watchWrites } from '../src/sim/fleet/watch-writes.ts';
import { stepSeries } from './peers-report.ts';
import { OPERATOR_ENV, operatorNodeArgs } from '../src/cli/node-flags.ts';

const self = fileURLToPath(import.meta.url);

const TIME_SCALE = 10;
const SEED = 20240611;
// GPU pods (STT, TTS, vLLM) load models for ~2 minutes: 12 s compressed.
const SHAPE: FleetShape = { minReplicas: 2, maxReplicas: 20, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '3s', gpuStartDelay: '12s' };
/** A window flag in fleet seconds, or its default. */
function windowFlag(flag: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${flag}=`));
  const v = arg === undefined ? fallback : Number(arg.slice(flag.length + 3));
  if (!Number.isInteger(v) || v < 0 || v > 3600 || v % TIME_SCALE !== 0) {
    process.stderr.write(`bench:fleet: --${flag} takes fleet seconds, a multiple of ${TIME_SCALE} up to 3600\n`);
    process.exit(2);
  }
  return v;
}
/** Each side runs with its own default: the operator's (the CRD default), the HPA's 300 s. */
const WINDOW_S = windowFlag('window', autoscaling.parse({}).scaleDownStabilizationSeconds);
const BASELINE_WINDOW_S = windowFlag('baseline-window', 300);
// Production-like settings divided by TIME_SCALE (120 s window → 12 s, 3600 s drains → 360 s);
// the interval is the operator's minimum, 1 s (5 s / 10 would be 0.5 s).
const TIMING: OperatorTiming = { intervalSeconds: 1, metricsStaleSeconds: 5, scaleDownStabilizationSeconds: WINDOW_S / TIME_SCALE, drainTimeoutSeconds: 360, drainGracePeriodSeconds: 360 };
const HPA: HpaLoopOptions = { ...pick(SHAPE), tolerance: 0.1, periodMs: 15_000 / TIME_SCALE, scaleDownStabilizationMs: (BASELINE_WINDOW_S * 1000) / TIME_SCALE };

/**
 * Where the operator process serves /metrics inside the cluster's network namespace: a fixed port
 * (each cluster has its own namespace; the cluster add-ons use 1808x and 18090) so the operator
 * side's inner run can read its rest_client_requests_total, the operator's API writes.
 */
const OPERATOR_METRICS = '127.0.0.1:18095';

function pick(s: FleetShape) {
  return { minReplicas: s.minReplicas, maxReplicas: s.maxReplicas, targetSessionsPerPod: s.targetSessionsPerPod };
}

// ---------------------------------------------------------------------------------------------
// Inner: one fleet's run, inside the network namespace.

const innerSchema = z.object({
  kubeconfig: z.string(),
  namespace: z.string(),
  podSelector: z.string(),
  servicesSelector: z.string().optional(),
  service: z.string(),
  deployment: z.string(),
  trace: z.enum(['full', 'quick']),
  label: z.string(),
  hpa: z.boolean(),
  windowS: z.number().int().min(0),
  targetUrl: z.string().optional(),
  /** The operator's /metrics, read at the trace's start and end (operator side only). */
  operatorMetricsUrl: z.string().optional(),
  /** Slots per pod of the GPU tiers the fleet plays (component -> slots): GPU-seconds are measured. */
  gpuSlots: z.record(z.string(), z.number()).optional(),
  /** --peers: a KEDA side's writes, counted from watches of its HPA, ScaledObject and Deployment replicas. */
  kedaWrites: z.object({ hpa: z.string(), scaledObject: z.string() }).optional(),
  /** --peers: also return the pod count as a step series (its changes), for the plot. */
  podSeries: z.boolean().optional(),
});
type InnerConfig = z.infer<typeof innerSchema>;

async function inner(config: InnerConfig): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(config.kubeconfig);
  const client = await KubeClient.fromKubeConfig(kc);
  const plan = planTrace(config.trace === 'quick' ? QUICK_TRACE : FULL_TRACE, { timeScale: TIME_SCALE, rng: seededRng(SEED) });
  const ac = new AbortController();
  process.once('SIGTERM', () => ac.abort());
  process.once('SIGINT', () => ac.abort());
  // Stops of deleted pods that cut work (the kubelet's part), by pod: the outer run knows which
  // pods its disruption replaced or evicted. The runners' own teardown after the trace
  // ('runner-stopped') closes what the trace left open, which no one removing a pod did.
  const cuts: Array<{ pod: string; cut: number; atMs: number }> = [];
  const onStop = (e: PodRunnerEvent) => {
    if (e.type === 'stopped' && e.cutSessions > 0 && (e.reason === 'terminated' || e.reason === 'gone')) cuts.push({ pod: e.pod, cut: e.cutSessions, atMs: e.atMs });
  };
  const kedaWrites =
    config.kedaWrites === undefined
      ? undefined
      : await watchWrites(client, config.namespace, [
          { ref: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' }, name: config.kedaWrites.hpa },
          { ref: { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject' }, name: config.kedaWrites.scaledObject },
          { ref: { apiVersion: 'apps/v1', kind: 'Deployment' }, name: config.deployment, field: (o) => (o as { spec?: { replicas?: number } }).spec?.replicas },
        ]);
  const result = await runFleetScenario({
    client,
    namespace: config.namespace,
    podSelector: config.podSelector,
    ...(config.servicesSelector !== undefined ? { servicesSelector: config.servicesSelector } : {}),
    service: config.service,
    ...(config.targetUrl !== undefined ? { targetUrl: config.targetUrl } : {}),
    deployment: config.deployment,
    plan,
    spec: { ...pick(SHAPE), maxSessionsPerPod: SHAPE.maxSessionsPerPod },
    worker: CHEAP_WORKER,
    session: CHEAP_SESSION,
    ...(config.hpa ? { hpa: { ...HPA, scaleDownStabilizationMs: (config.windowS * 1000) / TIME_SCALE } } : {}),
    signal: ac.signal,
    onRunnerEvent: onStop,
    onServicesEvent: onStop,
    ...(config.gpuSlots !== undefined ? { gpuSlots: config.gpuSlots } : {}),
    log: (m) => {
      // The outer run times its mid-trace disruption from the trace's start.
      if (m.startsWith('warm:')) process.stdout.write(`WARM ${Date.now()}\n`);
      process.stderr.write(`[${config.label}] ${m}\n`);
    },
    ...(config.operatorMetricsUrl !== undefined ? { apiWrites: operatorWrites(config.operatorMetricsUrl) } : {}),
    ...(kedaWrites !== undefined ? { apiWrites: async () => kedaWrites.count() } : {}),
  });
  kedaWrites?.stop();
  const podSeries = config.podSeries ? stepSeries(result.samples.map((s) => ({ tS: s.tMs / 1000, value: s.pods }))) : undefined;
  process.stdout.write(
    `RESULT ${JSON.stringify({ figures: result.figures, timeline: result.timeline, runner: result.runner, servicesRunner: result.servicesRunner, gpu: result.gpu, drops: result.drops, cuts, wallMs: result.wallMs, apiWrites: result.apiWrites, ...(podSeries ? { podSeries, cpuS: cpuSeconds() } : {}) })}\n`,
  );
  process.exit(0);
}

/** CPU seconds this process used so far (user + system): what one fleet's sim-workers and callers cost. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return Math.round((u.user + u.system) / 1e4) / 100;
}

/** Reads the operator's API writes so far from its /metrics. */
function operatorWrites(url: string): () => Promise<number> {
  return async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return apiWritesFromMetrics(await res.text());
  };
}

// ---------------------------------------------------------------------------------------------
// Outer: cluster, fleets, operator, the two inner runs, the report.

const processes = new NetnsProcesses();
const killAll = () => processes.killAll();

/** The operator's stderr is kept (it goes to --operator-log); the fleets' progress is shown. */
const spawnInNetns = (cluster: Cluster, args: string[], label: string) =>
  processes.spawn(cluster, args, label === 'operator-process' ? { env: OPERATOR_ENV } : { passStderr: true });

async function createAll(client: KubeClient, objects: KubeObject[]): Promise<void> {
  for (const o of objects) await client.create(o);
}

function fmt(v: number | undefined, digits = 1): string {
  return v === undefined ? '-' : Number.isInteger(v) && digits === 0 ? String(v) : v.toFixed(digits);
}

function table(op: RunFigures, base: RunFigures, meta: { trace: string; wallS: number }): string {
  const rows: Array<[string, string, string]> = [
    ['sessions started by the trace', fmt(op.sessions, 0), fmt(base.sessions, 0)],
    ['sessions cut by scaling (1012)', fmt(op.dropped, 0), fmt(base.dropped, 0)],
    ['sessions lost to STT/TTS/LLM (1011)', fmt(op.droppedByServices, 0), fmt(base.droppedByServices, 0)],
    ['sessions refused (no backend / 500)', fmt(op.refused, 0), fmt(base.refused, 0)],
    ['sessions that queued for a slot', fmt(op.queuedSessions, 0), fmt(base.queuedSessions, 0)],
    ['session-seconds queued (wall)', fmt(op.queuedSeconds), fmt(base.queuedSeconds)],
    ['  avoidable (a serving backend had a slot)', fmt(op.queuedAvoidableSeconds), fmt(base.queuedAvoidableSeconds)],
    ['  unavoidable (every serving backend full)', fmt(op.queuedUnavoidableSeconds), fmt(base.queuedUnavoidableSeconds)],
    ['sessions whose wait was avoidable', fmt(op.queuedAvoidableSessions, 0), fmt(base.queuedAvoidableSessions, 0)],
    ['reaction to the spike, s (wall)', fmt(op.reactionSeconds), fmt(base.reactionSeconds)],
    ['  of which to the scale decision', fmt(decision(op)), fmt(decision(base))],
    ['replica-seconds used (wall)', fmt(op.replicaSeconds), fmt(base.replicaSeconds)],
    ['ideal replica-seconds (wall)', fmt(op.idealReplicaSeconds), fmt(base.idealReplicaSeconds)],
    ['used / ideal', fmt(op.replicaRatio, 3), fmt(base.replicaRatio, 3)],
    ['  of which starting (Pending)', fmt(op.pendingReplicaSeconds), fmt(base.pendingReplicaSeconds)],
    ['  of which draining or stopping', fmt(op.drainingReplicaSeconds), fmt(base.drainingReplicaSeconds)],
    ['peak backend pods', fmt(op.peakPods, 0), fmt(base.peakPods, 0)],
    ['scale events (replicas changes)', fmt(op.scaleEvents, 0), fmt(base.scaleEvents, 0)],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const lines = [
    `fleet benchmark: trace "${meta.trace}", compressed ×${TIME_SCALE} (1 wall s = ${TIME_SCALE} fleet s), scale-down window ${WINDOW_S} fleet s (operator) / ${BASELINE_WINDOW_S} fleet s (HPA), ran ${meta.wallS.toFixed(0)} s wall`,
    `${'figure'.padEnd(w0)}  ${'operator'.padStart(10)}  ${'HPA baseline'.padStart(12)}`,
    `${'-'.repeat(w0)}  ${'-'.repeat(10)}  ${'-'.repeat(12)}`,
    ...rows.map(([k, a, b]) => `${k.padEnd(w0)}  ${a.padStart(10)}  ${b.padStart(12)}`),
  ];
  return lines.join('\n');
}

/** Seconds from the spike to the first raise of replicas, if that came within a minute. */
function decision(f: RunFigures): number | undefined {
  return f.reactions.find((r) => r.name === 'spike')?.decisionSeconds;
}

interface InnerResult {
  figures: RunFigures;
  timeline: TimelineRow[];
  runner: unknown;
  servicesRunner?: unknown;
  gpu?: { seconds: number; idealSeconds: number };
  drops: Array<{ atMs: number; code: number; reason: string }>;
  cuts: Array<{ pod: string; cut: number; atMs: number }>;
  wallMs: number;
  apiWrites?: { writes: number; seconds: number };
}

const SCENARIOS = ['scale', 'rollout', 'node-drain'] as const;
type Scenario = (typeof SCENARIOS)[number];

function scenarioFlag(argv: string[]): Scenario {
  const i = argv.findIndex((a) => a === '--scenario' || a.startsWith('--scenario='));
  if (i < 0) return 'scale';
  const v = argv[i]!.includes('=') ? argv[i]!.slice('--scenario='.length) : argv[i + 1];
  if (!SCENARIOS.includes(v as Scenario)) {
    process.stderr.write(`bench:fleet: --scenario takes ${SCENARIOS.join(', ')}\n`);
    process.exit(2);
  }
  return v as Scenario;
}

/** What the mid-trace disruption did: the pods it replaced or evicted (their stops are its cuts). */
interface Disruption {
  replaced: Set<string>;
  evicted: Set<string>;
  log: string[];
  /** From the first change until the last replaced or evicted pod is gone (ms since epoch). */
  startMs?: number;
  endMs?: number;
}

/** Sessions ended this long after the disruption's last pod went still count as its doing (the tier's replacement may still load). */
const DISRUPTION_TAIL_MS = 15_000;

const componentOf = (p: KubeObject) => p.metadata.labels?.[LABEL_APP_COMPONENT] ?? '';

/** The node of `ns` holding the most pods of these components (ties: by name). */
async function busiestNode(client: KubeClient, ns: string, components: string[]): Promise<string | undefined> {
  const pods = (await client.list<KubeObject & { spec?: { nodeName?: string } }>({ apiVersion: 'v1', kind: 'Pod' }, { namespace: ns })).items;
  const count = new Map<string, number>();
  for (const p of pods) if (components.includes(componentOf(p)) && p.spec?.nodeName && p.metadata.deletionTimestamp == null) count.set(p.spec.nodeName, (count.get(p.spec.nodeName) ?? 0) + 1);
  return [...count].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
}

/** Mid-trace: change the backend and STT images, or drain the busiest GPU node then the busiest backend node. */
async function disrupt(scenario: Scenario, client: KubeClient, ns: string, d: Disruption, signal: AbortSignal): Promise<void> {
  d.startMs = Date.now();
  try {
    await disruptNow(scenario, client, ns, d, signal);
  } finally {
    d.endMs = Date.now();
  }
}

async function waitGone(client: KubeClient, ns: string, pods: Set<string>, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const live = (await client.list({ apiVersion: 'v1', kind: 'Pod' }, { namespace: ns })).items.filter((p) => pods.has(p.metadata.name ?? ''));
    if (live.length === 0) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function disruptNow(scenario: Scenario, client: KubeClient, ns: string, d: Disruption, signal: AbortSignal): Promise<void> {
  if (scenario === 'rollout') {
    const pods = (await client.list({ apiVersion: 'v1', kind: 'Pod' }, { namespace: ns })).items;
    for (const p of pods) if (['backend', 'stt'].includes(componentOf(p))) d.replaced.add(p.metadata.name ?? '');
    await client.patch({ apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' }, 'fleet', ns, { spec: { backend: { image: 'sim.invalid/unmute-backend:sim-v2' }, stt: { image: 'sim.invalid/moshi:sim-v2' } } }, 'merge');
    const t = Date.now();
    await waitGone(client, ns, d.replaced, signal);
    d.log.push(`rollout: backend and STT images changed; ${d.replaced.size} old pods gone ${signal.aborted ? '(not all: the trace ended first)' : `in ${((Date.now() - t) / 1000).toFixed(1)} s`}`);
    return;
  }
  if (scenario !== 'node-drain') return;
  // Both nodes at once, as a node-pool upgrade with surge drains them: one after the other, the
  // second drain would outlast the trace (each waits for its pods' work to end).
  const nodes = new Set<string>();
  for (const components of [['stt', 'tts', 'llm'], ['backend']]) {
    const node = await busiestNode(client, ns, components);
    if (node !== undefined) nodes.add(node);
  }
  await Promise.all(
    [...nodes].map(async (node) => {
      const held = (await podsOnNode(client, node, ns)).map((p) => p.metadata.name ?? '');
      const t = Date.now();
      // kubectl drain --timeout: the drain grace period (compressed); refused evictions retried each second.
      const records = await drainNode(client, node, ns, { timeoutMs: (TIMING.drainGracePeriodSeconds + 60) * 1000, retryMs: 1000, signal, onEvicted: (pod) => d.evicted.add(pod) });
      d.log.push(`node-drain: ${node} (${held.join(', ')}) drained in ${((Date.now() - t) / 1000).toFixed(1)} s, ${records.reduce((n, r) => n + r.refused, 0)} evictions refused (429) on the way`);
    }),
  );
}

/**
 * The operator fleet's cut sessions by cause: every session the server ended abnormally (1011,
 * 1012, ...), once. capacity: refused for a full STT/TTS/LLM (1011 "Too many people are
 * connected"); rollout or eviction: ended while the scenario's disruption ran (from its first
 * change until its last pod went, plus DISRUPTION_TAIL_MS); scale: any other.
 */
function cutsByCause(r: InnerResult, scenario: Scenario, d: Disruption): { scale: number; rollout: number; eviction: number; capacity: number } {
  const out = { scale: 0, rollout: 0, eviction: 0, capacity: 0 };
  const during = (t: number) => d.startMs !== undefined && t >= d.startMs && t <= (d.endMs ?? Infinity) + DISRUPTION_TAIL_MS;
  for (const x of r.drops) {
    if (x.code === 1011 && /too many people/i.test(x.reason)) out.capacity++;
    else if (during(x.atMs) && scenario === 'rollout') out.rollout++;
    else if (during(x.atMs) && scenario === 'node-drain') out.eviction++;
    else out.scale++;
  }
  return out;
}

function parseResult(text: string, label: string): InnerResult {
  const line = text.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`${label}: no result; output:\n${text.slice(-3000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as InnerResult;
}

/** Where the time went: mean sessions, pods (ideal) and queue seconds per twelfth of the trace. */
function timelineTable(op: TimelineRow[], base: TimelineRow[]): string {
  const lines = ['timeline (wall s from the start; mean sessions | pods, ideal pods in brackets | queued s):', `${'from'.padStart(5)}  ${'sessions'.padStart(8)}  ${'operator pods'.padStart(14)}  ${'queued'.padStart(6)}  ${'baseline pods'.padStart(14)}  ${'queued'.padStart(6)}`];
  for (let i = 0; i < op.length; i++) {
    const a = op[i]!;
    const b = base[i];
    lines.push(
      `${a.fromS.toFixed(0).padStart(5)}  ${a.sessions.toFixed(1).padStart(8)}  ${`${a.pods.toFixed(1)} (${a.ideal.toFixed(1)})`.padStart(14)}  ${a.queuedS.toFixed(1).padStart(6)}  ${b ? `${b.pods.toFixed(1)} (${b.ideal.toFixed(1)})`.padStart(14) : ''}  ${b ? b.queuedS.toFixed(1).padStart(6) : ''}`,
    );
  }
  return lines.join('\n');
}

async function outer(argv: string[]): Promise<number> {
  const quick = argv.includes('--quick');
  const scenario = scenarioFlag(argv);
  const sequential = argv.includes('--sequential');
  const traceName = quick ? 'quick' : 'full';
  const traceWallMs = (quick ? QUICK_TRACE : FULL_TRACE).totalMs / TIME_SCALE;
  const t0 = performance.now();
  const name = `bench-fleet-${process.pid}`;
  const ac = new AbortController();
  let cluster: Cluster | undefined;
  let gateway: FleetGateway | undefined;
  const hardLimitMs = (sequential ? 2 : 1) * traceWallMs + 240_000;
  const killer = setTimeout(() => {
    process.stderr.write(`bench:fleet: hard time limit (${Math.round(hardLimitMs / 1000)} s) reached, stopping\n`);
    ac.abort();
    killAll();
    void stopCluster(name).finally(() => process.exit(3));
  }, hardLimitMs);
  killer.unref();
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`bench:fleet: ${sig}, cleaning up\n`);
    ac.abort();
    killAll();
    void stopCluster(name).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    process.stderr.write(`bench:fleet: starting a full cluster (${name}, podDeletion external)\n`);
    cluster = await startCluster({ name, mode: 'full', podDeletion: 'external', signal: ac.signal, log: (m) => process.stderr.write(`  ${m}\n`) });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const client = await KubeClient.fromKubeConfig(kc);
    const NS_OP = 'fleet-operator';
    const NS_BASE = 'fleet-baseline';
    for (const ns of [NS_OP, NS_BASE]) await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

    if (argv.includes('--gateway')) gateway = await startFleetGateway(cluster, (m) => process.stderr.write(`  ${m}\n`));
    const plainCr = operatorFleet('fleet', NS_OP, SHAPE, TIMING, { pipeline: true });
    const cr = gateway ? gateway.expose(plainCr) : plainCr;
    const base = baselineFleet('baseline', NS_BASE, SHAPE);
    await createAll(client, [cr as KubeObject, base.deployment as KubeObject, base.service as KubeObject]);

    const operator = spawnInNetns(
      cluster,
      operatorNodeArgs(['run', '--kubeconfig', cluster.kubeconfigInNetnsPath!, '--no-leader-elect', '--namespace', NS_OP, '--metrics-bind-address', OPERATOR_METRICS, '--health-probe-bind-address', '127.0.0.1:0', '--log-level', argv.some((a) => a.startsWith('--operator-log=')) ? 'info' : 'warn']),
      'operator-process',
    );
    const innerRun = (label: string, config: Omit<InnerConfig, 'kubeconfig' | 'trace' | 'label' | 'windowS'>) =>
      spawnInNetns(cluster!, [self, '--inner', JSON.stringify({ ...config, kubeconfig: cluster!.kubeconfigInNetnsPath, trace: traceName, label, windowS: BASELINE_WINDOW_S })], label);

    const runOne = async (label: string, config: Omit<InnerConfig, 'kubeconfig' | 'trace' | 'label' | 'windowS'>) => {
      const p = innerRun(label, config);
      let disrupted: Promise<void> = Promise.resolve();
      // A drain still waiting when the trace ends is given up: the pod runner that finishes pods is gone.
      const stopDisruption = new AbortController();
      if (label === 'operator' && scenario !== 'scale') {
        // Mid-trace (45 % in, after the warm-up): the disruption runs while the load does.
        disrupted = (async () => {
          while (!/^WARM /m.test(p.output())) {
            if (ac.signal.aborted || p.child.exitCode !== null) return;
            await new Promise((r) => setTimeout(r, 200));
          }
          await new Promise((r) => setTimeout(r, traceWallMs * 0.45));
          await disrupt(scenario, client, NS_OP, disruption, AbortSignal.any([ac.signal, stopDisruption.signal]));
        })().catch((e: Error) => {
          disruption.log.push(`${scenario}: FAILED: ${e.message}`);
        });
      }
      const code = await p.exited;
      stopDisruption.abort();
      await disrupted;
      if (code !== 0) throw new Error(`${label} run exited ${code}:\n${p.output().slice(-3000)}`);
      return parseResult(p.output(), label);
    };
    const opConfig = {
      namespace: NS_OP,
      ...operatorFleetTargets('fleet'),
      hpa: false,
      operatorMetricsUrl: `http://${OPERATOR_METRICS}/metrics`,
      ...(gateway ? { targetUrl: gateway.targetUrl } : {}),
      // vLLM's slots are the CR's sessionsPerReplica (its default): the operator's own unit for it.
      gpuSlots: { stt: SIM_SLOTS.stt, tts: SIM_SLOTS.tts, llm: 64 },
    };
    const disruption: Disruption = { replaced: new Set(), evicted: new Set(), log: [] };
    // The first callers must not reach a gateway that has no backend yet (KWOK marks pods Ready
    // before a pod runner plays them: the inner run still waits for running sim-workers).
    if (gateway) await gateway.ready(NS_OP, 'fleet', opConfig.service, SHAPE.minReplicas);
    const baseConfig = { namespace: NS_BASE, ...base.targets, hpa: true };
    let op: Awaited<ReturnType<typeof runOne>>;
    let bl: Awaited<ReturnType<typeof runOne>>;
    if (sequential) {
      op = await runOne('operator', opConfig);
      bl = await runOne('baseline', baseConfig);
    } else {
      [op, bl] = await Promise.all([runOne('operator', opConfig), runOne('baseline', baseConfig)]);
    }
    operator.child.kill('SIGTERM');
    const logPath = argv.find((a) => a.startsWith('--operator-log='))?.slice('--operator-log='.length);
    if (logPath !== undefined) writeFileSync(logPath, operator.output());
    const wallS = (performance.now() - t0) / 1000;
    process.stdout.write(timelineTable(op.timeline, bl.timeline) + '\n\n');
    process.stdout.write(table(op.figures, bl.figures, { trace: traceName, wallS }) + '\n');
    if (gateway) {
      process.stdout.write(
        `operator callers through Traefik ${gateway.traefik.version} (Gateway ${gateway.traefik.gateway.namespace}/${gateway.traefik.gateway.name}, the fleet's HTTPRoute); baseline callers straight to its Service's endpoints.\n` +
          'Upgrade times through the gateway include its hop: "queued" counts every upgrade over 50 ms on both sides.\n',
      );
    }
    process.stdout.write(`pod runner (operator): ${JSON.stringify(op.runner)}, STT/TTS/vLLM pods: ${JSON.stringify(op.servicesRunner)}\npod runner (baseline): ${JSON.stringify(bl.runner)}\n`);
    const cutOperator = cutsByCause(op, scenario, disruption);
    // Stops that cut work, by why the pod went (the pods the disruption replaced or evicted, else the scale-down).
    const stops = { scale: 0, rollout: 0, eviction: 0 };
    for (const c of op.cuts) stops[disruption.evicted.has(c.pod) ? 'eviction' : disruption.replaced.has(c.pod) ? 'rollout' : 'scale'] += c.cut;
    if (op.cuts.length > 0) process.stdout.write(`pods stopped holding work: ${JSON.stringify(stops)}\n`);
    const lost = op.drops.filter((x) => !(x.code === 1011 && /too many people/i.test(x.reason)));
    if (lost.length > 0) {
      const reasons = new Map<string, number>();
      for (const x of lost) reasons.set(`${x.code} ${x.reason}`.trim(), (reasons.get(`${x.code} ${x.reason}`.trim()) ?? 0) + 1);
      process.stdout.write(`operator sessions ended by the server: ${[...reasons].map(([k, n]) => `${n} × "${k}"`).join('; ')}\n`);
    }
    const gpuRatio = op.gpu !== undefined && op.gpu.idealSeconds > 0 ? Math.round((op.gpu.seconds / op.gpu.idealSeconds) * 1000) / 1000 : undefined;
    for (const l of disruption.log) process.stdout.write(`${l}\n`);
    process.stdout.write(
      `operator cuts by cause: ${JSON.stringify(cutOperator)}; STT/TTS/vLLM GPU-seconds ${op.gpu ? `${op.gpu.seconds.toFixed(0)} held / ${op.gpu.idealSeconds.toFixed(0)} ideal` : '-'} (wall)\n`,
    );
    const summary = {
      trace: traceName,
      scenario,
      time_scale: TIME_SCALE,
      window_s: WINDOW_S,
      baseline_window_s: BASELINE_WINDOW_S,
      wall_s: Math.round(wallS),
      gateway: gateway !== undefined,
      dropped_operator: op.figures.dropped,
      dropped_baseline: bl.figures.dropped,
      dropped_1011_operator: op.figures.droppedByServices,
      dropped_1011_baseline: bl.figures.droppedByServices,
      queued_s_operator: op.figures.queuedSeconds,
      queued_s_baseline: bl.figures.queuedSeconds,
      queued_avoidable_s_operator: op.figures.queuedAvoidableSeconds,
      queued_avoidable_s_baseline: bl.figures.queuedAvoidableSeconds,
      queued_unavoidable_s_operator: op.figures.queuedUnavoidableSeconds,
      queued_unavoidable_s_baseline: bl.figures.queuedUnavoidableSeconds,
      reaction_s_operator: Math.round(op.figures.reactionSeconds * 10) / 10,
      reaction_s_baseline: Math.round(bl.figures.reactionSeconds * 10) / 10,
      decision_s_operator: decision(op.figures) ?? null,
      decision_s_baseline: decision(bl.figures) ?? null,
      // Over the trace (from warm to the last session's end); null when /metrics could not be read.
      api_writes_per_s_operator: op.apiWrites ? Math.round((op.apiWrites.writes / op.apiWrites.seconds) * 100) / 100 : null,
      replica_s_ratio_operator: op.figures.replicaRatio,
      replica_s_ratio_baseline: bl.figures.replicaRatio,
      scale_events_operator: op.figures.scaleEvents,
      scale_events_baseline: bl.figures.scaleEvents,
      cut_operator: cutOperator,
      gpu_s_ratio_operator: gpuRatio,
    };
    // Goals: no session cut (a hard guarantee: the run fails without it); the others are timing
    // figures on a shared machine, reported against their goals.
    const reactionGoal = 2 * TIMING.intervalSeconds + parseFloat(SHAPE.podStartDelay);
    const goals = [
      `goal: no session cut by the operator: ${op.figures.dropped === 0 ? 'met' : `NOT met (${op.figures.dropped})`} (baseline cut ${bl.figures.dropped})`,
      `goal: no operator cut from any cause (${scenario}): ${Object.values(cutOperator).every((n) => n === 0) ? 'met' : `NOT met (${JSON.stringify(cutOperator)})`}`,
      `goal: GPU-seconds at most 1.3 × ideal: ${gpuRatio === undefined ? '-' : gpuRatio <= 1.3 ? 'met' : 'not met'} (${gpuRatio ?? '-'})`,
      `goal: reaction within 2 intervals + pod start (${reactionGoal} s): ${op.figures.reactionSeconds <= reactionGoal ? 'met' : 'not met'} (${op.figures.reactionSeconds.toFixed(1)} s)`,
      `goal: replica-seconds at most 1.25 × ideal: ${op.figures.replicaRatio <= 1.25 ? 'met' : 'not met'} (${op.figures.replicaRatio.toFixed(3)})`,
    ];
    process.stdout.write(goals.join('\n') + '\n');
    process.stdout.write(JSON.stringify(summary) + '\n');
    const cutAny = cutOperator.scale + cutOperator.rollout + cutOperator.eviction + op.cuts.length;
    return op.figures.dropped === 0 && cutAny === 0 && !disruption.log.some((l) => l.includes('FAILED')) ? 0 : 1;
  } catch (err) {
    process.stderr.write(`bench:fleet: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await gateway?.stop().catch((e: Error) => process.stderr.write(`gateway: ${e.message}\n`));
    killAll();
    if (cluster !== undefined || ac.signal.aborted) await stopCluster(name).catch((e: Error) => process.stderr.write(`cleanup: ${e.message}\n`));
    clearTimeout(killer);
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--inner') {
  inner(innerSchema.parse(JSON.parse(argv[1] ?? '{}'))).catch((err: unknown) => {
    process.stderr.write(`inner: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else if (argv.includes('--peers')) {
  // The four-sided comparison with KEDA, the real HPA and Prometheus: bench/peers.ts.
  void import('./peers.ts')
    .then((m) => m.runPeers(argv, { self, timeScale: TIME_SCALE, seed: SEED, shape: SHAPE, timing: TIMING }))
    .then((code) => process.exit(code));
} else {
  outer(argv).then((code) => process.exit(code));
}
