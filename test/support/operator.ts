// Helpers for the operator integration tests (test/integration/operator-*.test.ts) and the
// reconcile benchmark: run the UnmuteDeployment controller in-process (so a test can read the
// client's request counter and enqueue keys), spawn `unmute-operator run` as a real process, and
// load example CRs together with the namespaces and Secrets they refer to.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { setupUnmuteDeploymentController, type UnmuteController } from '../../src/controller/setup.ts';
import { parseUnmuteDeployment, secretRefs } from '../../src/controller/validate.ts';
import { OPTIONAL_OWNED_KINDS, OWNED_KINDS } from '../../src/controller/kinds.ts';
import { createLogger, type Logger } from '../../src/observability/logger.ts';
import { createMetricsRegistry, createRuntimeMetrics } from '../../src/observability/metrics.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { isAlreadyExists, isConflict } from '../../src/runtime/errors.ts';
import { EventRecorder } from '../../src/runtime/events.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { UndiciTransport, type KubeTransport } from '../../src/runtime/kube-transport.ts';
import type { KubeObject, TypeRef } from '../../src/runtime/object.ts';
import { OPERATOR_ENTRY, OPERATOR_ENV, operatorNodeArgs } from '../../src/cli/node-flags.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');
export const UMD: TypeRef = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' };
export const NAMESPACE: TypeRef = { apiVersion: 'v1', kind: 'Namespace' };
export const SECRET: TypeRef = { apiVersion: 'v1', kind: 'Secret' };

// ---------------------------------------------------------------------------------------------
// In-process controller
// ---------------------------------------------------------------------------------------------

export interface InProcessController {
  /** The client every request of the controller goes through: `client.requests` counts them. */
  client: KubeClient;
  setup: UnmuteController;
  /** JSON log lines at or above the chosen level. */
  logs: () => Array<Record<string, unknown>>;
  /** Enqueues every UnmuteDeployment the cache knows (a forced full resync). Returns the keys. */
  resyncAll(): string[];
  /** Reconciles finished so far (any result). */
  reconciles(): number;
  /** Keys waiting or being reconciled (sampled every 25 ms). */
  queueLength(): number;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  kubeConfig: KubeConfig;
  namespace?: string;
  workers?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Wraps the controller's transport (fault injection: test/support/conflict-operator.ts). */
  wrapTransport?: (inner: KubeTransport) => KubeTransport;
}

/**
 * The operator's controller wiring (setupUnmuteDeploymentController) without leader election or
 * HTTP servers, on a KubeClient this function builds so tests can read `client.requests`.
 */
