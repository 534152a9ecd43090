// Prometheus answers are parsed as strictly as pod expositions.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PrometheusLoadSource } from '../../../src/autoscaler/prometheus-load-source.ts';
import type { LoadMetric } from '../../../src/autoscaler/readings.ts';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(() => r(undefined)) : r(undefined)));
  server = undefined;
});

/** Queries the fake Prometheus was asked, in order. */
let queries: string[] = [];

async function prometheus(answer: unknown, delayMs = 0): Promise<string> {
  queries = [];
  server = createServer((req, res) => {
    queries.push(new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '');
    setTimeout(() => res.end(typeof answer === 'string' ? answer : JSON.stringify(answer)), delayMs);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const vector = (samples: [string, string][]) => ({
  status: 'success',
  data: { resultType: 'vector', result: samples.map(([pod, value]) => ({ metric: { pod }, value: [1700000000.5, value] })) },
});

const SESSIONS: LoadMetric = { component: 'backend', name: 'worker_active_sessions', series: 'one' };

const read = async (url: string, pods: string[], timeoutMs = 2000, metric: LoadMetric = SESSIONS) =>
  new PrometheusLoadSource({ url, queryTemplate: 'q{{name}}', namespace: 'ns', name: 'demo', windowSeconds: 10, timeoutMs }).read(pods.map((pod) => ({ pod, ip: undefined, port: 0, metric })));

describe('reading sessions from Prometheus', () => {
  it('takes one well-formed value per pod, with the sample time', async () => {
    const r = await read(await prometheus(vector([['a', '2'], ['b', '0']])), ['a', 'b']);
    expect(r.readings.get('a')).toEqual({ load: 2, observedAtMs: 1700000000500 });
    expect(r.readings.get('b')?.load).toBe(0);
    expect(r.errors.size).toBe(0);
  });

  it('refuses NaN, negative and coerced values, and pods answered twice', async () => {
    const r = await read(await prometheus(vector([['a', 'NaN'], ['b', '-1'], ['c', '0x10'], ['d', '1'], ['d', '0']])), ['a', 'b', 'c', 'd', 'e']);
    expect(r.readings.size).toBe(0);
    expect(Object.fromEntries(r.errors)).toEqual({
      a: 'Prometheus: worker_active_sessions is NaN',
      b: 'Prometheus: worker_active_sessions is negative (-1)',
      c: 'Prometheus: worker_active_sessions has value "0x10", not a number',
      d: 'Prometheus answered 2 series for this pod: the query must give one per pod',
      e: 'no series for this pod in the Prometheus answer',
    });
  });

  it('makes every pod unknown on an error answer, a non-JSON body or a timeout', async () => {
    expect((await read(await prometheus({ status: 'error', errorType: 'bad_data', error: 'parse error' }), ['a'])).errors.get('a')).toBe('Prometheus: bad_data: parse error');
    await new Promise((r) => server!.close(() => r(undefined)));
    expect((await read(await prometheus('<html>'), ['a'])).errors.get('a')).toBe('Prometheus answered 200 with a body that is not JSON');
    await new Promise((r) => server!.close(() => r(undefined)));
    expect((await read(await prometheus(vector([['a', '1']]), 1000), ['a'], 200)).errors.get('a')).toBe('Prometheus did not answer within 200 ms');
  });

  it('uses the spec query for backends and builds one for the other components', async () => {
    const url = await prometheus(vector([['stt-a', '3']]));
    await read(url, ['demo-backend-a']);
    expect(queries).toEqual(['qdemo']);
    const stt = await read(url, ['stt-a'], 2000, { component: 'stt', name: 'asr_open_channels', series: 'one', absentIsZero: true });
    expect(stt.readings.get('stt-a')?.load).toBe(3);
    // moshi-server registers its gauges on first use: a pod that is up without the series holds 0.
    expect(queries[1]).toBe(
      'sum by (pod) (max_over_time(asr_open_channels{namespace="ns",unmute_sh_fleet="demo",unmute_sh_component="stt"}[10s])) or (0 * max by (pod) (up{namespace="ns",unmute_sh_fleet="demo",unmute_sh_component="stt"} == 1))',
    );
    await read(url, ['llm-a'], 2000, { component: 'llm', name: 'vllm:num_requests_running', plus: 'vllm:num_requests_waiting', series: 'sum' });
    expect(queries[2]).toContain('vllm:num_requests_running{');
    expect(queries[2]).toContain(' + sum by (pod) (max_over_time(vllm:num_requests_waiting{');
  });
});
