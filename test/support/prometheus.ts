// Runs Debian's prometheus/promtool for the `tools` tests (paths from test/support/tools.ts): a real
// Prometheus on 127.0.0.1 with a temp config and data dir, stopped and removed by stop(); promtool
// checks and unit-tests rule files.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface PromtoolResult {
  ok: boolean;
  output: string;
}

export function promtool(path: string, args: string[], cwd?: string): PromtoolResult {
  const r = spawnSync(path, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface InstantResult {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

export interface RunningPrometheus {
  url: string;
  query(expr: string): Promise<InstantResult>;
  /** GET /api/v1/<path> as JSON. */
  api(path: string): Promise<unknown>;
  logs(): string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  binary: string;
  scrapeConfigs: unknown[];
  /** File name → YAML content of rule files. */
  ruleFiles?: Record<string, string>;
  scrapeInterval?: string;
  evaluationInterval?: string;
  readyTimeoutMs?: number;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'unmute-prometheus-'));
  const ruleFiles = Object.keys(opts.ruleFiles ?? {});
  for (const [name, content] of Object.entries(opts.ruleFiles ?? {})) await writeFile(join(dir, name), content);
  const config = {
    global: { scrape_interval: opts.scrapeInterval ?? '1s', scrape_timeout: '1s', evaluation_interval: opts.evaluationInterval ?? '1s' },
    rule_files: ruleFiles.map((f) => join(dir, f)),
    scrape_configs: opts.scrapeConfigs,
  };
  await writeFile(join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(
    opts.binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killTimer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready after ${opts.readyTimeoutMs ?? 20_000} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    query: async (expr) => {
      const r = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: expr }),
        signal: AbortSignal.timeout(5_000),
      });
      return (await r.json()) as InstantResult;
    },
    api: async (path) => (await (await fetch(`${url}/api/v1/${path}`, { signal: AbortSignal.timeout(5_000) })).json()) as unknown,
    logs: () => output,
    stop,
  };
}
