// npm run cluster:up   -- [--mode api|full] [--name N] [--pod-deletion immediate|graceful|external] [--no-repo-crds]
//                          [--no-aggregation] [--hpa-sync-period 1s] [--hpa-downscale-stabilization 30s] [--hpa-tolerance 0.1]
//                          [--hpa-time-scale 60]   (sync period and stabilization = Kubernetes' defaults / 60)
// npm run cluster:addons -- [--name N] [--keda] [--prometheus NS/NAME] [--select key=value] [--traefik]
//   starts add-ons in a running full cluster and keeps them until Ctrl-C (or cluster:down):
//   --keda: keda-operator + keda-adapter, external.metrics.k8s.io registered (scripts/cluster/keda.ts);
//   --prometheus NS/NAME: prometheus-operator, a `Prometheus` NS/NAME selecting monitors and rules
//   labelled --select (default release=unmute), and upstream Prometheus running the configuration
//   prometheus-operator generates for it (scripts/cluster/prometheus-pipeline.ts);
//   --traefik: Traefik serving the Gateway traefik/gateway (listener on 10.250.253.30:80, routes
//   from every namespace) through its kubernetesGateway provider (scripts/cluster/traefik.ts).
// npm run cluster:down -- [--name N] [--all]   (--all skips clusters owned by a live process)
// npm run cluster:exec -- [--name N] -- <command> [args...]
//   runs the command in the cluster's netns with KUBECONFIG valid there (api mode: on the host).
//
// up prints `KUBECONFIG=<path>` (and `NETNS=<name>` in full mode) on stdout, progress on stderr.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ClusterNameSchema, MARKER_ENV, ModeSchema, netnsNameOf } from './config.ts';
import { clusterRef } from './addons.ts';
import { HpaFlagsSchema, hpaFlagsForTimeScale, listClusters, PodDeletionSchema, readClusterState, startCluster, stopCluster } from './harness.ts';
import { startPeers } from './peers.ts';
import { listNetns } from './netns.ts';
import { isAlive } from './procs.ts';

const DEFAULT_NAME = 'unmute';
const err = (msg: string) => process.stderr.write(`${msg}\n`);

function fail(msg: string): never {
  err(`cluster: ${msg}`);
  process.exit(2);
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) fail(`invalid ${what}: ${z.prettifyError(r.error)}`);
  return r.data;
}

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: 'string', default: 'full' },
      name: { type: 'string', default: DEFAULT_NAME },
      'pod-deletion': { type: 'string', default: 'immediate' },
      // --no-repo-crds: leave the repo's crds/ out (e.g. when a Helm chart installs them).
      'repo-crds': { type: 'boolean', default: true },
      // --no-aggregation: kube-apiserver without the aggregation layer (on by default in full mode).
      aggregation: { type: 'boolean' },
      'hpa-sync-period': { type: 'string' },
      'hpa-downscale-stabilization': { type: 'string' },
      'hpa-tolerance': { type: 'string' },
      'hpa-time-scale': { type: 'string' },
    },
    strict: true,
    allowNegative: true,
  });
  const mode = parse(ModeSchema, values.mode, '--mode');
  const name = parse(ClusterNameSchema, values.name, '--name');
  const podDeletion = parse(PodDeletionSchema, values['pod-deletion'], '--pod-deletion');
  const scaled = values['hpa-time-scale'] === undefined ? {} : hpaFlagsForTimeScale(parse(z.coerce.number().min(1), values['hpa-time-scale'], '--hpa-time-scale'));
  const hpa = parse(
    HpaFlagsSchema,
    {
      ...scaled,
      ...(values['hpa-sync-period'] ? { syncPeriod: values['hpa-sync-period'] } : {}),
      ...(values['hpa-downscale-stabilization'] ? { downscaleStabilization: values['hpa-downscale-stabilization'] } : {}),
      ...(values['hpa-tolerance'] ? { tolerance: Number(values['hpa-tolerance']) } : {}),
    },
    '--hpa-* flags',
  );
  // This process owns the cluster while it starts: Ctrl-C/SIGTERM aborts the start (which stops
  // what was started), a harder kill is handled by the guardian. Once ready, the cluster is
  // detached and runs until cluster:down.
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  let cluster;
  try {
    cluster = await startCluster({
      name,
      mode,
      podDeletion,
      repoCrds: values['repo-crds'],
      ...(values.aggregation === undefined ? {} : { aggregation: values.aggregation }),
      ...(Object.keys(hpa).length > 0 ? { hpa } : {}),
      log: (m) => err(m),
      signal: abort.signal,
    });
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    err(`cluster: ${(e as Error).message}`);
    process.exit(130);
  }
  cluster.detach();
  process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  process.stdout.write(`KUBECONFIG=${cluster.kubeconfigPath}\n`);
  if (cluster.netns) process.stdout.write(`NETNS=${cluster.netns}\n`);
  err(`cluster ${name} is up (${mode}, ${cluster.startupMs} ms). Stop it with: npm run cluster:down -- --name ${name}`);
}

