// The simulated backend's /metrics against expositions captured from a real Unmute backend
// (test/fixtures/unmute-backend/: the first scrape of a fresh uvicorn process, and the first scrape
// after GET /, /v1/health, /v1/voices and an unknown path). Values differ by nature; everything
// else must be the same, family by family: names, types, HELP texts, which samples a family has,
// their label names and values (handlers, buckets, generations) and the order of all of it.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TestClient } from './helpers.ts';
import { startSimWorker, type SimWorker } from '../../../src/sim/worker/server.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/unmute-backend/${name}`, import.meta.url), 'utf8');

interface Family {
  name: string;
  help: string;
  type: string;
  /** Sample lines without their value: `name{labels}`. */
  samples: string[];
}

/** Families in exposition order; a HELP line starts one. */
function families(text: string): Family[] {
  const out: Family[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    if (help) {
      out.push({ name: help[1]!, help: help[2]!, type: '', samples: [] });
      continue;
    }
    const f = out.at(-1);
    if (f === undefined) throw new Error(`sample before any family: ${line}`);
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      expect(type[1], `TYPE line of ${f.name}`).toBe(f.name);
      f.type = type[2]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) \S+$/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    f.samples.push(sample[1]!);
  }
  return out;
}

/** Label names of every sample, for messages that say what differs. */
const labelNames = (f: Family): string[] => f.samples.map((s) => [...s.matchAll(/([a-z_]+)="/g)].map((m) => m[1]).join(','));

function expectSameShape(sim: string, real: string): void {
  const a = families(sim);
  const b = families(real);
  expect(a.map((f) => f.name)).toEqual(b.map((f) => f.name));
  for (const [i, r] of b.entries()) {
    const s = a[i]!;
    expect(s.type, `${r.name}: type`).toBe(r.type);
    expect(s.help, `${r.name}: HELP`).toBe(r.help);
    expect(labelNames(s), `${r.name}: label names`).toEqual(labelNames(r));
    expect(s.samples, `${r.name}: samples`).toEqual(r.samples);
  }
}

const workers: SimWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.shutdown()));
});
async function worker(): Promise<SimWorker> {
  const w = await startSimWorker({ host: '127.0.0.1', port: 0, audioFrames: false });
  workers.push(w);
  return w;
}
const get = async (url: string, init?: RequestInit): Promise<string> => (await fetch(url, init)).text();

describe('the simulated backend’s /metrics is the real backend’s', () => {
  it('on the first scrape of a fresh process (labelled http_* families still empty)', async () => {
    const w = await worker();
    expectSameShape(await get(`${w.url}/metrics`), fixture('metrics-first-scrape.txt'));
  });

  it('after the requests the real capture saw: python_*, process_*, worker_*, http_* alike', async () => {
    const w = await worker();
    for (const path of ['/', '/v1/health', '/v1/voices', '/no-such-path']) await get(`${w.url}${path}`);
    const text = await get(`${w.url}/metrics`);
    expectSameShape(text, fixture('metrics-fresh.txt'));
    // Response sizes are Content-Length values, and the simulator's bodies are Unmute's for / and the 404.
    expect(text).toContain('http_response_size_bytes_sum{handler="/"} 55.0\n');
    expect(text).toContain('http_response_size_bytes_sum{handler="none"} 22.0\n');
  });
});

describe('what the http_* families count', () => {
  it('counts /metrics from the next scrape on, not websockets or the simulator’s /sim/* endpoints', async () => {
    const w = await worker();
    await get(`${w.url}/metrics`);
    await get(`${w.url}/sim/state`);
    const c = new TestClient(w.url);
    await c.opened;
    c.ws.close();
    await c.closed;
    await get(`${w.url}/v1/health`, { method: 'POST' });
    const text = await get(`${w.url}/metrics`);
    expect(text).toContain('http_requests_total{handler="/metrics",method="GET",status="2xx"} 1.0\n');
    // A route's path with the wrong method is that route's 405, as Starlette matches it partially.
    expect(text).toContain('http_requests_total{handler="/v1/health",method="POST",status="4xx"} 1.0\n');
    expect(text).not.toMatch(/handler="\/(sim|v1\/realtime)/);
    expect(text).toMatch(/\nhttp_request_duration_highr_seconds_count 2.0\n/);
  });

  it('gives each metric its own creation time and the worker its own start time', async () => {
    const w = await worker();
    const text = await get(`${w.url}/metrics`);
    const created = [...text.matchAll(/^worker_\w+_created (\S+)$/gm)].map((m) => Number(m[1]));
    expect(created.length).toBeGreaterThan(40);
    // Created one after the other, as Python imports unmute/metrics.py: non-decreasing, not all equal.
    expect(created).toEqual([...created].sort((x, y) => x - y));
    expect(new Set(created).size).toBeGreaterThan(1);
    const start = Number(/^process_start_time_seconds (\S+)$/m.exec(text)![1]);
    expect(Math.abs(start - created[0]!)).toBeLessThan(0.02);
    expect(Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)![1])).toBeGreaterThan(1e6);
  });
});
