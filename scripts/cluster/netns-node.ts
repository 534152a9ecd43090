// Node processes run inside a full cluster's network namespace (where pod IPs exist), tracked so
// one call stops them all. Used by the demo and the fleet benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MARKER_ENV } from './config.ts';
import type { Cluster } from './harness.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));

export interface NetnsProcess {
  child: ChildProcess;
  /** Everything it wrote so far (stdout, plus stderr unless passed through). */
  output(): string;
  exited: Promise<number | null>;
}

export class NetnsProcesses {
  readonly #children = new Set<ChildProcess>();

  /** `node <args>` inside the cluster's netns, with a KUBECONFIG valid there and the cluster marker. */
  spawn(cluster: Cluster, args: string[], opts: { passStderr?: boolean; env?: Readonly<Record<string, string>> } = {}): NetnsProcess {
    if (cluster.netns === undefined) throw new Error(`cluster ${cluster.name} has no network namespace (api mode)`);
    const child = spawn('ip', ['netns', 'exec', cluster.netns, process.execPath, ...args], {
      cwd: repo,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env, KUBECONFIG: cluster.kubeconfigInNetnsPath!, [MARKER_ENV]: cluster.name },
    });
    this.#children.add(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => {
      if (opts.passStderr) process.stderr.write(d);
      else out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        this.#children.delete(child);
        resolve(code);
      }),
    );
    return { child, output: () => out, exited };
  }

  /** Signals every process group still running. */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    for (const c of this.#children) {
      try {
        process.kill(-c.pid!, signal);
      } catch {
        // already gone
      }
    }
  }
}
