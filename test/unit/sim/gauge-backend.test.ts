// The metrics-only backend bench:scale runs by the thousand: the operator's reader reads what it is set to.
import { afterEach, describe, expect, it } from 'vitest';
import { PodLoadSource } from '../../../src/autoscaler/pod-load-source.ts';
import { GaugeBackend } from '../../../src/sim/fleet/gauge-backend.ts';

const metric = { component: 'backend', name: 'worker_active_sessions', series: 'one' } as const;
let backend: GaugeBackend | undefined;
afterEach(async () => backend?.shutdown());

describe('the gauge backend', () => {
  it('serves the sessions it is set to, inside a padded exposition of about the size asked', async () => {
    backend = new GaugeBackend({ host: '127.0.0.1', port: 0, sessions: 2, paddingBytes: 30_000 });
    await backend.listen();
    const body = await (await fetch(`http://127.0.0.1:${backend.port}/metrics`)).text();
    expect(body.length).toBeGreaterThanOrEqual(30_000);
    expect(body.length).toBeLessThan(31_000);
    const source = new PodLoadSource({ timeoutMs: 2000, concurrency: 2, now: () => 1 });
    const read = () => source.read([{ pod: 'p', ip: '127.0.0.1', port: backend!.port, metric }]);
    expect((await read()).readings.get('p')?.load).toBe(2);
    backend.setSessions(4);
    expect((await read()).readings.get('p')?.load).toBe(4);
    expect(backend.stats().activeSessions).toBe(4);
    expect(backend.reads).toBe(3);
    await source.close();
  });
});
