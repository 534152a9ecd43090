// Faults on a running cluster's control plane, for the fault suite (test/integration/faults-*):
// pause and resume a component (SIGSTOP / SIGCONT), restart it with the command line it was
// started with (same flags, ports, netns), compact etcd past every resourceVersion a watcher may
// hold, and switch KWOK's pod deletion mode. Every function takes the cluster's name; nothing
// here is used by a cluster's normal start or stop.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { writeStages, PodDeletionSchema, type PodDeletion } from './components.ts';
import { ClusterNameSchema, NETNS_PORTS, stateDirOf } from './config.ts';
import { readClusterState } from './harness.ts';
import { commandFile, isAlive, recordedPids, spawnDaemon } from './procs.ts';

const run = promisify(execFile);

const CommandSchema = z.object({
  role: z.string(),
  command: z.string(),
  args: z.array(z.string()),
  netns: z.string().nullable(),
  env: z.record(z.string(), z.string()),
});

/** The live process of a role (the last one recorded: a restarted role has several lines). */
export function componentPid(cluster: string, role: string): number {
  const dir = stateDirOf(ClusterNameSchema.parse(cluster));
  const pid = recordedPids(dir)
    .filter((p) => p.role === role && isAlive(p.pid))
    .at(-1)?.pid;
  if (pid === undefined) throw new Error(`cluster ${cluster}: no live ${role} process`);
  return pid;
}

/** SIGSTOP: the process stays, its sockets stay open, it answers nothing (a frozen VM, a GC pause). */
export function pauseComponent(cluster: string, role: string): number {
  const pid = componentPid(cluster, role);
  process.kill(pid, 'SIGSTOP');
  return pid;
}

export function resumeComponent(cluster: string, role: string): number {
  const pid = componentPid(cluster, role);
  process.kill(pid, 'SIGCONT');
  return pid;
}

/**
 * True once no thread of `pid` runs. A killed multi-threaded process (kube-apiserver, etcd) turns
 * its main thread into a zombie at once, while its other threads may still be exiting and its
 * sockets stay open until the last one has: a successor started then found the port taken
 * ("bind: address already in use"). So a zombie counts as gone only when it has no other thread.
 */
function threadsGone(pid: number): boolean {
  if (isAlive(pid)) return false;
  try {
    return readdirSync(`/proc/${pid}/task`).length <= 1;
  } catch {
    return true; // reaped
  }
}