export async function startInProcessController(o: InProcessOptions): Promise<InProcessController> {
  const lines: Array<Record<string, unknown>> = [];
  const logger: Logger = createLogger({
    level: o.logLevel ?? 'warn',
    destination: {
      write: (s: string) => {
        for (const line of s.split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        if (process.env['OPERATOR_TEST_LOGS'] === '1') process.stderr.write(s);
      },
    },
  });
  const clock = systemClock();
  const registry = createMetricsRegistry();
  const metrics = createRuntimeMetrics(registry);
  const transport = await UndiciTransport.fromKubeConfig(o.kubeConfig);
  const client = new KubeClient(o.wrapTransport ? o.wrapTransport(transport) : transport, { metrics, clock });
  const events = new EventRecorder({ sink: client, reportingController: 'unmute.sh/operator', reportingInstance: 'in-process-test', clock, logger, metrics });
  const setup = await setupUnmuteDeploymentController({
    client,
    logger,
    clock,
    registry,
    metrics,
    events,
    ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
    workers: o.workers ?? 2,
    scrapeConcurrency: 16,
  });
  const stop = new AbortController();
  const informers = Promise.all(setup.informers.map((i) => i.start(stop.signal)));
  const running = Promise.all(setup.controllers.map((c) => c.run(stop.signal)));
  const sum = async (name: string) => {
    const m = await registry.getSingleMetric(name)?.get();
    return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
  };
  let reconciled = 0;
  let active = 0;
  const poll = setInterval(() => {
    void sum('controller_runtime_reconcile_total').then((n) => (reconciled = n));
    void sum('controller_runtime_active_workers').then((n) => (active = n));
  }, 25);
  return {
    client,
    setup,
    logs: () => lines,
    resyncAll() {
      const keys = setup.informers[0]!.cache.keys();
      for (const key of keys) setup.controller.enqueue(key);
      return keys;
    },
    reconciles: () => reconciled,
    queueLength: () => setup.controller.queue.len() + active,
    async stop() {
      clearInterval(poll);
      stop.abort();
      await running;
      await informers.catch(() => undefined);
      await events.flush().catch(() => undefined);
      await client.close();
    },
  };
}

/** Waits until the controller's queue stayed empty for `quietMs` (no reconcile pending or running). */
export async function waitForIdle(c: InProcessController, opts: { quietMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const quiet = opts.quietMs ?? 1_000;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let idleSince = Date.now();
  let lastCount = c.reconciles();
  for (;;) {
    const count = c.reconciles();
    if (c.queueLength() > 0 || count !== lastCount) {
      idleSince = Date.now();
      lastCount = count;
    }
    if (Date.now() - idleSince >= quiet) return;
    if (Date.now() > deadline) throw new Error(`controller not idle after ${opts.timeoutMs ?? 60_000} ms (queue ${c.queueLength()})`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Operator process
// ---------------------------------------------------------------------------------------------

export interface OperatorProcess {
  identity: string;
  pid: number;
  child: ChildProcess;
  /** Parsed JSON log lines so far (non-JSON lines are kept as `{ raw }`). */
  logs(): Array<Record<string, unknown>>;
  output(): string;
  metricsUrl: string;
  healthUrl: string;
  /** The /metrics text. */
  metrics(): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: no lease release, no cleanup, as a crashed pod. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOperatorOptions {
  identity: string;
  kubeconfig: string;
  leaderElectionNamespace: string;
  leaderElectionId?: string;
  /** Seconds; defaults are the operator's (15, 10, 2). */
  lease?: { duration: number; renewDeadline: number; retryPeriod: number };
  logLevel?: 'debug' | 'info';
  extraArgs?: string[];
  /** Prefix, e.g. ['ip', 'netns', 'exec', NS] to run inside the cluster's network namespace. */
  wrapper?: string[];
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

const spawned = new Set<OperatorProcess>();

/**
 * Fills Node's compile cache once per test process, as the image does when it is built (Dockerfile),
 * so every operator started here runs from a warm cache, as the shipped one does.
 */
let compileCacheWarm: Promise<unknown> | undefined;
function warmCompileCache(): Promise<unknown> {
  compileCacheWarm ??= promisify(execFile)(process.execPath, operatorArgs(['run', '--help']), { timeout: 60_000, env: { ...process.env, ...OPERATOR_ENV } });
  return compileCacheWarm;
}

/** The entry by its absolute path: tests and benchmarks run from any directory. */
const operatorArgs = (args: string[]) => operatorNodeArgs(args, join(repoRoot, OPERATOR_ENTRY));

/** Starts `node bin/unmute-operator.js run` and resolves once it logged its health and metrics URLs. */
export async function spawnOperator(o: SpawnOperatorOptions): Promise<OperatorProcess> {
  await warmCompileCache();
  // As the image runs it (Dockerfile ENTRYPOINT).
  const args = operatorArgs([
    'run',
    '--kubeconfig',
    o.kubeconfig,
    '--metrics-bind-address',
    '127.0.0.1:0',
    '--health-probe-bind-address',
    '127.0.0.1:0',
    '--leader-election-namespace',
    o.leaderElectionNamespace,
    '--identity',
    o.identity,
    '--log-level',
    o.logLevel ?? 'info',
    ...(o.leaderElectionId ? ['--leader-election-id', o.leaderElectionId] : []),
    ...(o.lease
      ? ['--lease-duration', String(o.lease.duration), '--renew-deadline', String(o.lease.renewDeadline), '--retry-period', String(o.lease.retryPeriod)]
      : []),
    ...(o.extraArgs ?? []),
  ]);
  const [command, ...prefix] = o.wrapper ?? [process.execPath];
  const child = spawn(command!, [...prefix, ...(o.wrapper ? [process.execPath] : []), ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...OPERATOR_ENV, ...o.env },
  });
  if (child.pid === undefined) throw new Error(`could not start operator ${o.identity}`);
  const pid = child.pid;
  let out = '';
  const parsed: Array<Record<string, unknown>> = [];
  let partial = '';
  const onData = (b: Buffer) => {
    const s = b.toString('utf8');
    out += s;
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        parsed.push({ raw: line });
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    });
    child.on('error', () => {
      ended = true;
      resolve({ code: null, signal: null });
    });
  });
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
  let started: Record<string, unknown> | undefined;
  while ((started = parsed.find((l) => l['msg'] === 'operator started')) === undefined) {
    if (ended || Date.now() > deadline) {
      signalGroup('SIGKILL');
      throw new Error(`operator ${o.identity} did not start${ended ? ' (exited)' : ''}; output:\n${out.slice(-4000)}`);
    }
    await sleep(25);
  }
  const metricsUrl = String(started['metrics']);
  const handle: OperatorProcess = {
    identity: o.identity,
    pid,
    child,
    logs: () => parsed,
    output: () => out,
    metricsUrl,
    healthUrl: String(started['health']),
    async metrics() {
      const res = await fetch(`${metricsUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
      return res.text();
    },
    exited,
    async kill() {
      spawned.delete(handle);
      if (!ended) signalGroup('SIGKILL');
      await exited;
    },
    async stop(graceMs = 5_000) {
      spawned.delete(handle);
      if (ended) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  spawned.add(handle);
  return handle;
}

/** Stops every operator process spawnOperator started in this file (afterAll). */
export async function stopOperators(): Promise<void> {
  await Promise.all([...spawned].map((p) => p.stop()));
}

/** The value of a metric sample (first matching line) in Prometheus text, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => set[k] === v)) return Number(m[4]);
  }
  return undefined;
}

/** Sum of every sample of `name` whose labels match. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = Object.fromEntries([...(m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => set[k] === v)) total += Number(m[4]);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// CRs, namespaces, Secrets
// ---------------------------------------------------------------------------------------------

export type RawCr = KubeObject & { spec: Record<string, unknown>; status?: Record<string, unknown> };

/** The UnmuteDeployments of an examples/*.yaml file, optionally moved to another namespace. */
export function loadExample(file: string, namespace?: string): RawCr[] {
  const docs = parseAllDocuments(readFileSync(join(repoRoot, 'examples', file), 'utf8'));
  return docs
    .map((d) => d.toJS() as RawCr)
    .filter((o) => o !== null && o.kind === 'UnmuteDeployment')
    .map((o) => (namespace === undefined ? o : { ...o, metadata: { ...o.metadata, namespace } }));
}

export async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  try {
    await client.create({ ...NAMESPACE, metadata: { name } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** Creates (or completes) every Secret key the CR refers to, with placeholder values. */
export async function createReferencedSecrets(client: KubeClient, cr: RawCr): Promise<string[]> {
  const parsed = parseUnmuteDeployment(cr);
  if (!parsed.ok) throw new Error(`example ${cr.metadata.name} does not parse: ${parsed.problems.join('; ')}`);
  const byName = new Map<string, Set<string>>();
  for (const { ref } of secretRefs(parsed.fleet)) byName.set(ref.name, (byName.get(ref.name) ?? new Set()).add(ref.key));
  const namespace = cr.metadata.namespace ?? 'default';
  for (const [name, keys] of byName) {
    const data = Object.fromEntries([...keys].map((k) => [k, Buffer.from(`test-${k}`).toString('base64')]));
    await client.apply({ ...SECRET, metadata: { name, namespace }, type: 'Opaque', data }, { fieldManager: 'operator-test', force: true });
  }
  return [...byName.keys()];
}

/** Server-side applies a CR as a user would (`kubectl apply --server-side`). */
export function applyCr(client: KubeClient, cr: RawCr, fieldManager = 'operator-test-user'): Promise<RawCr> {
  const { apiVersion, kind, metadata, spec } = cr;
  return client.apply<RawCr>(
    { apiVersion, kind, metadata: { name: metadata.name, namespace: metadata.namespace, ...(metadata.labels ? { labels: metadata.labels } : {}) }, spec },
    { fieldManager, force: true },
  );
}

/** Merge-patches a CR's spec, retrying on conflicts. */
export async function patchSpec(client: KubeClient, namespace: string, name: string, spec: Record<string, unknown>): Promise<RawCr> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.patch<RawCr>(UMD, name, namespace, { spec }, 'merge', { fieldManager: 'operator-test-user' });
    } catch (err) {
      if (!isConflict(err) || attempt > 5) throw err;
    }
  }
}

/** Every kind the operator may create, for "what does this CR own" queries. */
export async function servedOwnedKinds(client: KubeClient): Promise<TypeRef[]> {
  const out: TypeRef[] = [...OWNED_KINDS];
  for (const ref of OPTIONAL_OWNED_KINDS) if (await client.isServed(ref.apiVersion, ref.kind)) out.push(ref);
  return out;
}

/** Objects in the namespace whose controller owner reference points at `uid`. */
export async function objectsControlledBy(client: KubeClient, kinds: TypeRef[], namespace: string, uid: string): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const ref of kinds) {
    const { items } = await client.list(ref, { namespace });
    for (const item of items) if ((item.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === uid)) out.push(item);
  }
  return out;
}

export interface ConditionLike {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export function conditionOf(cr: RawCr | undefined, type: string): ConditionLike | undefined {
  const conditions = (cr?.status?.['conditions'] ?? []) as ConditionLike[];
  return conditions.find((c) => c.type === type);
}
