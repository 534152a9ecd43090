// npm run bench:reconcile [-- --counts 100,1000 --namespaces 4 --workers 8 --concurrency 32]  (--workers: the operator's default)
//
// How the operator copes with many UnmuteDeployments on a local control plane (api mode: etcd +
// kube-apiserver, started and stopped here through scripts/cluster/harness.ts; a fresh cluster per
// size so sizes do not see each other's objects). For each size N:
//   1. N copies of examples/single-gpu-dev.yaml (autoscaling off, monitoring on: 22 children each with the prometheus-operator CRDs; dashboards are shared, not per fleet)
//      spread over a few namespaces, with the hf-token Secret each namespace needs;
//   2. the operator runs as a child process (`unmute-operator run --no-leader-elect`), caches synced;
//   3. all N CRs are created at once (bounded client concurrency) and the clock runs until every CR
//      has status.observedGeneration = metadata.generation with a Ready reason that is neither
//      ApplyFailed nor InvalidSpec (the controller writes that status only after every child applied);
//      the children are then counted once to confirm;
//   4. API requests per CR come from the operator's rest_client_requests_total (GET = reads, which
//      include its list/watch starts; POST/PUT/PATCH/DELETE = writes), from caches-synced to idle;
//   5. full resync: the operator is stopped and a new process started against the unchanged world:
//      it lists everything and reconciles every key from cold caches; its writes per CR are the
//      number that must be 0;
//   6. peak RSS = VmHWM from /proc/<pid>/status of each operator process (the kernel's high-water mark);
//   7. where the machine's CPU went during the first run (creating the CRs to all reconciled): the
//      cores used by kube-apiserver, etcd, the operator and this process (utime + stime from
//      /proc/<pid>/stat), against the machine's cores: says which process bounds the run.
// Prints a table and, last, one JSON line. Bounded: each size has a deadline (--timeout-s).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { MARKER_ENV } from '../scripts/cluster/config.ts';
import { startCluster, type Cluster } from '../scripts/cluster/harness.ts';
import { cpuSecondsOf } from '../scripts/cluster/procs.ts';
import { parseUnmuteDeployment } from '../src/controller/validate.ts';
import { OPTIONAL_OWNED_KINDS, OWNED_KINDS } from '../src/controller/kinds.ts';
import { createLogger } from '../src/observability/logger.ts';
import { renderFleet } from '../src/render/index.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { createInformer } from '../src/runtime/informer.ts';
import { KubeClient } from '../src/runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../src/runtime/object.ts';
import { KubeConfig } from '@kubernetes/client-node';
import {
  UMD,
  createReferencedSecrets,
  ensureNamespace,
  loadExample,
  metricSum,
  spawnOperator,
  type OperatorProcess,
  type RawCr,
} from '../test/support/operator.ts';

const Args = z.object({
  counts: z
    .string()
    .default('100,1000')
    .transform((s) => s.split(',').map((x) => Number(x.trim())))
    .pipe(z.array(z.int().min(1).max(5000)).min(1)),
  namespaces: z.coerce.number().int().min(1).max(100).default(4),
  workers: z.coerce.number().int().min(1).max(64).default(8),
  concurrency: z.coerce.number().int().min(1).max(256).default(32),
  'timeout-s': z.coerce.number().int().min(30).optional(),
});

