// Shared by the cluster add-ons (keda.ts, prometheus-pipeline.ts, traefik.ts): third-party programs that stand
// in for in-cluster pods, run as processes inside a full cluster's network namespace on addresses of
// the pod range that no node hands out (ADDON_ADDRESSES), registered with the cluster by Services
// and EndpointSlices where the cluster must reach them.
//
// Every add-on process is a daemon of the cluster (procs.ts): own process group, the cluster's
// marker, PID in <state>/pids, output in <state>/logs/<role>.log, so `cluster:down` (and a test
// run's teardown) stops whatever a caller forgot.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { isAlreadyExists } from '../../src/runtime/errors.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { binDir, ClusterNameSchema, harnessDir, readVersions, stateDirOf, type Versions } from './config.ts';
import { readClusterState, type Cluster } from './harness.ts';
import { isAlive, spawnDaemon, type Daemon } from './procs.ts';

/**
 * Addresses in the netns for add-ons. Nodes get 10.250.<i>.0/24 and 10.250.255.<i+1>, KWOK's
 * fallbacks are 10.250.254.0/24 and 10.250.255.254: 10.250.253.0/24 is nobody's.
 */
export const ADDON_ADDRESSES = {
  kedaAdapter: '10.250.253.10',
  /** Prometheus instances run from generated configurations: .20, .21, ... */
  prometheusBase: '10.250.253.20',
  /** Traefik (a Gateway API implementation): .30, .31, ... */
  traefikBase: '10.250.253.30',
  /** Free for tests and benchmarks (fake servers, exporters): .100 and up. */
  free: '10.250.253.100',
} as const;

/** The n-th address after `base` in the same /24. */
export function addonAddress(base: string, n: number): string {
  const parts = base.split('.').map(Number);
  const last = parts[3]! + n;
  if (last > 254) throw new Error(`no add-on address ${n} after ${base}`);
  return [...parts.slice(0, 3), last].join('.');
}

/** What an add-on needs to know about a full-mode cluster. */
export interface ClusterRef {
  name: string;
  stateDir: string;
  netns: string;
  /** Admin kubeconfig valid on the host. */
  kubeconfigPath: string;
  /** Admin kubeconfig valid inside the netns (https://127.0.0.1:6443). */
  kubeconfigInNetnsPath: string;
  /** The cluster CA (verifies kube-apiserver; signs the admin certificate). */
  caCert: string;
  /** kube-apiserver's address inside the netns. */
  apiServerInNetns: string;
  aggregation: boolean;
}

/** A ClusterRef from a started cluster, or from the state of a running one by name (e.g. `cluster:up`'s). */
export function clusterRef(cluster: Cluster | string): ClusterRef {
  if (typeof cluster !== 'string') {
    if (cluster.netns === undefined || cluster.kubeconfigInNetnsPath === undefined) throw new Error(`cluster ${cluster.name} runs in ${cluster.mode} mode: add-ons need full mode`);
    return {
      name: cluster.name,
      stateDir: cluster.stateDir,
      netns: cluster.netns,
      kubeconfigPath: cluster.kubeconfigPath,
      kubeconfigInNetnsPath: cluster.kubeconfigInNetnsPath,
      caCert: join(cluster.stateDir, 'pki', 'ca.crt'),
      apiServerInNetns: 'https://127.0.0.1:6443',
      aggregation: cluster.aggregation,
    };
  }
  const name = ClusterNameSchema.parse(cluster);
  const state = readClusterState(name);
  if (!state?.ready || !state.kubeconfig) throw new Error(`cluster ${name} is not running (npm run cluster:up -- --name ${name})`);
  if (state.netns === null || !state.kubeconfigInNetns) throw new Error(`cluster ${name} runs in ${state.mode} mode: add-ons need full mode`);
  const stateDir = stateDirOf(name);
  return {
    name,
    stateDir,
    netns: state.netns,
    kubeconfigPath: state.kubeconfig,
    kubeconfigInNetnsPath: state.kubeconfigInNetns,
    caCert: join(stateDir, 'pki', 'ca.crt'),
    apiServerInNetns: 'https://127.0.0.1:6443',
    aggregation: state.aggregation ?? false,
  };
}

/** An admin client on the host; close() it when done. */
export function adminClient(ref: ClusterRef): Promise<KubeClient> {
  const kc = new KubeConfig();
  kc.loadFromFile(ref.kubeconfigPath);
  return KubeClient.fromKubeConfig(kc);
}

/** Path of an extra binary built by build-extras.sh, checked against its pinned version. */
export function extraBinary(name: string, version: (v: Versions) => string): string {
  const path = join(binDir(), name);
  const want = version(readVersions());
  const stamp = join(binDir(), `.${name}.version`);
  const built = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : undefined;
  if (!existsSync(path) || built !== want) {
    throw new Error(`${path} ${existsSync(path) ? `was built from ${built ?? '(no stamp)'}, versions.env pins ${want}` : 'is missing'}: run \`npm run cluster:build:extras\` (cold: about 25 min on 2 cores)`);
  }
  return path;
}

