import { afterEach, describe, expect, it } from 'vitest';
import { startHealthServer, type HealthServer } from '../../../src/observability/health-server.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { createMetricsRegistry, createRuntimeMetrics } from '../../../src/observability/metrics.ts';

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('health server', () => {
  it('serves liveness always, readiness from the predicate and metrics from the registry', async () => {
    const metrics = createRuntimeMetrics(createMetricsRegistry());
    let ready = false;
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry: metrics.registry, isReady: () => ready, logger: silentLogger() });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const body = await (await fetch(`${server.url}/metrics`)).text();
    expect(body).toContain('# TYPE controller_runtime_reconcile_total counter');
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('reports not ready when the predicate throws', async () => {
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry: createMetricsRegistry(), isReady: () => { throw new Error('x'); }, logger: silentLogger() });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });

  it('closes even with an idle keep-alive connection open', async () => {
    server = await startHealthServer({ host: '127.0.0.1', port: 0, registry: createMetricsRegistry(), isReady: () => true, logger: silentLogger() });
    await fetch(`${server.url}/healthz`);
    const closing = server.close();
    server = undefined;
    await expect(closing).resolves.toBeUndefined();
  });
});
