// npm run bench:fleet -- --peers [--quick] [--plot=PATH] [--markdown] [--operator-log=PATH]
// The operator against what a user would run instead, on one full cluster: the same trace, seed and
// session lengths on four fleets at once, each in its own namespace, backends only (CHEAP_WORKER
// sim-workers, no STT/TTS pipeline):
//   keda           plain Deployment + Service, a KEDA ScaledObject (Prometheus scaler on the fleet's
//                  summed worker_active_sessions, target = the operator's targetSessionsPerPod), KEDA's
//                  defaults; the real HPA of kube-controller-manager scales, the ReplicaSet picks victims;
//   keda_prestop   the same plus the best practice: a preStop hook waiting until the pod reports no
//                  session, terminationGracePeriodSeconds = the operator's drain timeout, a PDB;
//   operator_prom  an UnmuteDeployment with autoscaling reading sessions from the same Prometheus;
//   operator_pods  the same reading the pods' /metrics directly.
// Prometheus is the real prometheus-operator's generated configuration run by upstream Prometheus
// (scripts/cluster/peers.ts); it scrapes the operator's fleets through the ServiceMonitors the
// operator renders and the KEDA sides through a PodMonitor made here. Every compression is listed
// in the report (compressions()). Prints a table, the goals against keda_prestop, and last one JSON
// line; writes a plot (SVG, bench/plot.ts). Exit 1 if an operator side cut a session.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { hpaFlagsForTimeScale, HPA_DEFAULTS_MS } from '../scripts/cluster/components.ts';
import { startCluster, stopCluster, type Cluster } from '../scripts/cluster/harness.ts';
import { NetnsProcesses } from '../scripts/cluster/netns-node.ts';
import { startPeers, type Peers } from '../scripts/cluster/peers.ts';
import { KubeClient } from '../src/runtime/kube-client.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import { operatorFleet, operatorFleetTargets, type FleetShape, type OperatorTiming } from '../src/sim/fleet/fleets.ts';
import { idealReplicas } from '../src/sim/fleet/measure.ts';
import { FULL_TRACE, planTrace, plannedConcurrency, QUICK_TRACE } from '../src/sim/fleet/trace.ts';
import { seededRng } from '../src/sim/random.ts';
import { KEDA_DEFAULTS_S, kedaFleet, PEER_SIDES, type PeerSide } from './peers-fleets.ts';
import { peersGoals, peersJson, peersMarkdown, peersSummary, peersTable, type PeerRun } from './peers-report.ts';
import { plotRows, writePlot } from './plot.ts';
import { OPERATOR_ENV, operatorNodeArgs } from '../src/cli/node-flags.ts';

export interface PeersContext {
  /** bench/fleet.ts, whose --inner mode runs one fleet. */
  self: string;
  timeScale: number;
  seed: number;
  shape: FleetShape;
  timing: OperatorTiming;
}

const flagsSchema = z.object({
  quick: z.boolean(),
  plot: z.string().min(1).optional(),
  markdown: z.boolean(),
  operatorLog: z.string().min(1).optional(),
});
type Flags = z.infer<typeof flagsSchema>;

export function parsePeersFlags(argv: readonly string[]): Flags {
  const raw: Record<string, unknown> = { quick: false, markdown: false };
  for (const a of argv) {
    if (a === '--peers') continue;
    else if (a === '--quick') raw['quick'] = true;
    else if (a === '--markdown') raw['markdown'] = true;
    else if (a.startsWith('--plot=')) raw['plot'] = a.slice('--plot='.length);
    else if (a.startsWith('--operator-log=')) raw['operatorLog'] = a.slice('--operator-log='.length);
    else throw new Error(`bench:fleet --peers: unknown flag ${a} (takes --quick, --plot=PATH, --markdown, --operator-log=PATH)`);
  }
  return flagsSchema.parse(raw);
}

/** Labels the benchmark's Prometheus selects monitors by. */
const SELECT = { release: 'bench-fleet-peers' };
const MONITORING_NS = 'monitoring';
/** Unmute recommends a 5 s scrape; 10 s is a common production setting: ×10 → 1 s. */
const SCRAPE_INTERVAL = '1s';
const NAMESPACES: Record<PeerSide, string> = { keda: 'peers-keda', keda_prestop: 'peers-keda-prestop', operator_prom: 'peers-op-prom', operator_pods: 'peers-op-pods' };
const OPERATOR_METRICS: Record<'operator_prom' | 'operator_pods', string> = { operator_prom: '127.0.0.1:18096', operator_pods: '127.0.0.1:18097' };

