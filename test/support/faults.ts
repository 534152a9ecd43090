// Shared by test/integration/faults-*.full.test.ts: a simulated fleet with faults of its backends'
// /metrics (test/support/fault-fleet.ts), operators (a process without leader election, a leader
// pair, the controller on a 409-answering transport), what "recovered" means, sessions cut, and
// the figures each case records (one line printed, one row of a markdown table per case).
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MARKER_ENV, stateDirOf } from '../../scripts/cluster/config.ts';
import type { FleetControlState } from '../../src/sim/fleet/control.ts';
import { operatorFleet, operatorFleetTargets, type FleetShape, type OperatorTiming } from '../../src/sim/fleet/fleets.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { FleetControlClient, startOperatorProcess } from '../integration/autoscaling-support.ts';
import { clusterInfo, kubeClient, spawnInNetns, waitFor, type NetnsProcess } from './cluster.ts';
import type { MetricsFault } from './fault-fleet.ts';
import { repoRoot, spawnOperator, type OperatorProcess } from './operator.ts';

export type { MetricsFault } from './fault-fleet.ts';

const node = process.execPath;
const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// The fleet
// ---------------------------------------------------------------------------------------------

/** Unix-socket JSON calls. */
function call<T>(socket: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    const req = request({ socketPath: socket, method, path, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }, timeout: 20_000 }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => (data += c.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data) as T) : reject(new Error(`${path}: ${res.statusCode} ${data}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end(text);
  });
}

export class MetricsFaultClient {
  readonly #socket: string;
  constructor(socket: string) {
    this.#socket = socket;
  }
  /** Sets (or clears, with null) the fault of these pods; of every pod when omitted. */
  set(fault: MetricsFault | null, pods?: string[]): Promise<{ served: Record<string, number> }> {
    return call(this.#socket, 'POST', '/metrics-fault', { fault, ...(pods ? { pods } : {}) });
  }
  state(): Promise<{ faults: Record<string, MetricsFault>; served: Record<string, number> }> {
    return call(this.#socket, 'GET', '/metrics-fault');
  }
}

export interface FaultFleet {
  namespace: string;
  name: string;
  deployment: string;
  process: NetnsProcess;
  control: FleetControlClient;
  metricsFaults: MetricsFaultClient;
  stop(): Promise<void>;
}

/** The fault fleet process (pod runner + clients + /metrics faults) for the fleet `name`. */
export async function startFaultFleet(namespace: string, name: string): Promise<FaultFleet> {
  const targets = operatorFleetTargets(name);
  const socket = join(tmpdir(), `umff-${namespace}.sock`);
  const proc = spawnInNetns(node, [
    join(repoRoot, 'test/support/fault-fleet.ts'), '--namespace', namespace, '--selector', targets.podSelector, '--service', targets.service, '--control-socket', socket,
  ]);
  await proc.waitForOutput(/sim-fleet ready/, 30_000);
  return {
    namespace,
    name,
    deployment: targets.deployment,
    process: proc,
    control: new FleetControlClient(socket),
    metricsFaults: new MetricsFaultClient(`${socket}.faults`),
    stop: () => proc.stop(),
  };
}

export const FAULT_SHAPE: FleetShape = { minReplicas: 1, maxReplicas: 6, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '0s' };
/** Compressed as the autoscaling tests are: a decision every second, readings stale after 3 s, a 4 s window. */
export const FAULT_TIMING: OperatorTiming = { intervalSeconds: 1, metricsStaleSeconds: 3, scaleDownStabilizationSeconds: 4, drainTimeoutSeconds: 600, drainGracePeriodSeconds: 120 };

/** Creates the UnmuteDeployment with `backends` backends to start with. */
export async function createFleet(namespace: string, name: string, backends: number, shape: FleetShape = FAULT_SHAPE, timing: OperatorTiming = FAULT_TIMING): Promise<void> {
  const cr = operatorFleet(name, namespace, shape, timing);
  cr.spec.backend.replicas = backends;
  await (await kubeClient()).create(cr);
}

/** Waits until at least `n` backends serve (ready endpoints) with a running sim-worker each. */
export async function waitServing(fleet: FaultFleet, n: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(`${n} serving backends with running sim-workers`, async () => {
    const s = await fleet.control.state();
    return s.endpoints.length >= n && s.workers.filter((w) => w.state === 'running').length >= n;
  }, { timeoutMs });
}

/** Sessions per backend URL (held: open or waiting), every backend listed, sorted by count (most first). */
export async function sessionsByBackend(fleet: FaultFleet): Promise<Array<{ url: string; pod: string; sessions: number }>> {
  const s = await fleet.control.state();
  return s.workers
    .filter((w) => w.state === 'running')
    .map((w) => {
      const url = `http://${w.ip}:${w.port}`;
      return { url, pod: w.pod, sessions: s.sessions.heldByUrl[url] ?? 0 };
    })
    .sort((a, b) => b.sessions - a.sessions);
}