async function down(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { name: { type: 'string', default: DEFAULT_NAME }, all: { type: 'boolean', default: false } }, strict: true });
  if (!values.all) {
    const name = parse(ClusterNameSchema, values.name, '--name');
    await stopCluster(name);
    err(`cluster ${name}: stopped, state removed`);
    return;
  }
  // --all: every detached cluster and every leftover (also a netns whose state directory is gone),
  // but never a cluster a live process owns, such as the cluster of a test run in progress.
  const orphans = (await listNetns(netnsNameOf(''))).map((n) => n.slice(netnsNameOf('').length));
  const names = [...new Set([...listClusters(), ...orphans.filter((n) => ClusterNameSchema.safeParse(n).success)])];
  for (const name of names) {
    const owner = ownerOf(name);
    if (owner !== undefined && isAlive(owner)) {
      err(`cluster ${name}: skipped, owned by live process ${owner} (stop it with --name ${name})`);
      continue;
    }
    await stopCluster(name);
    err(`cluster ${name}: stopped, state removed`);
  }
}

function ownerOf(name: string): number | undefined {
  try {
    return readClusterState(name)?.owner ?? undefined;
  } catch {
    return undefined; // unreadable state: treat as a leftover
  }
}

async function exec(argv: string[]): Promise<void> {
  const sep = argv.indexOf('--');
  const own = sep === -1 ? [] : argv.slice(0, sep);
  const command = sep === -1 ? argv : argv.slice(sep + 1);
  const { values } = parseArgs({ args: own, options: { name: { type: 'string', default: DEFAULT_NAME } }, strict: true });
  const name = parse(ClusterNameSchema, values.name, '--name');
  if (command.length === 0) fail('usage: cluster:exec -- [--name N] -- <command> [args...]');
  const state = readClusterState(name);
  if (!state?.ready || !state.kubeconfig) fail(`cluster ${name} is not running (start it with npm run cluster:up -- --name ${name})`);
  // api mode has no netns: the command runs on the host with the host kubeconfig.
  const kubeconfig = state.netns ? state.kubeconfigInNetns : state.kubeconfig;
  const [cmd, args] = state.netns ? ['ip', ['netns', 'exec', state.netns, ...command]] : [command[0]!, command.slice(1)];
  // The marker makes cluster:down stop this command too if it is still running then.
  const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: kubeconfig, [MARKER_ENV]: name } });
  // Ctrl-C reaches the child directly (same process group); other signals are passed on.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => fail(`${command[0]}: ${e.message}`));
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 1)));
}

const [command, ...rest] = process.argv.slice(2);
async function addons(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string', default: DEFAULT_NAME },
      keda: { type: 'boolean', default: false },
      prometheus: { type: 'string' },
      select: { type: 'string', default: 'release=unmute' },
      traefik: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const name = parse(ClusterNameSchema, values.name, '--name');
  if (!values.keda && values.prometheus === undefined && !values.traefik) fail('nothing to start: give --keda, --prometheus NS/NAME and/or --traefik');
  const log = (m: string) => err(m);
  let prometheus: { namespace: string; name: string; selector: Record<string, string> } | undefined;
  if (values.prometheus !== undefined) {
    const [namespace, pname] = parse(z.tuple([z.string().min(1), z.string().min(1)]), values.prometheus.split('/'), '--prometheus (NS/NAME)');
    const [key, value] = parse(z.tuple([z.string().min(1), z.string()]), values.select.split('='), '--select (key=value)');
    prometheus = { namespace, name: pname, selector: { [key]: value } };
  }
  // The add-ons are detached daemons: without a timer of its own, node would see nothing left to
  // wait for and exit at once (unsettled top-level await), leaving them running unattended.
  const keepAlive = setInterval(() => {}, 3_600_000);
  const done = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve).once('SIGTERM', resolve);
  }).finally(() => clearInterval(keepAlive));
  const peers = await startPeers(clusterRef(name), { keda: values.keda, traefik: values.traefik, ...(prometheus ? { prometheus } : {}), log });
  try {
    if (peers.keda) process.stdout.write(`KEDA_ADAPTER=${peers.keda.adapterAddress}:6443\n`);
    if (peers.traefik) process.stdout.write(`GATEWAY=${peers.traefik.gateway.namespace}/${peers.traefik.gateway.name}\nGATEWAY_URL_IN_NETNS=${peers.traefik.url}\n`);
    const prom = peers.prometheus;
    if (prom) {
      process.stdout.write(`PROMETHEUS_URL=${prom.url}\nPROMETHEUS_URL_IN_NETNS=${prom.urlInNetns}\nPROMETHEUS_DIR=${prom.dir}\n`);
      for (const c of prom.changes()) err(`  rewritten: ${c}`);
    }
    err(`cluster ${name}: add-ons running; Ctrl-C stops them (cluster:down stops them too)`);
    await done;
  } finally {
    await peers.stop();
  }
}

const commands: Record<string, (argv: string[]) => Promise<void>> = { up, down, exec, addons };
const run = commands[command ?? ''];
if (!run) fail(`unknown command ${command ?? '(none)'}; use up, down, exec or addons`);
try {
  await run(rest);
} catch (e) {
  err(`cluster: ${(e as Error).message}`);
  process.exit(1);
}
