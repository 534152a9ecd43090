// The operator's HTTP endpoint for the kubelet and Prometheus: /metrics, /healthz (process alive),
// /readyz (ready only once the caller's predicate says caches synced). Binds only where it is told.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  registry: Registry;
  /** Readiness: true once informers synced (and whatever else the caller decides). */
  isReady: () => boolean;
  logger: Logger;
}

export interface HealthServer {
  /** `http://host:port` actually bound. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections, ends idle keep-alive sockets and waits for in-flight responses. */
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { registry, isReady, logger } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(res, 405, 'method not allowed\n');
      return;
    }
    if (path === '/healthz' || path === '/livez') {
      reply(res, 200, 'ok\n');
      return;
    }
    if (path === '/readyz') {
      let ready = false;
      try {
        ready = isReady();
      } catch (err) {
        logger.warn({ err }, 'readiness check failed');
      }
      reply(res, ready ? 200 : 503, ready ? 'ok\n' : 'not ready: caches not synced\n');
      return;
    }
    if (path === '/metrics') {
      const body = await registry.metrics();
      reply(res, 200, body, registry.contentType);
      return;
    }
    reply(res, 404, 'not found\n');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'health server request failed');
      if (!res.headersSent) reply(res, 500, 'internal error\n');
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ address: `${hostForUrl}:${address.port}` }, 'health server listening');

  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeIdleConnections();
      }),
  };
}

function reply(res: ServerResponse, code: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
