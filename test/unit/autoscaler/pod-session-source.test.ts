// The direct pod reader against real HTTP servers on loopback: bodies are capped, slow pods time
// out with a reason, and the reader never holds a huge body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PodSessionSource } from '../../../src/autoscaler/pod-session-source.ts';

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

const source = (timeoutMs = 2000, maxBytes?: number) => new PodSessionSource({ timeoutMs, concurrency: 4, now: () => 42, ...(maxBytes ? { maxBytes } : {}) });

describe('reading sessions from the pods', () => {
  it('reads a good exposition', async () => {
    const port = await serve((_, res) => res.end('worker_active_sessions 3.0\n'));
    const r = await source().read([{ pod: 'a', ip: '127.0.0.1', port }]);
    expect(r.readings.get('a')).toEqual({ sessions: 3, observedAtMs: 42 });
  });

  it('gives a malformed reading a reason instead of a number', async () => {
    const port = await serve((_, res) => res.end('worker_active_sessions \n'));
    const r = await source().read([{ pod: 'a', ip: '127.0.0.1', port }]);
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
    const r = await source(5000, 64 * 1024).read([{ pod: 'a', ip: '127.0.0.1', port }]);
    expect(r.errors.get('a')).toBe('/metrics body is larger than 65536 bytes');
  });

  it('says a pod is slow when it does not answer within the timeout', async () => {
    const port = await serve((_, res) => {
      res.writeHead(200);
      res.write('worker_sessions_total 1\n');
      setTimeout(() => res.end('worker_active_sessions 1\n'), 1500);
    });
    const r = await source(300).read([{ pod: 'a', ip: '127.0.0.1', port }]);
    expect(r.errors.get('a')).toBe('/metrics did not answer within 300 ms');
  });

  it('reports a non-200 answer and a pod without an IP', async () => {
    const port = await serve((_, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const r = await source().read([
      { pod: 'a', ip: '127.0.0.1', port },
      { pod: 'b', ip: undefined, port },
    ]);
    expect(r.errors.get('a')).toBe('/metrics answered 503');
    expect(r.errors.get('b')).toBe('pod has no IP yet');
  });
});
