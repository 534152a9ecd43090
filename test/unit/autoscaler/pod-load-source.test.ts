// The direct pod reader against real HTTP servers on loopback: bodies are capped, slow pods time
// out with a reason, and the reader never holds a huge body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PodLoadSource } from '../../../src/autoscaler/pod-load-source.ts';
import type { LoadMetric } from '../../../src/autoscaler/readings.ts';
import { createMetricsRegistry, sessionReadMetrics } from '../../../src/observability/metrics.ts';

const SESSIONS: LoadMetric = { component: 'backend', name: 'worker_active_sessions', series: 'one' };

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(() => r(undefined)));
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

const source = (timeoutMs = 2000, maxBytes?: number) => new PodLoadSource({ timeoutMs, concurrency: 4, now: () => 42, ...(maxBytes ? { maxBytes } : {}) });

describe('reading sessions from the pods', () => {
  it('reads a good exposition', async () => {
    const port = await serve((_, res) => res.end('worker_active_sessions 3.0\n'));
    const r = await source().read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    expect(r.readings.get('a')).toEqual({ load: 3, observedAtMs: 42 });
  });

  it('gives a malformed reading a reason instead of a number', async () => {
    const port = await serve((_, res) => res.end('worker_active_sessions \n'));
    const r = await source().read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    expect(r.readings.size).toBe(0);
    expect(r.errors.get('a')).toBe('worker_active_sessions has no value');
  });

  it('stops reading a body over the cap and says so', async () => {
    const line = `# ${'x'.repeat(1000)}\n`;
    const port = await serve((_, res) => {
      let sent = 0;
      const more = () => {
        while (sent < 50_000 && res.write(line)) sent++;
        if (sent < 50_000) res.once('drain', more);
        else res.end('worker_active_sessions 0\n');
      };
      more();
    });
    const r = await source(5000, 64 * 1024).read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    expect(r.errors.get('a')).toBe('/metrics body is larger than 65536 bytes');
  });

  it('says a pod is slow when it does not answer within the timeout', async () => {
    const port = await serve((_, res) => {
      res.writeHead(200);
      res.write('worker_sessions_total 1\n');
      setTimeout(() => res.end('worker_active_sessions 1\n'), 1500);
    });
    const r = await source(300).read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    expect(r.errors.get('a')).toBe('/metrics did not answer within 300 ms');
  });

  it('reports a non-200 answer and a pod without an IP', async () => {
    const port = await serve((_, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const r = await source().read([
      { pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS },
      { pod: 'b', ip: undefined, port, metric: SESSIONS },
    ]);
    expect(r.errors.get('a')).toBe('/metrics answered 503');
    expect(r.errors.get('b')).toBe('pod has no IP yet');
  });

  it('sums the labelled series of a metric and its companion (vLLM running + waiting)', async () => {
    const port = await serve((_, res) =>
      res.end(
        [
          'vllm:num_requests_running{engine="0",model_name="m"} 3.0',
          'vllm:num_requests_running{engine="1",model_name="m"} 1.0',
          'vllm:num_requests_waiting{engine="0",model_name="m"} 2.0',
          'vllm:num_requests_waiting_by_reason{reason="capacity"} 9.0',
          '',
        ].join('\n'),
      ),
    );
    const metric: LoadMetric = { component: 'llm', name: 'vllm:num_requests_running', plus: 'vllm:num_requests_waiting', series: 'sum' };
    const r = await source().read([{ pod: 'a', ip: '127.0.0.1', port, metric }]);
    expect(r.readings.get('a')?.load).toBe(6);
  });

  it('reads a moshi-server that never held a stream (empty exposition) as 0, but only for metrics registered on first use', async () => {
    const port = await serve((_, res) => res.end(''));
    const stt: LoadMetric = { component: 'stt', name: 'asr_open_channels', series: 'one', absentIsZero: true };
    const r = await source().read([
      { pod: 'stt', ip: '127.0.0.1', port, metric: stt },
      { pod: 'backend', ip: '127.0.0.1', port, metric: SESSIONS },
    ]);
    expect(r.readings.get('stt')?.load).toBe(0);
    expect(r.errors.get('backend')).toBe('worker_active_sessions is missing from /metrics');
  });

  it('refuses a declared Content-Length over the cap before reading the body', async () => {
    let written = 0;
    const port = await serve((_, res) => {
      res.setHeader('content-length', String(50 * 1024 * 1024));
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (written < 50 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
      };
      res.on('drain', pump);
      res.on('close', () => res.off('drain', pump));
      pump();
    });
    const r = await source(5000, 64 * 1024).read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    expect(r.errors.get('a')).toBe('/metrics body is larger than 65536 bytes (Content-Length 52428800)');
  });
});


describe('reading many pods', () => {
  it('keeps at most `concurrency` reads in flight over every pass that reads at once', async () => {
    let inFlight = 0;
    let most = 0;
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      ports.push(
        await serve((_, res) => {
          most = Math.max(most, ++inFlight);
          setTimeout(() => {
            inFlight--;
            res.end('worker_active_sessions 1\n');
          }, 40);
        }),
      );
    }
    const s = new PodLoadSource({ timeoutMs: 2000, concurrency: 3, now: () => 42 });
    const pass = (fleet: string) => s.read(ports.map((port, i) => ({ pod: `${fleet}-${i}`, ip: '127.0.0.1', port, metric: SESSIONS })));
    const [a, b] = await Promise.all([pass('a'), pass('b')]);
    await s.close();
    expect(a.readings.size + b.readings.size).toBe(12);
    expect(most).toBe(3);
  });

  it('reads a pod again over the connection it kept', async () => {
    let connections = 0;
    const port = await serve((_, res) => res.end('worker_active_sessions 2\n'));
    servers.at(-1)!.on('connection', () => connections++);
    const s = new PodLoadSource({ timeoutMs: 2000, concurrency: 4, now: () => 42 });
    for (let i = 0; i < 3; i++) expect((await s.read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }])).readings.get('a')?.load).toBe(2);
    await s.close();
    expect(connections).toBe(1);
  });

  it('retries once on a new connection when the pod closed the kept one as it was reused, and counts it', async () => {
    const registry = createMetricsRegistry();
    const metrics = sessionReadMetrics(registry);
    // Each connection answers its first request and drops the second without a word (an idle timeout racing the reuse).
    const port = await serve((req, res) => {
      const socket = req.socket as typeof req.socket & { served?: number };
      socket.served = (socket.served ?? 0) + 1;
      if (socket.served > 1) socket.destroy();
      else res.end('worker_active_sessions 1\n');
    });
    const s = new PodLoadSource({ timeoutMs: 2000, concurrency: 4, now: () => 42, metrics });
    await s.read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    const again = await s.read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    await s.close();
    expect(again.readings.get('a')?.load).toBe(1);
    expect((await metrics.staleRetries.get()).values[0]?.value).toBe(1);
    const counts = (await metrics.readDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(counts.map((v) => [v.labels['result'], v.value])).toEqual([['ok', 2]]);
  });

  it('leaves a pod that drops every connection unknown after one retry, and records the failure', async () => {
    const registry = createMetricsRegistry();
    const metrics = sessionReadMetrics(registry);
    let requests = 0;
    const port = await serve((req) => {
      requests++;
      req.socket.destroy();
    });
    const s = new PodLoadSource({ timeoutMs: 2000, concurrency: 4, now: () => 42, metrics });
    const r = await s.read([{ pod: 'a', ip: '127.0.0.1', port, metric: SESSIONS }]);
    await s.close();
    expect(r.readings.has('a')).toBe(false);
    expect(r.errors.get('a')).toBeTruthy();
    expect(requests).toBe(2);
    const counts = (await metrics.readDuration.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(counts.map((v) => [v.labels['result'], v.value])).toEqual([['error', 1]]);
  });
});
