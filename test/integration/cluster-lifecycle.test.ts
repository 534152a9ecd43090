// No process the harness starts may outlive cluster:down, an interrupted run or a failed run.
// Each case drives the harness from a child process and then checks every PID it started.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { netnsNameOf, repoRoot, stateDirOf } from '../../scripts/cluster/config.ts';
import { clusterProcesses, stopCluster } from '../../scripts/cluster/harness.ts';
import { isAlive, recordedPids } from '../../scripts/cluster/procs.ts';
import { waitFor } from '../support/cluster.ts';

const cli = join(repoRoot, 'scripts', 'cluster', 'cli.ts');
const harnessUrl = pathToFileURL(join(repoRoot, 'scripts', 'cluster', 'harness.ts')).href;
const uniqueName = (what: string) => `lc-${what}-${Date.now().toString(36)}-${process.pid}`;

// A harness user: starts an api cluster it owns, prints its PIDs, then idles or throws.
const DRIVER = `
const { startCluster } = await import(process.env.HARNESS_URL);
const cluster = await startCluster({ name: process.env.LC_NAME, mode: 'api', repoCrds: false });
console.log(JSON.stringify({ pids: cluster.pids }));
if (process.env.LC_THROW === '1') throw new Error('deliberate failure after the cluster started');
setInterval(() => {}, 1000);
`;

interface Child {
  pid: number;
  output(): string;
  exited: Promise<number | null>;
  kill(sig: NodeJS.Signals): void;
}

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Child {
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exited.then(() => clearTimeout(timer));
  return { pid: child.pid!, output: () => out, exited, kill: (sig) => child.kill(sig) };
}

function driver(name: string, env: Record<string, string> = {}): Child {
  return run(['--input-type=module', '-e', DRIVER], { HARNESS_URL: harnessUrl, LC_NAME: name, ...env });
}

async function printedPids(child: Child): Promise<number[]> {
  const line = await waitFor('the driver to print its PIDs', () => child.output().match(/^\{"pids":\[[\d,]+\]\}$/m)?.[0], { timeoutMs: 60_000 });
  return (JSON.parse(line) as { pids: number[] }).pids;
}

/** Every PID gone, no process left with the cluster's marker, state removed. */
async function expectGone(name: string, pids: number[]): Promise<void> {
  await waitFor(`all processes of ${name} to end`, () => pids.every((p) => !isAlive(p)) && clusterProcesses(name).length === 0, { timeoutMs: 20_000, intervalMs: 100 });
  await waitFor(`the state of ${name} to be removed`, () => !existsSync(stateDirOf(name)), { timeoutMs: 5_000, intervalMs: 100 });
  expect(pids.filter(isAlive)).toEqual([]);
}

describe('cluster lifecycle: nothing outlives the cluster', () => {
  it('cluster:up starts a detached cluster, cluster:down stops all of it, and down is idempotent', async () => {
    const name = uniqueName('cli');
    // A detached cluster has no owner to stop it: if an assertion fails, stop it here.
    try {
      const up = run([cli, 'up', '--mode', 'api', '--name', name, '--no-repo-crds']);
      expect(await up.exited, up.output()).toBe(0);
      const kubeconfig = up.output().match(/^KUBECONFIG=(.+)$/m)?.[1];
      expect(kubeconfig && existsSync(kubeconfig)).toBe(true);
      expect(readFileSync(kubeconfig!, 'utf8')).toMatch(/server: https:\/\/127\.0\.0\.1:\d+/);
      // The cluster survives the exit of the process that started it. Its guardian does not: a
      // detached cluster has no owner to follow, so the guardian leaves on its own.
      const recorded = recordedPids(stateDirOf(name));
      const pids = recorded.map((p) => p.pid);
      const daemons = recorded.filter((p) => p.role !== 'guardian').map((p) => p.pid);
      expect(daemons.length).toBeGreaterThanOrEqual(2);
      expect(daemons.filter(isAlive)).toEqual(daemons);

      const down = run([cli, 'down', '--name', name]);
      expect(await down.exited, down.output()).toBe(0);
      await expectGone(name, pids);
      const again = run([cli, 'down', '--name', name]);
      expect(await again.exited, again.output()).toBe(0);
    } finally {
      await stopCluster(name);
    }
  });

  it('stops the cluster when the process running the harness gets SIGTERM', async () => {
    const name = uniqueName('term');
    const child = driver(name);
    const pids = await printedPids(child);
    expect(pids.filter(isAlive)).toEqual(pids);
    child.kill('SIGTERM');
    await child.exited;
    await expectGone(name, pids);
  });

  it('stops a half-started cluster when its process gets SIGINT during start', async () => {
    const name = uniqueName('int');
    const child = driver(name);
    // Interrupt as soon as the apiserver process exists, long before the cluster is ready.
    const pids = await waitFor('kube-apiserver to be spawned', () => {
      const recorded = recordedPids(stateDirOf(name));
      return recorded.some((p) => p.role === 'kube-apiserver') ? recorded.map((p) => p.pid) : undefined;
    }, { timeoutMs: 30_000, intervalMs: 20 });
    child.kill('SIGINT');
    await child.exited;
    expect(child.output()).not.toMatch(/"pids"/);
    await expectGone(name, pids);
  });

  it('stops the cluster of a run that fails on purpose', async () => {
    const name = uniqueName('fail');
    const child = driver(name, { LC_THROW: '1' });
    const pids = await printedPids(child);
    expect(await child.exited).not.toBe(0);
    expect(child.output()).toMatch(/deliberate failure/);
    await expectGone(name, pids);
  });

  it('full mode: cluster:down also removes the network namespace', async () => {
    const name = uniqueName('full');
    const up = run([cli, 'up', '--mode', 'full', '--name', name, '--no-repo-crds'], {}, 120_000);
    expect(await up.exited, up.output()).toBe(0);
    expect(up.output()).toMatch(new RegExp(`^NETNS=${netnsNameOf(name)}$`, 'm'));
    const pids = recordedPids(stateDirOf(name)).map((p) => p.pid);
    expect(pids.length).toBeGreaterThanOrEqual(7);
    expect(existsSync(`/run/netns/${netnsNameOf(name)}`)).toBe(true);

    const down = run([cli, 'down', '--name', name]);
    expect(await down.exited, down.output()).toBe(0);
    await expectGone(name, pids);
    expect(existsSync(`/run/netns/${netnsNameOf(name)}`)).toBe(false);
  });
});
