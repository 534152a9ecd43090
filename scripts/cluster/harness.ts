// Local Kubernetes control plane for integration tests, benchmarks and the demo.
//
//   api:  etcd + kube-apiserver on the host's 127.0.0.1 (free ports). Fast; no controllers.
//   full: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK (simulated
//         nodes from nodes.yaml) inside a network namespace made for the cluster, where the pod
//         range 10.250.0.0/16 is a local route on loopback. The host reaches the apiserver through
//         a relay (host 127.0.0.1:<free port> -> unix socket -> netns 127.0.0.1:6443).
//
// State lives in <cache>/clusters/<name>/: pki/, etcd/, logs/, pids, state.json, kubeconfigs.
// A cluster belongs to an owner process (default: the caller) and a guardian process stops it
// when the owner dies; detach() hands it over to `cluster:down` (used by `cluster:up`).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { createPki, kubeconfigYaml, type ClusterPki } from './certs.ts';
import {
  binDir,
  checkPrerequisites,
  ClusterNameSchema,
  clustersDir,
  harnessDir,
  ModeSchema,
  NETNS_PORTS,
  netnsNameOf,
  repoRoot,
  stateDirOf,
  thirdPartyCrdFiles,
  yamlFiles,
  type Mode,
} from './config.ts';
import { apiserverArgs, controllerManagerArgs, etcdArgs, HpaFlagsSchema, kwokArgs, PodDeletionSchema, schedulerArgs, writeStages, type HpaFlags, type PodDeletion } from './components.ts';
import { installCrds } from './crds.ts';
import { assertHostHasNoPodRoute, createNetns, deleteNetns } from './netns.ts';
import { defaultNodesFile, loadNodes, type SimNode } from './nodes.ts';
import { isAlive, killClusterProcesses, markedProcesses, recordedPids, spawnDaemon, type Daemon } from './procs.ts';

export { HpaFlagsSchema, hpaFlagsForTimeScale, PodDeletionSchema, type HpaFlags, type PodDeletion } from './components.ts';

export interface StartOptions {
  name: string;
  mode: Mode;
  /** PID whose death stops the cluster (default: this process). null: nobody; stop it with stopCluster. */
  owner?: number | null;
  podDeletion?: PodDeletion;
  nodesFile?: string;
  /** Progress messages (the CLI prints them on stderr). */
  log?: (msg: string) => void;
  timeoutMs?: number;
  /** Also install every *.yaml in the repo's crds/ (default true). */
  repoCrds?: boolean;
  /** Aborting stops the start: everything started so far is stopped and startCluster rejects. */
  signal?: AbortSignal;
  /**
   * The aggregation layer: front-proxy CA and client certificate, --requestheader-* and
   * --proxy-client-* flags and --enable-aggregator-routing, so APIServices served by processes in
   * the netns (KEDA's metrics adapter) work. Default: on in full mode, off in api mode.
   */
  aggregation?: boolean;
  /** HPA controller flags of kube-controller-manager (full mode); see hpaFlagsForTimeScale. */
  hpa?: HpaFlags;
}

export interface Cluster {
  name: string;
  mode: Mode;
  stateDir: string;
  /** Kubeconfig valid on the host. */
  kubeconfigPath: string;
  server: string;
  /** full mode only: network namespace name and a kubeconfig valid inside it. */
  netns?: string;
  kubeconfigInNetnsPath?: string;
  /** Whether kube-apiserver runs the aggregation layer (front proxy, aggregator routing). */
  aggregation: boolean;
  /** Every PID the harness started for this cluster (control plane, relays, guardian). */
  pids: number[];
  processes: Array<{ role: string; pid: number }>;
  startupMs: number;
  stop(): Promise<void>;
  /** Let the cluster outlive its owner (until cluster:down). */
  detach(): void;
}

const StateSchema = z.object({
  name: ClusterNameSchema,
  mode: ModeSchema,
  netns: z.string().nullable(),
  owner: z.number().nullable(),
  createdAt: z.string(),
  ready: z.boolean(),
  server: z.string().optional(),
  kubeconfig: z.string().optional(),
  kubeconfigInNetns: z.string().optional(),
  aggregation: z.boolean().optional(),
  hpa: HpaFlagsSchema.optional(),
});
export type ClusterState = z.infer<typeof StateSchema>;

