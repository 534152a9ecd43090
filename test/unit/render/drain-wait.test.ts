// The preStop wait runs as rendered, under the real sh and awk, against a /metrics on loopback:
// it holds while any series of the load metrics is above 0 and lets go once they read 0.
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { describeComponent, type AnyComponent } from '../../../src/api/v1alpha1/components.ts';
import { drainWaitCommand } from '../../../src/render/drain-wait.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(() => r(undefined)) : r(undefined)));
  server = undefined;
});

/** Serves the bodies in turn (the last one from then on); counts the reads. */
async function metrics(bodies: string[]): Promise<{ port: number; reads: () => number }> {
  let n = 0;
  server = createServer((_, res) => res.end(bodies[Math.min(n++, bodies.length - 1)]));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, reads: () => n };
}

function run(command: string[], timeoutMs = 20_000): Promise<{ code: number; ms: number }> {
  const start = Date.now();
  return new Promise((resolve) => {
    execFile(command[0]!, command.slice(1), { timeout: timeoutMs }, (err) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, ms: Date.now() - start }));
  });
}

const fleet = anUnmuteDeployment({ llm: { external: undefined, inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'm' } } } as never);
const at = (name: 'stt' | 'llm' | 'backend', port: number) => ({ ...describeComponent(fleet.spec, name)!, port }) as AnyComponent;

describe('the preStop drain wait', () => {
  it('waits while the STT pod holds streams and ends when they are gone', async () => {
    const m = await metrics(['asr_open_channels{handler="all"} 2\n', 'asr_open_channels{handler="all"} 1\n', 'asr_connect{handler="all"} 9\nasr_open_channels{handler="all"} 0\n']);
    const r = await run(drainWaitCommand(at('stt', m.port))!);
    expect(r.code).toBe(0);
    expect(m.reads()).toBe(3);
    expect(r.ms).toBeGreaterThanOrEqual(3500);
  }, 30_000);

  it('adds the LLM\'s running and waiting requests across labelled series', async () => {
    const m = await metrics([
      'vllm:num_requests_running{engine="0",model_name="m"} 0.0\nvllm:num_requests_waiting{engine="0",model_name="m"} 1.0\n',
      'vllm:num_requests_running{engine="0",model_name="m"} 0.0\nvllm:num_requests_waiting{engine="0",model_name="m"} 0.0\n',
    ]);
    const r = await run(drainWaitCommand(at('llm', m.port))!);
    expect(r.code).toBe(0);
    expect(m.reads()).toBe(2);
  }, 30_000);

  it('does not mistake a metric sharing the prefix for the load', async () => {
    const m = await metrics(['worker_active_sessions_created 1.7e9\nworker_active_sessions 0.0\n']);
    await run(drainWaitCommand(at('backend', m.port))!);
    expect(m.reads()).toBe(1);
  });

  it('lets go at once when /metrics is empty (moshi-server before first use) or unreachable', async () => {
    const m = await metrics(['']);
    expect((await run(drainWaitCommand(at('stt', m.port))!)).ms).toBeLessThan(1500);
    const port = m.port;
    await new Promise((r) => server!.close(() => r(undefined)));
    server = undefined;
    expect((await run(drainWaitCommand(at('stt', port))!)).ms).toBeLessThan(3000);
  });

  it('exists only for components with a load signal', () => {
    const frontend = describeComponent(anUnmuteDeployment({ frontend: { image: 'f:1' } }).spec, 'frontend')!;
    expect(drainWaitCommand(frontend)).toBeUndefined();
  });
});
