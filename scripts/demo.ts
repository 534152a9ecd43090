// npm run demo [-- --duration S]: a local cluster with simulated GPU nodes, the operator, one
// UnmuteDeployment whose backends are simulated Unmute processes, and a load ramp (up, plateau,
// down). A live view shows sessions, capacity, replicas per tier, draining pods and every scaling
// decision with its reason. Ctrl-C tears everything down. With --duration it runs unattended and
// exits 0 only if the fleet scaled up under load and back down without cutting a session.
//
// The outer process (host) starts the cluster and draws the view; the operator and the fleet (pod
// runner + load generator) run inside the cluster's network namespace, where pod IPs exist.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { NetnsProcesses } from './cluster/netns-node.ts';
import { startCluster, stopCluster, type Cluster } from './cluster/harness.ts';
import { KubeClient } from '../src/runtime/kube-client.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import { operatorFleet, operatorFleetTargets, type FleetShape, type OperatorTiming } from '../src/sim/fleet/fleets.ts';
import { CHEAP_SESSION, CHEAP_WORKER, runFleetScenario } from '../src/sim/fleet/scenario.ts';
import { planTrace, type FleetTrace } from '../src/sim/fleet/trace.ts';
import { seededRng } from '../src/sim/random.ts';
import { LABEL_APP_COMPONENT, LABEL_SERVING } from '../src/api/v1alpha1/labels.ts';
import { OPERATOR_ENV, operatorNodeArgs } from '../src/cli/node-flags.ts';

const self = fileURLToPath(import.meta.url);
const NAMESPACE = 'unmute-demo';
const NAME = 'demo';
const TIME_SCALE = 10;
const SHAPE: FleetShape = { minReplicas: 2, maxReplicas: 16, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '2s' };
// Production settings divided by TIME_SCALE: 5 s interval → 1 s, 300 s window → 30 s.
const TIMING: OperatorTiming = { intervalSeconds: 1, metricsStaleSeconds: 5, scaleDownStabilizationSeconds: 30, drainTimeoutSeconds: 360, drainGracePeriodSeconds: 360 };

/** Load ramp in fleet time: quiet, up to 36 conversations, plateau, back down, quiet. */
function demoTrace(wallSeconds: number): FleetTrace {
  const total = wallSeconds * 1000 * TIME_SCALE;
  const at = (f: number) => Math.round(total * f);
  return {
    name: 'demo',
    totalMs: total,
    points: [
      { tMs: 0, sessions: 3 },
      { tMs: at(0.1), sessions: 3 },
      { tMs: at(0.3), sessions: 36 },
      { tMs: at(0.5), sessions: 36 },
      { tMs: at(0.65), sessions: 2 },
      { tMs: total, sessions: 2 },
    ],
    meanDurationMs: Math.min(120_000, total / 12),
    minDurationMs: 10_000,
    maxDurationMs: Math.min(360_000, total / 5),
  };
}

const flagsSchema = z.object({
  duration: z.coerce.number().int().min(120, 'at least 120 s').max(3600).optional(),
});

// ---------------------------------------------------------------------------------------------
// Inner: the simulated fleet and its load, inside the network namespace.