export function readClusterState(name: string): ClusterState | undefined {
  const file = join(stateDirOf(ClusterNameSchema.parse(name)), 'state.json');
  if (!existsSync(file)) return undefined;
  return StateSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

function writeState(dir: string, s: ClusterState): void {
  // rename is atomic: readers (guardian, cluster:exec) never see half a file
  writeFileSync(join(dir, 'state.json.tmp'), JSON.stringify(s, null, 2));
  renameSync(join(dir, 'state.json.tmp'), join(dir, 'state.json'));
}

/** Names of all clusters that have a state directory. */
export function listClusters(): string[] {
  const dir = clustersDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => ClusterNameSchema.safeParse(n).success);
}

/**
 * Stops a cluster and removes its state: kills every process it started (by recorded PID and by
 * env marker), deletes its network namespace and its state directory. Safe to call repeatedly
 * and for clusters that do not exist.
 */
export async function stopCluster(name: string, opts: { excludePids?: number[] } = {}): Promise<void> {
  ClusterNameSchema.parse(name);
  const dir = stateDirOf(name);
  const survivors = await killClusterProcesses(name, dir, opts.excludePids);
  if (survivors.length > 0) throw new Error(`cluster ${name}: processes ${survivors.join(', ')} survived SIGKILL`);
  await deleteNetns(netnsNameOf(name));
  rmSync(dir, { recursive: true, force: true });
}