/**
 * The operator's timing for --peers: the two-side benchmark's, with metricsStaleSeconds compressed
 * like the rest (its default 15 s / the time scale, in whole seconds, at least two intervals). It
 * also sets the Prometheus source's max_over_time window (max(metricsStaleSeconds, 2 intervals)):
 * left at 5 s wall it would be 50 fleet seconds, over three times the default's 15.
 */
export function peersTiming(ctx: Pick<PeersContext, 'timeScale' | 'timing'>): OperatorTiming {
  return { ...ctx.timing, metricsStaleSeconds: Math.max(2 * ctx.timing.intervalSeconds, Math.ceil(15 / ctx.timeScale)) };
}

/** Every time compression of the run, for the report and the docs. */
export function compressions(ctx: Pick<PeersContext, 'timeScale' | 'timing' | 'shape'>): string[] {
  const s = ctx.timeScale;
  const hpa = hpaFlagsForTimeScale(s);
  const t = peersTiming(ctx);
  return [
    `trace and session lengths ×${s} (1 wall s = ${s} fleet s)`,
    `HPA sync period ${HPA_DEFAULTS_MS.syncPeriod / 1000} s -> ${hpa.syncPeriod} (kube-controller-manager --horizontal-pod-autoscaler-sync-period)`,
    `HPA downscale stabilization ${HPA_DEFAULTS_MS.downscaleStabilization / 1000} s -> ${hpa.downscaleStabilization} (--horizontal-pod-autoscaler-downscale-stabilization; KEDA's HPA has no behavior of its own); tolerance 0.1 and scale-up limits unchanged`,
    `KEDA pollingInterval ${KEDA_DEFAULTS_S.pollingInterval} s -> ${Math.round(KEDA_DEFAULTS_S.pollingInterval / s)} s, cooldownPeriod ${KEDA_DEFAULTS_S.cooldownPeriod} s -> ${Math.round(KEDA_DEFAULTS_S.cooldownPeriod / s)} s (acts only on scale to zero: unused at minReplicaCount ${ctx.shape.minReplicas})`,
    `Prometheus scrape interval 10 s -> ${SCRAPE_INTERVAL} (PodMonitor of the KEDA sides, monitoring.interval of the operator sides)`,
    `operator interval 5 s -> ${t.intervalSeconds} s (its minimum), scale-down window 120 s -> ${t.scaleDownStabilizationSeconds} s, metricsStaleSeconds 15 s -> ${t.metricsStaleSeconds} s (so the Prometheus source's max_over_time window is ${Math.max(t.metricsStaleSeconds, 2 * t.intervalSeconds)} s), drainTimeoutSeconds 3600 s -> ${t.drainTimeoutSeconds} s`,
    `keda_prestop terminationGracePeriodSeconds = the operator's drain timeout, ${t.drainTimeoutSeconds} s`,
    `pod start ≈ 30 s -> ${ctx.shape.podStartDelay} (KWOK delay)`,
  ];
}

/** Machine CPU from /proc/stat: busy and total jiffies. */
function cpuJiffies(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

interface InnerResult extends PeerRun {
  wallMs: number;
  runner: unknown;
  /** CPU seconds of the side's inner process (pod runner, sim-workers, callers). */
  cpuS?: number;
}

function parseResult(text: string, label: string): InnerResult {
  const line = text.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`${label}: no result; output:\n${text.slice(-3000)}`);
  return JSON.parse(line.slice('RESULT '.length)) as InnerResult;
}