async function inner(config: { kubeconfig: string; wallSeconds: number }): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(config.kubeconfig);
  const client = await KubeClient.fromKubeConfig(kc);
  const ac = new AbortController();
  process.once('SIGTERM', () => ac.abort());
  process.once('SIGINT', () => ac.abort());
  const plan = planTrace(demoTrace(config.wallSeconds), { timeScale: TIME_SCALE, rng: seededRng(7) });
  // The demo's fleet runs the backends only (operatorFleet without the pipeline): no STT/TTS/vLLM
  // pods to play, so no services selector.
  const { servicesSelector: _none, ...targets } = operatorFleetTargets(NAME);
  const result = await runFleetScenario({
    client,
    namespace: NAMESPACE,
    ...targets,
    plan,
    spec: { minReplicas: SHAPE.minReplicas, targetSessionsPerPod: SHAPE.targetSessionsPerPod, maxSessionsPerPod: SHAPE.maxSessionsPerPod },
    worker: CHEAP_WORKER,
    session: CHEAP_SESSION,
    signal: ac.signal,
  });
  process.stdout.write(`RESULT ${JSON.stringify(result.figures)}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Outer: cluster, operator, view, verdict.

const processes = new NetnsProcesses();

interface View {
  sessions: number;
  capacity: number;
  desired: number;
  ready: number;
  draining: number;
  tiers: string;
  reason: string;
}

async function readView(client: KubeClient): Promise<View | undefined> {
  const cr = await client.getIfExists<KubeObject & { status?: Record<string, any> }>({ apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' }, NAME, NAMESPACE);
  if (cr?.status === undefined) return undefined;
  const s = cr.status;
  const pods = await client.list({ apiVersion: 'v1', kind: 'Pod' }, { namespace: NAMESPACE, labelSelector: `${LABEL_APP_COMPONENT}=backend` });
  const draining = pods.items.filter((p) => p.metadata.labels?.[LABEL_SERVING] === 'false' || p.metadata.deletionTimestamp != null).length;
  const tiers = Object.entries((s['components'] ?? {}) as Record<string, { readyReplicas?: number; desiredReplicas?: number }>)
    .map(([k, v]) => `${k} ${v.readyReplicas ?? 0}/${v.desiredReplicas ?? 0}`)
    .join('  ');
  return {
    sessions: s['sessions']?.active ?? 0,
    capacity: s['sessions']?.capacity ?? 0,
    desired: s['desiredReplicas'] ?? 0,
    ready: s['readyReplicas'] ?? 0,
    draining,
    tiers,
    reason: s['lastScaleReason'] ?? '',
  };
}

async function outer(argv: string[]): Promise<number> {
  let flags: z.infer<typeof flagsSchema>;
  try {
    const { values } = parseArgs({ args: argv, options: { duration: { type: 'string' } }, strict: true, allowPositionals: false });
    flags = flagsSchema.parse(values);
  } catch (err) {
    const message = err instanceof z.ZodError ? `--duration: ${err.issues[0]?.message}` : (err as Error).message;
    process.stderr.write(`demo: ${message}\nusage: npm run demo [-- --duration SECONDS]\n`);
    return 2;
  }
  const unattended = flags.duration !== undefined;
  // The load ramp runs for the whole duration less the set-up time; interactive runs last 5 minutes of load.
  const wallSeconds = unattended ? Math.max(90, flags.duration! - 30) : 300;
  const name = `demo-${process.pid}`;
  const ac = new AbortController();
  let cluster: Cluster | undefined;
  const cleanup = async () => {
    processes.killAll('SIGTERM');
    await stopCluster(name).catch(() => undefined);
  };
  const onSignal = () => {
    process.stderr.write('\ndemo: stopping, tearing the cluster down\n');
    ac.abort();
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const hardLimit = setTimeout(() => {
    process.stderr.write('demo: time limit reached\n');
    onSignal();
  }, (wallSeconds + 180) * 1000);
  hardLimit.unref();

  const t0 = performance.now();
  const log = (m: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);
  try {
    log('starting a local cluster: etcd, kube-apiserver, controller-manager, scheduler, KWOK with 6 simulated nodes (4 with 8 GPUs)');
    cluster = await startCluster({ name, mode: 'full', podDeletion: 'external', signal: ac.signal, log: (m) => log(`  ${m}`) });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const client = await KubeClient.fromKubeConfig(kc);
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    log(`cluster up; KUBECONFIG=${cluster.kubeconfigPath}`);

    const operator = processes.spawn(cluster, [
      ...operatorNodeArgs(['run', '--kubeconfig', cluster.kubeconfigInNetnsPath!, '--no-leader-elect',
      '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0', '--log-level', 'warn']),
    ], { env: OPERATOR_ENV });
    log('operator started (inside the cluster network namespace, so it can read each backend pod\'s /metrics)');
    await client.create(operatorFleet(NAME, NAMESPACE, SHAPE, TIMING) as KubeObject);
    log(`applied UnmuteDeployment ${NAMESPACE}/${NAME}: autoscaling ${SHAPE.minReplicas}-${SHAPE.maxReplicas} backends at ${SHAPE.targetSessionsPerPod} sessions each; time compressed x${TIME_SCALE}`);
    const fleet = processes.spawn(cluster, [self, '--inner', JSON.stringify({ kubeconfig: cluster.kubeconfigInNetnsPath, wallSeconds })]);
    log(`simulated fleet and load ramp started (${wallSeconds} s: quiet, ramp up to 36 conversations, plateau, ramp down)`);
    process.stdout.write(`${'time'.padStart(6)}  ${'sessions'.padStart(8)}  ${'capacity'.padStart(8)}  ${'desired'.padStart(7)}  ${'ready'.padStart(5)}  ${'draining'.padStart(8)}  tiers (ready/desired)\n`);

    let peakDesired = 0;
    let lastReason = '';
    let finished = false;
    void fleet.exited.then(() => (finished = true));
    void operator.exited.then((code) => {
      if (!finished) log(`operator exited unexpectedly (${code}):\n${operator.output().slice(-2000)}`);
    });
    while (!finished && !ac.signal.aborted) {
      const v = await readView(client).catch(() => undefined);
      if (v !== undefined) {
        peakDesired = Math.max(peakDesired, v.desired);
        const t = ((performance.now() - t0) / 1000).toFixed(0);
        process.stdout.write(`${`${t}s`.padStart(6)}  ${String(v.sessions).padStart(8)}  ${String(v.capacity).padStart(8)}  ${String(v.desired).padStart(7)}  ${String(v.ready).padStart(5)}  ${String(v.draining).padStart(8)}  ${v.tiers}\n`);
        if (v.reason !== '' && v.reason !== lastReason) {
          lastReason = v.reason;
          process.stdout.write(`        decision: ${v.reason}\n`);
        }
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
    const code = await fleet.exited;
    const line = fleet.output().split('\n').find((l) => l.startsWith('RESULT '));
    if (code !== 0 || line === undefined) throw new Error(`the simulated fleet failed (${code}):\n${fleet.output().slice(-2000)}`);
    const figures = JSON.parse(line.slice('RESULT '.length)) as { dropped: number; sessions: number; queuedSeconds: number; peakPods: number };
    const final = await readView(client);
    const scaledUp = peakDesired > SHAPE.minReplicas;
    const scaledDown = final !== undefined && final.desired < peakDesired;
    const ok = scaledUp && scaledDown && figures.dropped === 0;
    process.stdout.write(
      `demo ${ok ? 'OK' : 'FAILED'}: ${figures.sessions} conversations, ${figures.dropped} cut by scaling, backends ${SHAPE.minReplicas} → ${peakDesired} → ${final?.desired ?? '?'} (${scaledUp ? 'scaled up' : 'did NOT scale up'}, ${scaledDown ? 'scaled down' : 'did NOT scale down'}), ${figures.queuedSeconds.toFixed(1)} session-seconds queued\n`,
    );
    return unattended ? (ok ? 0 : 1) : 0;
  } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await cleanup();
    clearTimeout(hardLimit);
  }
}

const argv = process.argv.slice(2);
if (argv[0] === '--inner') {
  inner(JSON.parse(argv[1] ?? '{}') as { kubeconfig: string; wallSeconds: number }).catch((err: unknown) => {
    process.stderr.write(`inner: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
} else {
  outer(argv).then((code) => process.exit(code));
}