async function waitDead(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!threadsGone(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still alive after ${timeoutMs} ms`);
    await sleep(20);
  }
}

export interface RestartOptions {
  /** SIGKILL (a crash, default) or SIGTERM (a graceful stop). */
  signal?: 'SIGKILL' | 'SIGTERM';
  /** Runs while the component is down, before it starts again. */
  whileDown?: () => Promise<void>;
}

/** Stops a role's process and starts it again with the recorded command line. Returns the new PID. */
export async function restartComponent(cluster: string, role: string, o: RestartOptions = {}): Promise<number> {
  const dir = stateDirOf(ClusterNameSchema.parse(cluster));
  const spec = CommandSchema.parse(JSON.parse(readFileSync(commandFile(dir, role), 'utf8')));
  const pid = componentPid(cluster, role);
  // A stopped process does not act on SIGTERM until continued.
  process.kill(pid, 'SIGCONT');
  process.kill(pid, o.signal ?? 'SIGKILL');
  await waitDead(pid, 30_000);
  await o.whileDown?.();
  // Should the port still be held (the kernel closes a killed process's sockets a moment after its
  // last thread is gone), the successor exits at once saying so: start it again, for up to 20 s.
  const deadline = Date.now() + 20_000;
  const logFile = join(dir, 'logs', `${role}.log`);
  for (;;) {
    const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
    const d = spawnDaemon({ cluster, stateDir: dir, role, command: spec.command, args: spec.args, netns: spec.netns ?? undefined, env: spec.env });
    await sleep(1_000);
    if (isAlive(d.pid) || Date.now() > deadline) return d.pid;
    if (!readFileSync(logFile, 'utf8').slice(logStart).includes('address already in use')) return d.pid;
    await sleep(500);
  }
}

async function adminClient(cluster: string): Promise<KubeClient> {
  const state = readClusterState(cluster);
  if (state?.kubeconfig === undefined) throw new Error(`cluster ${cluster} is not ready`);
  const kc = new KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  return KubeClient.fromKubeConfig(kc);
}

/**
 * Polls the API server's /readyz until it answers 200. Returns when it did. With `pid` (a restarted
 * API server), fails at once if that process exited, and either failure quotes the end of its log.
 */
export async function waitApiServerReady(cluster: string, timeoutMs = 60_000, pid?: number): Promise<number> {
  const client = await adminClient(cluster);
  const deadline = Date.now() + timeoutMs;
  const logTail = () => {
    try {
      return readFileSync(join(stateDirOf(ClusterNameSchema.parse(cluster)), 'logs', 'kube-apiserver.log'), 'utf8').slice(-3000);
    } catch {
      return '(no log)';
    }
  };
  try {
    for (;;) {
      try {
        await client.raw('GET', '/readyz', { timeoutMs: 1_000 });
        return Date.now();
      } catch (err) {
        if (pid !== undefined && !isAlive(pid)) throw new Error(`kube-apiserver of ${cluster} (pid ${pid}) exited before it was ready; its log ends:\n${logTail()}`);
        if (Date.now() > deadline) throw new Error(`kube-apiserver of ${cluster} not ready after ${timeoutMs} ms: ${(err as Error).message}; its log ends:\n${logTail()}`);
      }
      await sleep(50);
    }
  } finally {
    await client.close();
  }
}

export const pauseApiServer = (cluster: string): number => pauseComponent(cluster, 'kube-apiserver');
export const resumeApiServer = (cluster: string): number => resumeComponent(cluster, 'kube-apiserver');

/** Kills the API server and starts it again (same flags and ports); resolves at its first 200 /readyz with that time. */
export async function restartApiServer(cluster: string, o: RestartOptions = {}): Promise<{ pid: number; readyAtMs: number }> {
  const pid = await restartComponent(cluster, 'kube-apiserver', o);
  // A fresh API server lists every resource into its watch cache before it is ready; on a loaded
  // 2-core machine that once took more than a minute.
  return { pid, readyAtMs: await waitApiServerReady(cluster, 120_000, pid) };
}

/** etcd's JSON gateway (v3), from inside the cluster's netns (etcd listens on the netns' loopback). */
async function etcd<T>(cluster: string, path: string, body: unknown): Promise<T> {
  const state = readClusterState(cluster);
  const url = `http://127.0.0.1:${NETNS_PORTS.etcdClient}${path}`;
  const curl = ['curl', '-sS', '--fail-with-body', '-m', '10', '-X', 'POST', url, '-d', JSON.stringify(body)];
  if (!state?.netns) throw new Error(`cluster ${cluster} has no network namespace (full mode only)`);
  const { stdout } = await run('ip', ['netns', 'exec', state.netns, ...curl]);
  return JSON.parse(stdout) as T;
}

/**
 * Writes `writes` throw-away keys outside the API server's prefix, then compacts etcd at the
 * newest revision: every resourceVersion a client holds is then older than anything etcd (or a
 * freshly started API server's watch cache) can serve, so a watch resumed from it gets 410 Gone.
 * Returns the compacted revision.
 */
export async function compactEtcd(cluster: string, writes = 3): Promise<number> {
  let revision = 0;
  for (let i = 0; i < writes; i++) {
    const key = Buffer.from(`/faults/bump-${i}`).toString('base64');
    const answer = await etcd<{ header: { revision: string } }>(cluster, '/v3/kv/put', { key, value: Buffer.from(String(Date.now())).toString('base64') });
    revision = Number(answer.header.revision);
  }
  await etcd(cluster, '/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}

const LEASE = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' } as const;
type NodeLease = KubeObject & { spec?: { holderIdentity?: string | null } };

/**
 * Restarts KWOK with the stages of another pod deletion mode (see components.ts). KWOK holds each
 * node's Lease under a random identity and a new process would wait for them to expire (40 s)
 * before it runs any pod: the Leases are released while it is down, and this returns once the new
 * process holds them all. A restarted KWOK does not know which pod IPs are taken (it learns an IP
 * when it moves a pod through a stage): switch before creating pods that must not get the IP of a
 * running one.
 */
export async function setKwokPodDeletion(cluster: string, mode: PodDeletion, timeoutMs = 30_000): Promise<number> {
  const dir = stateDirOf(ClusterNameSchema.parse(cluster));
  const file = writeStages(dir, PodDeletionSchema.parse(mode));
  const spec = CommandSchema.parse(JSON.parse(readFileSync(commandFile(dir, 'kwok'), 'utf8')));
  if (!spec.args.includes(`--config=${file}`)) throw new Error(`kwok of ${cluster} does not read ${file}`);
  const client = await adminClient(cluster);
  try {
    const leases = async () => (await client.list<NodeLease>(LEASE, { namespace: 'kube-node-lease' })).items;
    let before = new Map<string, string>();
    const pid = await restartComponent(cluster, 'kwok', {
      signal: 'SIGTERM',
      whileDown: async () => {
        const held = (await leases()).filter((l) => l.spec?.holderIdentity);
        before = new Map(held.map((l) => [l.metadata.name ?? '', l.spec?.holderIdentity ?? '']));
        for (const l of held) await client.patch(LEASE, l.metadata.name ?? '', 'kube-node-lease', { spec: { holderIdentity: null } }, 'merge');
      },
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await leases();
      const retaken = [...before.keys()].every((n) => {
        const holder = now.find((l) => l.metadata.name === n)?.spec?.holderIdentity;
        return holder != null && holder !== before.get(n);
      });
      if (retaken) return pid;
      if (Date.now() > deadline) throw new Error(`restarted kwok of ${cluster} did not take the node Leases within ${timeoutMs} ms`);
      await sleep(100);
    }
  } finally {
    await client.close();
  }
}