const freePorts = async (n: number): Promise<number[]> => {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((res, rej) => {
      const s = createServer();
      s.on('error', rej);
      s.listen(0, '127.0.0.1', () => res(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
};

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

class Interrupted extends Error {}

/** Polls `check` until it returns a value; fails fast if a cluster process died or on abort. */
async function until<T>(what: string, daemons: Daemon[], limits: { deadline: number; signal: AbortSignal | undefined }, check: () => Promise<T | undefined>): Promise<T> {
  const { deadline, signal } = limits;
  let lastError = '';
  for (;;) {
    if (signal?.aborted) throw new Interrupted(`interrupted while waiting for ${what}`);
    const dead = daemons.find((d) => d.exit() !== undefined);
    if (dead) throw new Error(`${dead.role} exited (${dead.exit()}) while waiting for ${what}; last log lines (${dead.logFile}):\n${tail(dead.logFile)}`);
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}`);
    await sleep(100);
  }
}

function componentKubeconfig(dir: string, pki: ClusterPki, server: string, file: string, user: string, pair: { cert: string; key: string }): string {
  const path = join(dir, file);
  writeFileSync(path, kubeconfigYaml(server, pki.ca.cert, user, pair), { mode: 0o600 });
  return path;
}

export async function startCluster(opts: StartOptions): Promise<Cluster> {
  const t0 = Date.now();
  const name = ClusterNameSchema.parse(opts.name);
  const mode = ModeSchema.parse(opts.mode);
  const podDeletion = PodDeletionSchema.parse(opts.podDeletion ?? 'immediate');
  const owner = opts.owner === undefined ? process.pid : opts.owner;
  const log = opts.log ?? (() => {});
  const deadline = t0 + (opts.timeoutMs ?? (mode === 'api' ? 60_000 : 150_000));
  const limits = { deadline, signal: opts.signal };
  const versions = checkPrerequisites(mode);
  const nodes: SimNode[] = mode === 'full' ? loadNodes(opts.nodesFile ?? defaultNodesFile) : [];
  const aggregation = opts.aggregation ?? mode === 'full';
  const hpa = HpaFlagsSchema.parse(opts.hpa ?? {});
  if (mode === 'api' && Object.keys(hpa).length > 0) throw new Error('hpa flags need a controller-manager: use full mode');

  // `up` of an existing name replaces it: whatever is left of it goes first.
  await stopCluster(name);
  const dir = stateDirOf(name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const netns = mode === 'full' ? netnsNameOf(name) : null;
  const state: ClusterState = { name, mode, netns, owner, createdAt: new Date().toISOString(), ready: false, aggregation, hpa };
  writeState(dir, state);

  const daemons: Daemon[] = [];
  const bin = (b: string) => join(binDir(), b);
  const start = (role: string, command: string, args: string[], inNetns: boolean) => {
    const d = spawnDaemon({ cluster: name, stateDir: dir, role, command, args, netns: inNetns ? (netns ?? undefined) : undefined });
    daemons.push(d);
    return d;
  };
  let kube: KubeClient | undefined;
  try {
    if (owner !== null) {
      start('guardian', process.execPath, [join(harnessDir, 'guardian.ts'), name, String(owner)], false);
    }
    const [pki] = await Promise.all([
      createPki(join(dir, 'pki'), { aggregation }),
      netns ? assertHostHasNoPodRoute().then(() => createNetns(netns)) : Promise.resolve(),
    ]);
    log(`${name}: certificates${netns ? ` and netns ${netns}` : ''} ready (${Date.now() - t0} ms)`);

    const [apiserver, etcdClient, etcdPeer] = netns ? [NETNS_PORTS.apiserver, NETNS_PORTS.etcdClient, NETNS_PORTS.etcdPeer] : await freePorts(3);
    const ports = { apiserver: apiserver!, etcdClient: etcdClient!, etcdPeer: etcdPeer! };
    const inNetns = netns !== null;
    const core = [
      start('etcd', bin('etcd'), etcdArgs(dir, ports), inNetns),
      start('kube-apiserver', bin('kube-apiserver'), apiserverArgs(dir, pki, ports, mode), inNetns),
    ];

    let hostPort = ports.apiserver;
    if (netns) {
      const socket = join(dir, 'apiserver.sock');
      if (Buffer.byteLength(socket) > 100) throw new Error(`unix socket path too long (${socket}); use a shorter UNMUTE_CACHE_DIR or cluster name`);
      const portFile = join(dir, 'relay.port');
      core.push(start('relay-netns', process.execPath, [join(harnessDir, 'relay.ts'), 'unix-to-tcp', socket, String(ports.apiserver)], true));
      core.push(start('relay-host', process.execPath, [join(harnessDir, 'relay.ts'), 'tcp-to-unix', socket, portFile], false));
      hostPort = await until('the host relay', core, limits, async () => (existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : undefined));
    }
    const server = `https://127.0.0.1:${hostPort}`;
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, pki.ca.cert, 'admin', pki.admin), { mode: 0o600 });
    const inNetnsServer = `https://127.0.0.1:${ports.apiserver}`;
    const kubeconfigInNetnsPath = netns ? componentKubeconfig(dir, pki, inNetnsServer, 'kubeconfig-netns', 'admin', pki.admin) : undefined;

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    kube = await KubeClient.fromKubeConfig(kc);
    const k = kube;
    // A non-2xx answer throws; until() retries until the deadline.
    await until('kube-apiserver /readyz', core, limits, () => k.raw('GET', '/readyz', { timeoutMs: 2_000 }).then(() => true));
    log(`${name}: kube-apiserver ready at ${server}${aggregation ? ', aggregation layer on' : ''} (${Date.now() - t0} ms)`);

    const work: Array<Promise<unknown>> = [
      installCrds(k, [...thirdPartyCrdFiles(versions), ...(opts.repoCrds === false ? [] : yamlFiles(join(repoRoot, 'crds')))], Math.max(deadline - Date.now(), 1_000)).then((n) =>
        log(`${name}: ${n} CRDs established (${Date.now() - t0} ms)`),
      ),
    ];
    if (netns) {
      const kcmCfg = componentKubeconfig(dir, pki, inNetnsServer, 'controller-manager.kubeconfig', 'system:kube-controller-manager', pki.controllerManager);
      const schedCfg = componentKubeconfig(dir, pki, inNetnsServer, 'scheduler.kubeconfig', 'system:kube-scheduler', pki.scheduler);
      const kwokCfg = componentKubeconfig(dir, pki, inNetnsServer, 'kwok.kubeconfig', 'kwok-controller', pki.kwok);
      const components = [
        start('kube-controller-manager', bin('kube-controller-manager'), controllerManagerArgs(dir, pki, kcmCfg, hpa), true),
        start('kube-scheduler', bin('kube-scheduler'), schedulerArgs(schedCfg), true),
        start('kwok', bin('kwok'), kwokArgs(kwokCfg, writeStages(dir, podDeletion)), true),
      ];
      const all = [...core, ...components];
      work.push(
        Promise.all(nodes.map((n) => k.create(n.object))).then(async () => {
          await until('simulated nodes Ready', all, limits, async () => {
            const list = await k.list<SimNodeObject>(NODE, { labelSelector: 'type=kwok' });
            return nodes.every((n) => nodeReady(list.items, n.name)) ? true : undefined;
          });
          log(`${name}: ${nodes.length} simulated nodes Ready (${Date.now() - t0} ms)`);
        }),
        // The ServiceAccount controller creating `default` proves the controller-manager works,
        // and pods cannot be created before it exists.
        until('the default ServiceAccount', all, limits, async () => ((await k.getIfExists(SERVICE_ACCOUNT, 'default', 'default')) ? true : undefined)).then(() => log(`${name}: controller-manager up (${Date.now() - t0} ms)`)),
      );
    }
    await Promise.all(work);
    if (opts.signal?.aborted) throw new Interrupted('interrupted');
    const dead = daemons.find((d) => d.role !== 'guardian' && d.exit() !== undefined);
    if (dead) throw new Error(`${dead.role} exited (${dead.exit()}); last log lines:\n${tail(dead.logFile)}`);

    Object.assign(state, { ready: true, server, kubeconfig: kubeconfigPath, ...(kubeconfigInNetnsPath ? { kubeconfigInNetns: kubeconfigInNetnsPath } : {}) });
    writeState(dir, state);
    const startupMs = Date.now() - t0;
    log(`${name}: ${mode} cluster ready in ${startupMs} ms`);
    const processes = recordedPids(dir);
    return {
      name,
      mode,
      stateDir: dir,
      kubeconfigPath,
      server,
      ...(netns && kubeconfigInNetnsPath ? { netns, kubeconfigInNetnsPath } : {}),
      aggregation,
      pids: processes.map((p) => p.pid),
      processes,
      startupMs,
      stop: () => stopCluster(name),
      detach: () => detachCluster(name),
    };
  } catch (e) {
    const err = e as Error;
    if (err instanceof Interrupted || opts.signal?.aborted) {
      await stopCluster(name);
      throw new Error(`start of cluster ${name} was interrupted; everything it started is stopped`, { cause: err });
    }
    const hint = `state and logs were in ${dir}`;
    const logs = daemons
      .filter((d) => d.role !== 'guardian')
      .map((d) => `--- ${d.role} (${d.exit() ?? 'running'}):\n${tail(d.logFile, 8)}`)
      .join('\n');
    await stopCluster(name).catch((stopErr: Error) => log(`cleanup after failed start: ${stopErr.message}`));
    throw new Error(`cluster ${name} (${mode}) failed to start: ${err.message}\n${logs}\n(${hint}, now removed)`, { cause: err });
  } finally {
    await kube?.close();
  }
}

/** The cluster no longer follows its owner: it runs until stopCluster / cluster:down. */
export function detachCluster(name: string): void {
  const dir = stateDirOf(ClusterNameSchema.parse(name));
  writeFileSync(join(dir, 'detached'), '');
  const s = readClusterState(name);
  if (s) writeState(dir, { ...s, owner: null });
}

const NODE = { apiVersion: 'v1', kind: 'Node' } as const;
const SERVICE_ACCOUNT = { apiVersion: 'v1', kind: 'ServiceAccount' } as const;

interface SimNodeObject extends KubeObject {
  spec?: { taints?: Array<{ key: string }> };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

function nodeReady(nodes: SimNodeObject[], name: string): boolean {
  const n = nodes.find((i) => i.metadata.name === name);
  if (!n) return false;
  const ready = n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  // The node lifecycle controller removes these once it has seen the node Ready.
  const pending = n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/not-ready' || t.key === 'node.kubernetes.io/unreachable') ?? false;
  return ready && !pending;
}

/** PIDs of every live process of a cluster (recorded or carrying its marker). */
export function clusterProcesses(name: string): number[] {
  const dir = stateDirOf(ClusterNameSchema.parse(name));
  return [...new Set([...recordedPids(dir).map((p) => p.pid).filter(isAlive), ...markedProcesses(name)])];
}