export interface AddonProcess extends Daemon {
  /** The last lines of its log. */
  tail(lines?: number): string;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function startAddonProcess(
  ref: ClusterRef,
  role: string,
  command: string,
  args: string[],
  opts: { env?: Record<string, string>; inNetns?: boolean } = {},
): AddonProcess {
  const d = spawnDaemon({ cluster: ref.name, stateDir: ref.stateDir, role, command, args, netns: opts.inNetns === false ? undefined : ref.netns, ...(opts.env ? { env: opts.env } : {}) });
  return {
    ...d,
    tail: (lines = 20) => tailFile(d.logFile, lines),
    async stop(graceMs = 3_000) {
      const signal = (sig: NodeJS.Signals) => {
        for (const target of [-d.pid, d.pid]) {
          try {
            process.kill(target, sig);
          } catch {
            // gone
          }
        }
      };
      if (!isAlive(d.pid)) return;
      signal('SIGTERM');
      const deadline = Date.now() + graceMs;
      while (isAlive(d.pid) && Date.now() < deadline) await sleep(50);
      if (isAlive(d.pid)) signal('SIGKILL');
      while (isAlive(d.pid)) await sleep(20);
    },
  };
}

export function tailFile(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `check` until it returns a value; fails at once when one of `processes` has exited (with
 * its last log lines) and at the deadline with the last error.
 */
export async function waitUntil<T>(what: string, processes: AddonProcess[], timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    const dead = processes.find((p) => p.exit() !== undefined);
    if (dead) throw new Error(`${dead.role} exited (${dead.exit()}) while waiting for ${what}; last log lines (${dead.logFile}):\n${dead.tail(30)}`);
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) {
      const logs = processes.map((p) => `--- ${p.role}:\n${p.tail(10)}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}\n${logs}`);
    }
    await sleep(intervalMs);
  }
}

/** Inodes of the IPv4 sockets listening on address:port in a /proc/<pid>/net/tcp table. */
export function listeningInodes(netTcp: string, address: string, port: number): string[] {
  // Addresses are the 32-bit value in host (little-endian) order, in hex; ports are big-endian hex.
  const ip = address.split('.').map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase()).reverse().join('');
  const local = `${ip}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
  return netTcp
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1] === local && f[3] === '0A')
    .map((f) => f[9]!);
}

/**
 * Whether process `pid` itself holds a socket listening on address:port (its netns' table, then
 * its own file descriptors): another process on that port, e.g. one left over from an earlier run,
 * does not count.
 */
export function processListensOn(pid: number, address: string, port: number): boolean {
  try {
    const inodes = new Set(listeningInodes(readFileSync(`/proc/${pid}/net/tcp`, 'utf8'), address, port));
    if (inodes.size === 0) return false;
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        return m !== null && inodes.has(m[1]!);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

export interface HostRelay {
  /** http(s)://127.0.0.1:<port> on the host. */
  hostPort: number;
  processes: AddonProcess[];
  stop(): Promise<void>;
}

/**
 * Makes `target` (host:port inside the netns) reachable on the host's 127.0.0.1:<free port>, with
 * the same pair of relays the harness uses for kube-apiserver (a unix socket in the state
 * directory joins the two namespaces).
 */
export async function exposeToHost(ref: ClusterRef, role: string, target: string, timeoutMs = 10_000): Promise<HostRelay> {
  // Socket paths are limited to ~100 bytes: a short name derived from the role.
  const socket = join(ref.stateDir, `r-${createHash('sha256').update(role).digest('hex').slice(0, 8)}.sock`);
  if (Buffer.byteLength(socket) > 100) throw new Error(`unix socket path too long (${socket}); use a shorter UNMUTE_CACHE_DIR or cluster name`);
  const portFile = join(ref.stateDir, `${role}.port`);
  rmSync(portFile, { force: true });
  const relay = join(harnessDir, 'relay.ts');
  const inner = startAddonProcess(ref, `${role}-relay-netns`, process.execPath, [relay, 'unix-to-tcp', socket, target]);
  const outer = startAddonProcess(ref, `${role}-relay-host`, process.execPath, [relay, 'tcp-to-unix', socket, portFile], { inNetns: false });
  const processes = [inner, outer];
  try {
    const hostPort = await waitUntil(`the host relay of ${role}`, processes, timeoutMs, async () => (existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : undefined), 50);
    return { hostPort, processes, stop: () => Promise.all(processes.map((p) => p.stop())).then(() => undefined) };
  } catch (e) {
    await Promise.all(processes.map((p) => p.stop()));
    throw e;
  }
}

export const HARNESS_FIELD_MANAGER = 'unmute-cluster-harness';

/** Server-side applies objects as the harness (it owns them). */
export async function applyAll(client: KubeClient, objects: KubeObject[]): Promise<void> {
  for (const o of objects) await client.apply(o, { fieldManager: HARNESS_FIELD_MANAGER, force: true });
}

export async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  try {
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}

/**
 * A selector-less Service and the EndpointSlice that gives it `address`: how the cluster (the
 * aggregator, a ScaledObject's serverAddress by DNS name if there were DNS) finds a process of the
 * netns as if it were a pod.
 */
export function serviceAt(namespace: string, name: string, address: string, port: { name: string; port: number; targetPort: number }): KubeObject[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': HARNESS_FIELD_MANAGER } },
      spec: { ports: [{ name: port.name, port: port.port, targetPort: port.targetPort, protocol: 'TCP' }] },
    } as KubeObject,
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-netns`,
        namespace,
        labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': HARNESS_FIELD_MANAGER },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: [address], conditions: { ready: true } }],
      ports: [{ name: port.name, port: port.targetPort, protocol: 'TCP' }],
    } as KubeObject,
  ];
}
