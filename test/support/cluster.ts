// Helpers for tests that run against the cluster started by test/setup/cluster-{api,full}.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { MARKER_ENV } from '../../scripts/cluster/config.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';

declare module 'vitest' {
  interface ProvidedContext {
    /** Name of the cluster started for this run (unique per run). */
    clusterName: string;
    clusterMode: 'api' | 'full';
    /** Admin kubeconfig valid on the host. */
    kubeconfig: string;
    /** full mode only: the cluster's network namespace, where pod IPs (10.250.0.0/16) are bindable. */
    netns?: string;
    /** full mode only: admin kubeconfig valid inside the netns (https://127.0.0.1:6443). */
    kubeconfigInNetns?: string;
  }
}

export interface ClusterInfo {
  name: string;
  mode: 'api' | 'full';
  kubeconfig: string;
  netns?: string;
  kubeconfigInNetns?: string;
}

export function clusterInfo(): ClusterInfo {
  const netns = inject('netns');
  const kubeconfigInNetns = inject('kubeconfigInNetns');
  return {
    name: inject('clusterName'),
    mode: inject('clusterMode'),
    kubeconfig: inject('kubeconfig'),
    ...(netns && kubeconfigInNetns ? { netns, kubeconfigInNetns } : {}),
  };
}

/** A KubeConfig for the run's cluster, as seen from the host (admin, system:masters). */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(clusterInfo().kubeconfig);
  return kc;
}

let admin: Promise<KubeClient> | undefined;

/** The project's API client on the run's cluster, as admin; one per test file (module). */
export function kubeClient(): Promise<KubeClient> {
  admin ??= KubeClient.fromKubeConfig(kubeConfig());
  return admin;
}

/** A KubeConfig for the run's cluster that authenticates with a bearer token (e.g. a ServiceAccount's). */
export function tokenKubeConfig(token: string, user = 'token-user'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...kubeConfig().getCurrentCluster()!, name: 'local' }],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: 'local', user }],
    currentContext: user,
  });
  return kc;
}

/** A bound token for a ServiceAccount (TokenRequest API). */
export async function serviceAccountToken(namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
  const body = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } };
  const answer = await (await kubeClient()).raw('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, { body });
  return (JSON.parse(answer) as { status: { token: string } }).status.token;
}

function netnsOrThrow(): { name: string; netns: string; kubeconfigInNetns: string } {
  const info = clusterInfo();
  if (!info.netns || !info.kubeconfigInNetns) {
    throw new Error(`cluster ${info.name} runs in ${info.mode} mode and has no network namespace; put this test in a *.full.test.ts file`);
  }
  return { name: info.name, netns: info.netns, kubeconfigInNetns: info.kubeconfigInNetns };
}

export interface NetnsProcess {
  pid: number;
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves when the output matches (e.g. a "listening" line); rejects on exit or timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to its process group, SIGKILL after 2 s. */
  stop(): Promise<void>;
}

const running = new Set<NetnsProcess>();

/**
 * Starts a process inside the cluster's network namespace with KUBECONFIG valid there.
 * It carries the cluster's marker, so cluster teardown kills it if a test forgets to.
 */
export function spawnInNetns(command: string, args: string[], opts: { env?: Record<string, string> } = {}): NetnsProcess {
  const { name, netns, kubeconfigInNetns } = netnsOrThrow();
  const child = spawn('ip', ['netns', 'exec', netns, command, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: kubeconfigInNetns, ...opts.env, [MARKER_ENV]: name },
  });
  if (child.pid === undefined) throw new Error(`could not start ${command} in ${netns}`);
  const pid = child.pid;
  let out = '';
  const onData = (b: Buffer) => (out += b.toString('utf8'));
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', () => resolve({ code: null, signal: null }));
  });
  let ended = false;
  void exited.then(() => (ended = true));
  const handle: NetnsProcess = {
    pid,
    child,
    output: () => out,
    async waitForOutput(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (ended) throw new Error(`${command} exited before printing ${pattern}; output:\n${out}`);
        if (Date.now() > deadline) throw new Error(`${command} did not print ${pattern} within ${timeoutMs} ms; output:\n${out}`);
        await sleep(20);
      }
      return out;
    },
    exited,
    async stop() {
      running.delete(handle);
      if (ended) return;
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-pid, sig);
        } catch {
          // already gone
        }
      };
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(handle);
  return handle;
}

/** Stops every process spawnInNetns started in this test file (use in afterAll). */
export async function stopNetnsProcesses(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Runs a command to completion inside the netns; kills it after timeoutMs. */
export async function execInNetns(command: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<{ code: number | null; output: string }> {
  const p = spawnInNetns(command, args, opts.env ? { env: opts.env } : {});
  const timer = setTimeout(() => void p.stop(), opts.timeoutMs ?? 30_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  running.delete(p);
  return { code, output: p.output() };
}

/** Polls until check returns something other than undefined/false; the last error is reported on timeout. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(opts.intervalMs ?? 200);
  }
}

/** Namespaces createNamespace made in this test file (each file has its own module instance). */
const createdNamespaces = new Set<string>();

/** Creates a namespace with a unique name (namespaces are not deleted in api mode: no controller). */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
  await (await kubeClient()).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  createdNamespaces.add(name);
  return name;
}

const UMD_REF = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
const NAMESPACE_REF = { apiVersion: 'v1', kind: 'Namespace' } as const;
const POD_REF = { apiVersion: 'v1', kind: 'Pod' } as const;

/**
 * Full mode: deletes the namespaces this file created, so the files after it find the shared
 * cluster's GPUs free. The operator is stopped by then, so the fleets' drain finalizers are
 * dropped first; waits (bounded) until their pods are gone.
 */
export async function deleteCreatedNamespaces(timeoutMs = 60_000): Promise<void> {
  const client = await kubeClient();
  const names = [...createdNamespaces];
  createdNamespaces.clear();
  for (const ns of names) {
    const fleets = await client.list(UMD_REF, { namespace: ns }).catch(() => ({ items: [] as KubeObject[] }));
    for (const f of fleets.items) {
      await client.patch(UMD_REF, f.metadata.name ?? '', ns, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
    }
    await client.delete(NAMESPACE_REF, ns).catch(() => undefined);
  }
  const deadline = Date.now() + timeoutMs;
  for (const ns of names) {
    while (Date.now() < deadline) {
      const pods = await client.list(POD_REF, { namespace: ns }).catch(() => ({ items: [] as KubeObject[] }));
      if (pods.items.length === 0) break;
      await sleep(500);
    }
  }
}