/**
 * Ends sessions until `total` are held, emptying the lightest backend first: the operator drains
 * the backend with the fewest sessions, so the fleet can reach the size the load asks only when
 * that one is empty. Returns the backend left empty.
 */
export async function dropLoadTo(fleet: FaultFleet, total: number): Promise<{ emptied: string; byBackend: Array<{ pod: string; sessions: number }> }> {
  const backends = await sessionsByBackend(fleet);
  let held = backends.reduce((n, b) => n + b.sessions, 0);
  const lightest = backends.at(-1)!;
  if (lightest.sessions > 0) {
    await fleet.control.endSessions(lightest.sessions, lightest.url);
    held -= lightest.sessions;
  }
  for (const b of backends.slice(0, -1)) {
    if (held <= total) break;
    const end = Math.min(held - total, b.sessions - 1);
    if (end > 0) {
      await fleet.control.endSessions(end, b.url);
      held -= end;
    }
  }
  if (held !== total) throw new Error(`cannot leave ${total} sessions on ${JSON.stringify(backends)}`);
  await fleet.control.heldBy(total, { allowQueued: true });
  return { emptied: lightest.pod, byBackend: (await sessionsByBackend(fleet)).map(({ pod, sessions }) => ({ pod, sessions })) };
}

/**
 * Brings the fleet to `e.active` held sessions (opening more through the Service, or ending the
 * oldest) and waits until it is as that load asks. Sessions are opened only as far as the ready
 * backends run them without queueing, and opened again when they fail (no ready backend yet, e.g.
 * after a case that broke the fleet). Returns the sessions-cut counter
 * to count a case's cuts from.
 */
export async function settle(fleet: FaultFleet, e: Expected, timeoutMs = 90_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await fleet.control.state();
    const { held, connecting } = s.sessions;
    if (held === e.active && connecting === 0) break;
    // No more than the ready backends can run without queueing (4 each): the fleet grows with the load.
    const open = Math.min(e.active - held, s.endpoints.length * FAULT_SHAPE.maxSessionsPerPod - held);
    if (open > 0) await fleet.control.openSessions(open);
    if (held > e.active) await fleet.control.endSessions(held - e.active);
    if (Date.now() > deadline) throw new Error(`fleet ${fleet.namespace}/${fleet.name}: cannot hold ${e.active} sessions (held ${held}, connecting ${connecting})`);
    await sleep(500);
  }
  await waitRecovered(fleet, e, Date.now(), Math.max(1_000, deadline - Date.now()));
  return sessionsCut(await fleet.control.state());
}

/** Sessions cut so far: closed by a backend (1012 on SIGTERM, anything not normal), refused or failed at the client, and stopped by the pod runner. */
export function sessionsCut(s: FleetControlState): number {
  const client = (s.sessions.outcomes['dropped'] ?? 0) + (s.sessions.outcomes['refused'] ?? 0) + (s.sessions.outcomes['failed'] ?? 0);
  return Math.max(client, s.totals.cutSessions);
}

