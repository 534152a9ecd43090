// The CLI as a child process: on SIGTERM every live session is closed with 1012 at once (no
// drain, as uvicorn does), connections still waiting for a slot get HTTP 500, and the process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from './helpers.ts';

const repo = new URL('../../../', import.meta.url).pathname;
let child: ChildProcess | undefined;
afterEach(() => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
});

function startCli(args: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(`${repo}node_modules/.bin/node`, ['src/sim/cli/main.ts', 'worker', ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`sim-worker did not start: ${out}`)), 15_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ url: m[1]!, proc });
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => reject(new Error(`sim-worker exited (${code}): ${out}`)));
  });
}

describe('the `unmute-sim worker` command', () => {
  it('closes every live session with 1012 on SIGTERM and exits 0', async () => {
    const { url, proc } = await startCli(['--host', '127.0.0.1', '--port', '0', '--max-sessions', '2']);
    const live = [new TestClient(url), new TestClient(url)];
    await Promise.all(live.map((c) => c.opened));
    for (const c of live) {
      c.update();
      c.startAudio();
    }
    const waiting = new TestClient(url);
    const refused = waiting.opened.then(
      () => 'opened',
      (err: Error) => err.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const sentAt = performance.now();
    proc.kill('SIGTERM');
    const codes = await Promise.all(live.map((c) => c.closed));
    expect(codes.map((c) => c.code)).toEqual([1012, 1012]);
    expect(performance.now() - sentAt).toBeLessThan(2000);
    expect(await refused).toMatch(/500/);
    expect(await exited).toBe(0);
  }, 30_000);

  it('rejects bad flags with a clear message and exit code 2', async () => {
    const proc = spawn(`${repo}node_modules/.bin/node`, ['src/sim/cli/main.ts', 'worker', '--max-sessions', 'lots'], { cwd: repo });
    child = proc;
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/--max-sessions: must be a whole number/);
  }, 30_000);
});