const { values } = parseArgs({
  options: {
    counts: { type: 'string' },
    namespaces: { type: 'string' },
    workers: { type: 'string' },
    concurrency: { type: 'string' },
    'timeout-s': { type: 'string' },
  },
  strict: true,
});
const args = Args.parse(values);
const log = (msg: string) => process.stderr.write(`bench:reconcile: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];
const LABEL = 'bench.unmute.sh/run';

interface Result {
  crs: number;
  namespaces: number;
  workers: number;
  childrenPerCr: number;
  createMs: number;
  reconcileAllMs: number;
  reconcilesPerCr: number;
  readsPerCr: number;
  writesPerCr: number;
  writesByMethod: Record<string, number>;
  resyncMs: number;
  resyncReadsPerCr: number;
  resyncWritesPerCr: number;
  peakRssMiB: number;
  /** RSS and V8 heap in use once idle after the first run (the operator's own process metrics). */
  idleRssMiB: number;
  idleHeapUsedMiB: number;
  /** Cores used during the first run (creating the CRs to all reconciled), by process. */
  cores: Record<CpuRole, number>;
  resyncPeakRssMiB: number;
}

type CpuRole = 'kube-apiserver' | 'etcd' | 'operator' | 'bench';
const CPU_ROLES: CpuRole[] = ['kube-apiserver', 'etcd', 'operator', 'bench'];
function vmHwmMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

async function requestTotals(p: OperatorProcess): Promise<Record<string, number>> {
  const text = await p.metrics();
  const out: Record<string, number> = {};
  for (const method of ['GET', ...WRITE_METHODS]) out[method] = metricSum(text, 'rest_client_requests_total', { method });
  out['reconciles'] = metricSum(text, 'controller_runtime_reconcile_total');
  out['depth'] = metricSum(text, 'workqueue_depth');
  out['active'] = metricSum(text, 'controller_runtime_active_workers');
  out['rss'] = metricSum(text, 'process_resident_memory_bytes');
  out['heapUsed'] = metricSum(text, 'nodejs_heap_size_used_bytes');
  return out;
}

const writesOf = (t: Record<string, number>, base: Record<string, number>) => WRITE_METHODS.reduce((n, m) => n + (t[m]! - (base[m] ?? 0)), 0);

/** Until the operator has reconciled at least `minReconciles` times and then stayed idle for `quietMs`. */
async function waitIdle(p: OperatorProcess, minReconciles: number, deadline: number, quietMs = 2_000): Promise<Record<string, number>> {
  let last = await requestTotals(p);
  let stableSince = performance.now();
  for (;;) {
    await sleep(250);
    const now = await requestTotals(p);
    const busy = now['depth']! > 0 || now['active']! > 0 || now['reconciles'] !== last['reconciles'] || now['reconciles']! < minReconciles;
    if (busy) stableSince = performance.now();
    last = now;
    if (performance.now() - stableSince >= quietMs) return now;
    if (Date.now() > deadline) throw new Error(`operator not idle before the deadline (reconciles ${now['reconciles']}, depth ${now['depth']})`);
  }
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function benchSize(n: number): Promise<Result> {
  const deadline = Date.now() + (args['timeout-s'] ?? 120 + Math.ceil(n * 0.6)) * 1000;
  const name = `bench-rec-${n}-${process.pid}`.slice(0, 40);
  log(`${n} CRs: starting an api-mode cluster ${name}`);
  const cluster: Cluster = await startCluster({ name, mode: 'api', log: (m) => log(m) });
  const operators: OperatorProcess[] = [];
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const client = await KubeClient.fromKubeConfig(kc, { requestTimeoutMs: 60_000 });
  const stopInformer = new AbortController();
  try {
    const [template] = loadExample('single-gpu-dev.yaml') as [RawCr];
    const namespaces = Array.from({ length: Math.min(args.namespaces, n) }, (_, i) => `bench-${i}`);
    for (const ns of namespaces) {
      await ensureNamespace(client, ns);
      await createReferencedSecrets(client, { ...template, metadata: { ...template.metadata, namespace: ns } });
    }
    const crs: RawCr[] = Array.from({ length: n }, (_, i) => ({
      ...template,
      metadata: { name: `fleet-${String(i).padStart(4, '0')}`, namespace: namespaces[i % namespaces.length]!, labels: { [LABEL]: String(n) } },
    }));

    // What one CR implies on this cluster (the harness installs the prometheus-operator and Gateway API CRDs).
    const kinds: TypeRef[] = [...OWNED_KINDS];
    for (const ref of OPTIONAL_OWNED_KINDS) if (await client.isServed(ref.apiVersion, ref.kind)) kinds.push(ref);
    const parsed = parseUnmuteDeployment({ ...crs[0], metadata: { ...crs[0]!.metadata, uid: 'x' } });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const childrenPerCr = renderFleet(parsed.fleet, {
      capabilities: {
        prometheusOperator: kinds.some((k) => k.kind === 'PrometheusRule'),
        gatewayApi: kinds.some((k) => k.kind === 'HTTPRoute'),
        // The harness installs Gateway API v1.4.1, whose HTTPRoute has rules[].timeouts.
        httpRouteTimeouts: kinds.some((k) => k.kind === 'HTTPRoute'),
        grafanaOperator: kinds.some((k) => k.kind === 'GrafanaDashboard'),
        nodeDrains: true,
      },
      replicas: { backend: 1 },
    }).length;

    // Completion is watched through an informer (one watch), not by polling lists of N objects.
    const done = new Set<string>();
    const informer = createInformer<RawCr>(client, UMD, { labelSelector: `${LABEL}=${n}` }, {
      // Its retries while the fresh apiserver warms up are expected: only errors, and on stderr.
      logger: createLogger({ level: 'error', destination: { write: (s: string) => void process.stderr.write(s) } }),
      clock: systemClock(),
    });
    const check = (cr: RawCr) => {
      const key = `${cr.metadata.namespace}/${cr.metadata.name}`;
      const ready = ((cr.status?.['conditions'] ?? []) as Array<{ type: string; reason: string }>).find((c) => c.type === 'Ready');
      const reconciled = cr.status?.['observedGeneration'] === cr.metadata.generation && ready !== undefined && ready.reason !== 'ApplyFailed' && ready.reason !== 'InvalidSpec';
      if (reconciled) done.add(key);
      else done.delete(key);
    };
    informer.addHandler({ onAdd: check, onUpdate: (_old, cr) => check(cr), onDelete: () => {} });
    void informer.start(stopInformer.signal);
    await informer.waitForSync(stopInformer.signal);

    const common = {
      kubeconfig: cluster.kubeconfigPath,
      leaderElectionNamespace: 'default',
      extraArgs: ['--no-leader-elect', '--workers', String(args.workers)],
      // The cluster's marker: its teardown (or its guardian, if this process dies) ends the operator too.
      env: { [MARKER_ENV]: name },
    };
    const first = await spawnOperator({ ...common, identity: 'bench-1' });
    operators.push(first);
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, vmHwmMiB(first.pid));
      } catch {
        // exited
      }
    }, 500);
    await waitReady(first, deadline);
    const base = await requestTotals(first);

    log(`${n} CRs: creating them (${args.concurrency} at a time) in ${namespaces.length} namespaces`);
    const cpuPids: Record<CpuRole, number> = {
      'kube-apiserver': cluster.processes.find((p) => p.role === 'kube-apiserver')!.pid,
      etcd: cluster.processes.find((p) => p.role === 'etcd')!.pid,
      operator: first.pid,
      bench: process.pid,
    };
    const cpuAt = () => Object.fromEntries(CPU_ROLES.map((r) => [r, cpuSecondsOf(cpuPids[r])])) as Record<CpuRole, number>;
    const cpu0 = cpuAt();
    const t0 = performance.now();
    await pool(crs, args.concurrency, async (cr) => {
      await client.create(cr);
    });
    const createMs = performance.now() - t0;
    let lastReport = 0;
    while (done.size < n) {
      if (Date.now() > deadline) throw new Error(`${n} CRs: only ${done.size} reconciled before the deadline`);
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        log(`${n} CRs: ${done.size} reconciled after ${Math.round(performance.now() - t0)} ms`);
      }
      await sleep(100);
    }
    const reconcileAllMs = performance.now() - t0;
    const cpu1 = cpuAt();
    const cores = Object.fromEntries(CPU_ROLES.map((r) => [r, round((cpu1[r] - cpu0[r]) / (reconcileAllMs / 1000))])) as Record<CpuRole, number>;
    log(`${n} CRs: all reconciled in ${Math.round(reconcileAllMs)} ms; waiting for the operator to go idle`);
    const after = await waitIdle(first, n, deadline);
    peak = Math.max(peak, vmHwmMiB(first.pid));
    clearInterval(sampler);

    // Confirm every child exists (once, outside the timing).
    let children = 0;
    for (const ref of kinds) {
      for (const ns of namespaces) {
        const list = await client.listAll(ref, { namespace: ns, labelSelector: 'app.kubernetes.io/managed-by=unmute-operator', pageSize: 500 });
        children += list.items.filter((o: KubeObject) => (o.metadata.ownerReferences ?? []).some((r) => r.kind === 'UnmuteDeployment' && r.controller === true)).length;
      }
    }
    if (children !== n * childrenPerCr) throw new Error(`${n} CRs: expected ${n * childrenPerCr} children, found ${children}`);

    const writesByMethod = Object.fromEntries(WRITE_METHODS.map((m) => [m, after[m]! - base[m]!]).filter(([, v]) => (v as number) > 0));
    const result: Partial<Result> = {
      crs: n,
      namespaces: namespaces.length,
      workers: args.workers,
      childrenPerCr,
      createMs: Math.round(createMs),
      reconcileAllMs: Math.round(reconcileAllMs),
      reconcilesPerCr: round((after['reconciles']! - base['reconciles']!) / n),
      readsPerCr: round((after['GET']! - base['GET']!) / n),
      writesPerCr: round(writesOf(after, base) / n),
      writesByMethod,
      peakRssMiB: peak,
      idleRssMiB: Math.round(after['rss']! / 1048576),
      idleHeapUsedMiB: Math.round(after['heapUsed']! / 1048576),
      cores,
    };
    await first.stop();

    // Full resync: a new process, cold caches, every key reconciled against an unchanged world.
    log(`${n} CRs: full resync by a restarted operator`);
    const second = await spawnOperator({ ...common, identity: 'bench-2' });
    operators.push(second);
    const r0 = performance.now();
    const idle = await waitIdle(second, n, deadline);
    const resyncMs = performance.now() - r0 - 2_000;
    result.resyncMs = Math.round(resyncMs);
    result.resyncReadsPerCr = round(idle['GET']! / n);
    result.resyncWritesPerCr = round(writesOf(idle, {}) / n);
    result.resyncPeakRssMiB = vmHwmMiB(second.pid);
    await second.stop();
    return result as Result;
  } finally {
    stopInformer.abort();
    for (const p of operators) await p.stop().catch(() => undefined);
    await client.close().catch(() => undefined);
    await cluster.stop();
  }
}

async function waitReady(p: OperatorProcess, deadline: number): Promise<void> {
  for (;;) {
    const res = await fetch(`${p.healthUrl}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error('operator caches did not sync');
    await sleep(100);
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

function table(results: Result[]): string {
  const rows: Array<[string, (r: Result) => string]> = [
    ['CRs (namespaces)', (r) => `${r.crs} (${r.namespaces})`],
    ['children per CR', (r) => String(r.childrenPerCr)],
    ['create all CRs', (r) => `${(r.createMs / 1000).toFixed(1)} s`],
    ['all reconciled after', (r) => `${(r.reconcileAllMs / 1000).toFixed(1)} s`],
    ['reconciles per CR', (r) => String(r.reconcilesPerCr)],
    ['reads per CR', (r) => String(r.readsPerCr)],
    ['writes per CR', (r) => `${r.writesPerCr} (${Object.entries(r.writesByMethod).map(([m, v]) => `${m} ${v}`).join(', ')})`],
    ['full resync (restart) took', (r) => `${(r.resyncMs / 1000).toFixed(1)} s`],
    ['resync reads per CR', (r) => String(r.resyncReadsPerCr)],
    ['resync writes per CR (goal 0)', (r) => String(r.resyncWritesPerCr)],
    ['peak RSS (VmHWM), first run', (r) => `${r.peakRssMiB} MiB`],
    ['idle after it: RSS, V8 heap used', (r) => `${r.idleRssMiB}, ${r.idleHeapUsedMiB} MiB`],
    ...CPU_ROLES.map((role): [string, (r: Result) => string] => [`cores until all reconciled: ${role}`, (r) => `${r.cores[role].toFixed(2)} of ${availableParallelism()}`]),
    ['peak RSS (VmHWM), resync run', (r) => `${r.resyncPeakRssMiB} MiB`],
  ];
  const width = Math.max(...rows.map(([h]) => h.length));
  const colWidth = Math.max(14, ...results.flatMap((r) => rows.map(([, f]) => f(r).length)));
  const header = `${''.padEnd(width)}  ${results.map((r) => `${r.crs} CRs`.padStart(colWidth)).join('  ')}`;
  return [header, ...rows.map(([h, f]) => `${h.padEnd(width)}  ${results.map((r) => f(r).padStart(colWidth)).join('  ')}`)].join('\n');
}

const results: Result[] = [];
let exitCode = 0;
try {
  for (const n of args.counts) {
    const r = await benchSize(n);
    results.push(r);
    log(`${n} CRs: done ${JSON.stringify(r)}`);
  }
} catch (err) {
  exitCode = 1;
  log(`failed: ${(err as Error).stack ?? String(err)}`);
}
if (results.length > 0) process.stdout.write(`\n${table(results)}\n\n`);
process.stdout.write(
  JSON.stringify({
    bench: 'reconcile',
    rss: 'VmHWM of the operator child process (/proc/<pid>/status)',
    resync: 'restart of the operator against unchanged CRs: cold caches, every key reconciled',
    results,
    ok: exitCode === 0,
  }) + '\n',
);
process.exit(exitCode);