export async function runPeers(argv: string[], ctx: PeersContext): Promise<number> {
  let flags: Flags;
  try {
    flags = parsePeersFlags(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const traceName = flags.quick ? 'quick' : 'full';
  const trace = flags.quick ? QUICK_TRACE : FULL_TRACE;
  const traceWallMs = trace.totalMs / ctx.timeScale;
  const plotPath = flags.plot ?? `/tmp/bench-fleet-peers-${traceName}-${process.pid}.svg`;
  const t0 = performance.now();
  const name = `bench-peers-${process.pid}`;
  const ac = new AbortController();
  const processes = new NetnsProcesses();
  let cluster: Cluster | undefined;
  let peers: Peers | undefined;
  const log = (m: string) => process.stderr.write(`  ${m}\n`);
  // Start-up (cluster, prometheus-operator, KEDA, Prometheus) takes 1-2 minutes on 2 cores.
  const hardLimitMs = traceWallMs + 420_000;
  // Once: a signal's cleanup and the run's own `finally` may both get here.
  let peersStopped: Promise<void> | undefined;
  const stopPeers = () => (peersStopped ??= peers?.stop() ?? Promise.resolve());
  const cleanup = async () => {
    ac.abort();
    processes.killAll();
    await stopPeers().catch(() => undefined);
    await stopCluster(name).catch(() => undefined);
  };
  const killer = setTimeout(() => {
    process.stderr.write(`bench:fleet --peers: hard time limit (${Math.round(hardLimitMs / 1000)} s) reached, stopping\n`);
    void cleanup().finally(() => process.exit(3));
  }, hardLimitMs);
  killer.unref();
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`bench:fleet --peers: ${sig}, cleaning up\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const hpa = hpaFlagsForTimeScale(ctx.timeScale);
    const timing = peersTiming(ctx);
    process.stderr.write(`bench:fleet --peers: starting a full cluster (${name}, podDeletion external, HPA ${JSON.stringify(hpa)})\n`);
    cluster = await startCluster({ name, mode: 'full', podDeletion: 'external', hpa, signal: ac.signal, log });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const client = await KubeClient.fromKubeConfig(kc);
    peers = await startPeers(cluster, {
      prometheus: { namespace: MONITORING_NS, name: 'k8s', selector: SELECT, scrapeInterval: SCRAPE_INTERVAL, evaluationInterval: '5s' },
      keda: true,
      log,
    });
    const prometheusUrl = peers.prometheus!.urlInNetns;
    for (const ns of Object.values(NAMESPACES)) await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });

    const keda = kedaFleet({ name: 'keda', namespace: NAMESPACES.keda, shape: ctx.shape, prometheusUrl, monitorLabels: SELECT, scrapeInterval: SCRAPE_INTERVAL, timeScale: ctx.timeScale });
    const kedaPre = kedaFleet({
      name: 'keda-prestop',
      namespace: NAMESPACES.keda_prestop,
      shape: ctx.shape,
      prometheusUrl,
      monitorLabels: SELECT,
      scrapeInterval: SCRAPE_INTERVAL,
      timeScale: ctx.timeScale,
      prestop: { terminationGracePeriodSeconds: timing.drainTimeoutSeconds },
    });
    const monitoring = { enabled: true, labels: SELECT, interval: SCRAPE_INTERVAL };
    const opProm = operatorFleet('fleet', NAMESPACES.operator_prom, ctx.shape, timing, { monitoring, metrics: { source: 'Prometheus', prometheus: { url: prometheusUrl } } });
    const opPods = operatorFleet('fleet', NAMESPACES.operator_pods, ctx.shape, timing, { monitoring });
    for (const o of [...keda.objects, ...kedaPre.objects, opProm as KubeObject, opPods as KubeObject]) await client.create(o);

    const operators = (['operator_prom', 'operator_pods'] as const).map((side) =>
      processes.spawn(
        cluster!,
        operatorNodeArgs(['run', '--kubeconfig', cluster!.kubeconfigInNetnsPath!, '--no-leader-elect', '--namespace', NAMESPACES[side], '--metrics-bind-address', OPERATOR_METRICS[side], '--health-probe-bind-address', '127.0.0.1:0', '--log-level', flags.operatorLog ? 'info' : 'warn']),
        { env: OPERATOR_ENV },
      ),
    );
    const opTargets = operatorFleetTargets('fleet');
    const configs: Record<PeerSide, Record<string, unknown>> = {
      keda: { namespace: NAMESPACES.keda, ...keda.targets, kedaWrites: { hpa: keda.hpa, scaledObject: keda.scaledObject } },
      keda_prestop: { namespace: NAMESPACES.keda_prestop, ...kedaPre.targets, kedaWrites: { hpa: kedaPre.hpa, scaledObject: kedaPre.scaledObject } },
      operator_prom: { namespace: NAMESPACES.operator_prom, podSelector: opTargets.podSelector, service: opTargets.service, deployment: opTargets.deployment, operatorMetricsUrl: `http://${OPERATOR_METRICS.operator_prom}/metrics` },
      operator_pods: { namespace: NAMESPACES.operator_pods, podSelector: opTargets.podSelector, service: opTargets.service, deployment: opTargets.deployment, operatorMetricsUrl: `http://${OPERATOR_METRICS.operator_pods}/metrics` },
    };
    const cpuBefore = cpuJiffies();
    const runs = await Promise.all(
      PEER_SIDES.map(async (side) => {
        const p = processes.spawn(
          cluster!,
          [ctx.self, '--inner', JSON.stringify({ ...configs[side], kubeconfig: cluster!.kubeconfigInNetnsPath, trace: traceName, label: side, hpa: false, windowS: 0, podSeries: true })],
          { passStderr: true },
        );
        const code = await p.exited;
        if (code !== 0) throw new Error(`${side} run exited ${code}:\n${p.output().slice(-3000)}`);
        return [side, parseResult(p.output(), side)] as const;
      }),
    );
    const cpuAfter = cpuJiffies();
    const results = Object.fromEntries(runs) as Record<PeerSide, InnerResult>;
    for (const o of operators) o.child.kill('SIGTERM');
    if (flags.operatorLog) {
      writeFileSync(flags.operatorLog, operators.map((o, i) => `=== ${['operator_prom', 'operator_pods'][i]}\n${o.output()}`).join('\n'));
    }
    const wallS = (performance.now() - t0) / 1000;
    const summary = peersSummary(results);
    const innerCpu = Object.fromEntries(PEER_SIDES.map((s) => [s, results[s].cpuS ?? null]));
    const load = loadavg().map((v) => v.toFixed(2)).join(' ');
    const cpuBusy = cpuBefore && cpuAfter && cpuAfter.total > cpuBefore.total ? (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total) : undefined;

    // Timeline: mean pods (ideal) per twelfth of the trace, per side.
    const tl = results.operator_pods.timeline;
    const lines = [`timeline (wall s from the trace start; mean sessions, then mean pods per side, ideal in brackets):`, `${'from'.padStart(5)}  ${'sessions'.padStart(8)}  ${PEER_SIDES.map((s) => s.padStart(14)).join('  ')}`];
    tl.forEach((row, i) => {
      lines.push(`${row.fromS.toFixed(0).padStart(5)}  ${row.sessions.toFixed(1).padStart(8)}  ${PEER_SIDES.map((s) => { const r = results[s].timeline[i]; return (r ? `${r.pods.toFixed(1)} (${r.ideal.toFixed(1)})` : '-').padStart(14); }).join('  ')}`);
    });
    process.stdout.write(lines.join('\n') + '\n\n');
    process.stdout.write(`fleet benchmark --peers: trace "${traceName}", ${results.operator_pods.figures.sessions} sessions per side, ran ${wallS.toFixed(0)} s wall` + (cpuBusy !== undefined ? `, machine CPU ${(cpuBusy * 100).toFixed(0)} % busy during the runs (of all ${cpus().length} cores, every process of the machine)` : '') + `, load average ${load}\n`);
    process.stdout.write(`CPU seconds of each side's sim-workers and callers: ${JSON.stringify(innerCpu)}\n`);
    process.stdout.write('compressions:\n' + compressions(ctx).map((c) => `  - ${c}`).join('\n') + '\n');
    process.stdout.write(peersTable(summary) + '\n');
    if (flags.markdown) process.stdout.write('\n' + peersMarkdown(summary) + '\n\n');

    // The plot: the trace's sessions (the plan, the same for every side), the ideal pods, each side's pods.
    const plan = planTrace(trace, { timeScale: ctx.timeScale, rng: seededRng(ctx.seed) });
    const endS = plan.totalMs / 1000;
    const sessions = Array.from({ length: Math.floor(endS) + 1 }, (_, k) => ({ tS: k, value: plannedConcurrency(plan.sessions, k * 1000) }));
    const rows = plotRows({
      sessions,
      idealPods: (n) => idealReplicas(n, { minReplicas: ctx.shape.minReplicas, targetSessionsPerPod: ctx.shape.targetSessionsPerPod, maxSessionsPerPod: ctx.shape.maxSessionsPerPod }),
      pods: Object.fromEntries(PEER_SIDES.map((s) => [s, results[s].podSeries ?? []])),
      stepS: 1,
      endS,
    });
    const plotted = await writePlot(plotPath, rows, `bench:fleet --peers, ${traceName} trace: sessions, ideal pods and pods per side`).catch((e: Error) => {
      process.stderr.write(`plot: ${e.message}\n`);
      return undefined;
    });
    if (plotted) process.stdout.write(`plot: ${plotPath} (${plotted.renderer}; rows in ${plotPath}.json)\n`);

    const goals = peersGoals(summary);
    for (const g of goals) process.stdout.write(`goal (${g.side}): ${g.goal}: ${g.met ? 'met' : 'NOT met'} (${g.detail})\n`);
    process.stdout.write(
      JSON.stringify({
        trace: traceName,
        mode: 'peers',
        time_scale: ctx.timeScale,
        wall_s: Math.round(wallS),
        sessions: results.operator_pods.figures.sessions,
        cpu_busy: cpuBusy === undefined ? null : Math.round(cpuBusy * 100) / 100,
        cpu_s_inner: innerCpu,
        ...peersJson(summary),
      }) + '\n',
    );
    return summary.operator_prom.cut === 0 && summary.operator_pods.cut === 0 ? 0 : 1;
  } catch (err) {
    process.stderr.write(`bench:fleet --peers: ${(err as Error).message}\n`);
    return 1;
  } finally {
    clearTimeout(killer);
    processes.killAll();
    await stopPeers().catch((e: Error) => process.stderr.write(`peers: ${e.message}\n`));
    if (cluster !== undefined || ac.signal.aborted) await stopCluster(name).catch((e: Error) => process.stderr.write(`cleanup: ${e.message}\n`));
  }
}