// ---------------------------------------------------------------------------------------------
// What "recovered" means
// ---------------------------------------------------------------------------------------------

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

interface UmdObject extends KubeObject {
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    sessions?: { active?: number; capacity?: number; unknownPods?: number };
    desiredReplicas?: number;
    drainingPods?: string[];
  };
}

interface PodObject extends KubeObject {
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

export interface FleetSnapshot {
  atMs: number;
  generation: number;
  observedGeneration: number | undefined;
  conditions: Condition[];
  active: number | undefined;
  unknownPods: number | undefined;
  desiredReplicas: number | undefined;
  statusDraining: string[];
  /** The backend Deployment's spec.replicas. */
  replicas: number | undefined;
  serving: string[];
  servingReady: number;
  draining: string[];
  terminating: string[];
}

export async function snapshot(namespace: string, name: string): Promise<FleetSnapshot> {
  const k = await kubeClient();
  const { podSelector, deployment } = operatorFleetTargets(name);
  const [umd, dep, pods] = await Promise.all([
    k.get<UmdObject>(UMD, name, namespace),
    k.getIfExists<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT, deployment, namespace),
    k.list<PodObject>(POD, { namespace, labelSelector: podSelector }),
  ]);
  const live = pods.items.filter((p) => p.metadata.deletionTimestamp == null);
  // In service: in rotation, or full (out of rotation only until a session ends; load-aware routing).
  const serving = live.filter((p) => ['true', 'full'].includes(p.metadata.labels?.['unmute.sh/serving'] ?? ''));
  return {
    atMs: Date.now(),
    generation: umd.metadata.generation ?? 0,
    observedGeneration: umd.status?.observedGeneration,
    conditions: umd.status?.conditions ?? [],
    active: umd.status?.sessions?.active,
    unknownPods: umd.status?.sessions?.unknownPods,
    desiredReplicas: umd.status?.desiredReplicas,
    statusDraining: umd.status?.drainingPods ?? [],
    replicas: dep?.spec?.replicas,
    serving: serving.map((p) => p.metadata.name ?? ''),
    servingReady: serving.filter((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length,
    draining: live.filter((p) => p.metadata.labels?.['unmute.sh/serving'] === 'false').map((p) => p.metadata.name ?? ''),
    terminating: pods.items.filter((p) => p.metadata.deletionTimestamp != null).map((p) => p.metadata.name ?? ''),
  };
}

export const conditionOf = (s: FleetSnapshot, type: string) => s.conditions.find((c) => c.type === type);

export interface Expected {
  /** Sessions the clients hold. */
  active: number;
  /** Serving backends the load asks for: max(minReplicas, ceil(active / targetSessionsPerPod)). */
  serving: number;
}

/**
 * Status current: written for the current generation (status and every condition), sessions read
 * from every backend (MetricsAvailable=True, no unknown pod) and equal to what the clients hold.
 */
export function statusCurrent(s: FleetSnapshot, e: Expected): boolean {
  return (
    s.observedGeneration === s.generation &&
    s.conditions.length > 0 &&
    s.conditions.every((c) => c.observedGeneration === s.generation) &&
    conditionOf(s, 'MetricsAvailable')?.status === 'True' &&
    s.unknownPods === 0 &&
    s.active === e.active
  );
}

/**
 * Fleet as the load asks: status current, and the serving target, the Deployment's replicas and
 * the serving pods (Running and Ready) all equal to what the load asks; nothing draining or
 * terminating; Ready=True and Progressing=False.
 */
export function fleetAsAsked(s: FleetSnapshot, e: Expected): boolean {
  return (
    statusCurrent(s, e) &&
    s.desiredReplicas === e.serving &&
    s.replicas === e.serving &&
    s.serving.length === e.serving &&
    s.servingReady === e.serving &&
    s.draining.length === 0 &&
    s.statusDraining.length === 0 &&
    s.terminating.length === 0 &&
    conditionOf(s, 'Ready')?.status === 'True' &&
    conditionOf(s, 'Progressing')?.status === 'False'
  );
}

export interface Recovery {
  /** ms from `fromMs` until the status was current (statusCurrent). */
  statusMs: number;
  /** ms from `fromMs` until the fleet was as the load asks (fleetAsAsked). */
  fleetMs: number;
  last: FleetSnapshot;
}

/**
 * Polls (every 100 ms) until the fleet is as the load asks; times both predicates from `fromMs`.
 * Gives up early when `sessionsCutSince` is given and a session was cut after it (the load the
 * expectation describes is gone then).
 */
export async function waitRecovered(fleet: FaultFleet, e: Expected, fromMs: number, timeoutMs = 90_000, sessionsCutSince?: number): Promise<Recovery> {
  let statusAt: number | undefined;
  let last: FleetSnapshot | undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = await snapshot(fleet.namespace, fleet.name);
      last = s;
      if (statusAt === undefined && statusCurrent(s, e)) statusAt = s.atMs;
      if (fleetAsAsked(s, e)) return { statusMs: (statusAt ?? s.atMs) - fromMs, fleetMs: s.atMs - fromMs, last: s };
    } catch {
      // the API server may still be coming back
    }
    if (sessionsCutSince !== undefined && sessionsCut(await fleet.control.state()) > sessionsCutSince) {
      throw new Error(`fleet ${fleet.namespace}/${fleet.name}: sessions were cut while waiting for it to recover`);
    }
    if (Date.now() > deadline) throw new Error(`fleet ${fleet.namespace}/${fleet.name} not as the load asks (${JSON.stringify(e)}) after ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await sleep(100);
  }
}

/** Polls until the status is current (statusCurrent); ms from `fromMs`. */
export async function waitStatusCurrent(fleet: FaultFleet, e: Pick<Expected, 'active'>, fromMs: number, timeoutMs = 90_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: FleetSnapshot | undefined;
  for (;;) {
    try {
      const s = await snapshot(fleet.namespace, fleet.name);
      last = s;
      if (statusCurrent(s, { active: e.active, serving: 0 })) return s.atMs - fromMs;
    } catch {
      // not reachable now
    }
    if (Date.now() > deadline) throw new Error(`status of ${fleet.namespace}/${fleet.name} not current (${JSON.stringify(e)}) after ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await sleep(100);
  }
}

/**
 * Samples the fleet while a fault lasts: the operator must not shrink it (no backend drained, the
 * Deployment's replicas never below `replicas`). Sampling errors (API server away) are skipped.
 */
export function watchNoScaleDown(fleet: FaultFleet, replicas: number): { stop(): Promise<{ samples: number; violations: string[] }> } {
  const violations: string[] = [];
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const s = await snapshot(fleet.namespace, fleet.name);
        samples++;
        if (s.draining.length > 0) violations.push(`${new Date(s.atMs).toISOString()}: draining ${s.draining.join(', ')}`);
        if (s.replicas !== undefined && s.replicas < replicas) violations.push(`${new Date(s.atMs).toISOString()}: replicas ${s.replicas} < ${replicas}`);
      } catch {
        // not reachable now
      }
      await sleep(250);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { samples, violations: [...new Set(violations)].slice(0, 10) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------

export { startOperatorProcess };

/** `unmute-operator run` with leader election inside the netns; the Lease lives in `namespace`. */
export function startLeaderCandidate(namespace: string, identity: string): Promise<OperatorProcess> {
  const { netns, kubeconfigInNetns, name } = clusterInfo();
  return spawnOperator({
    identity,
    kubeconfig: kubeconfigInNetns!,
    leaderElectionNamespace: namespace,
    leaderElectionId: 'faults-operator',
    wrapper: ['ip', 'netns', 'exec', netns!],
    extraArgs: ['--namespace', namespace],
    env: { [MARKER_ENV]: name },
  });
}

/** Time (epoch ms) of the first log line with this message, if any. */
export function logTime(p: OperatorProcess, msg: string): number | undefined {
  const line = p.logs().find((l) => l['msg'] === msg);
  if (line === undefined) return undefined;
  const t = line['time'];
  return typeof t === 'number' ? t : Date.parse(String(t));
}

export interface ConflictOperator {
  process: NetnsProcess;
  setConflicts(on: boolean): Promise<{ on: boolean; conflicts: number; writesPassed: number; reconciles: number }>;
  state(): Promise<{ on: boolean; conflicts: number; writesPassed: number; reconciles: number }>;
  stop(): Promise<void>;
}

/** The operator's controller on a transport that answers every write 409 while switched on. */
export async function startConflictOperator(namespace: string): Promise<ConflictOperator> {
  const socket = join(tmpdir(), `umco-${namespace}.sock`);
  const proc = spawnInNetns(node, [join(repoRoot, 'test/support/conflict-operator.ts'), '--namespace', namespace, '--control-socket', socket], {
    env: { OPERATOR_TEST_LOGS: process.env['OPERATOR_TEST_LOGS'] ?? '0' },
  });
  await proc.waitForOutput(/conflict operator started/, 30_000);
  return {
    process: proc,
    setConflicts: (on) => call(socket, 'POST', '/conflicts', { on }),
    state: () => call(socket, 'GET', '/state'),
    stop: () => proc.stop(),
  };
}

/** Peak and current resident memory of a process, from /proc/<pid>/status (bytes). */
export function memoryOf(pid: number): { hwm: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

export interface FaultFigure {
  /** Order in the table (the order). */
  order: number;
  fault: string;
  /** What changed while the fault lasted (load, or what the operator was doing). */
  during: string;
  cut: number;
  /** Recovery, ms: until the status was current (undefined: not applicable). */
  statusMs?: number;
  /** Recovery, ms: until the fleet was as the load asks. */
  fleetMs?: number;
  /** Where the clock starts, and anything else measured. */
  measured: string;
}

/** Where this run's figures go (one JSON line per case); the markdown table is written next to it. */
export function figuresFile(): string {
  return process.env['FAULT_FIGURES'] ?? join(tmpdir(), 'unmute-faults', `${clusterInfo().name}.jsonl`);
}

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** Prints one line and appends the figure to this run's file. */
export function recordFigure(f: FaultFigure): void {
  const file = figuresFile();
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(f)}\n`);
  process.stdout.write(`[fault] ${f.fault}: sessions cut ${f.cut}, status current after ${seconds(f.statusMs)}, fleet as the load asks after ${seconds(f.fleetMs)} (${f.measured})\n`);
}

/** The markdown table of every figure recorded in this run so far; written to <figures>.md too. */
export function writeFiguresTable(): { path: string; table: string } {
  const file = figuresFile();
  const rows = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FaultFigure)
        .sort((a, b) => a.order - b.order)
    : [];
  const table = [
    '| fault | while it lasts | sessions cut | status current after | fleet as the load asks after | measured |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.fault} | ${r.during} | ${r.cut} | ${seconds(r.statusMs)} | ${seconds(r.fleetMs)} | ${r.measured} |`),
  ].join('\n');
  const path = file.replace(/\.jsonl$/, '') + '.md';
  writeFileSync(path, `${table}\n`);
  return { path, table };
}

/**
 * With FAULT_LOGS=<dir>: keeps the output of the fleet and operator processes and the cluster's
 * component logs (they go with the cluster at the end of the run) under <dir>/<label>/.
 */
export function keepLogs(label: string, processes: Record<string, { output(): string } | undefined>): void {
  const root = process.env['FAULT_LOGS'];
  if (!root) return;
  const dir = join(root, label);
  mkdirSync(dir, { recursive: true });
  for (const [name, p] of Object.entries(processes)) if (p) writeFileSync(join(dir, `${name}.log`), p.output());
  cpSync(join(stateDirOf(clusterInfo().name), 'logs'), join(dir, 'cluster'), { recursive: true });
}
