import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { httpBaseUrl, parseClientEvent, realtimeUrl } from '../../../src/sim/protocol.ts';
import { floatToGoString, pythonFloatRepr } from '../../../src/sim/worker/exposition.ts';
import { WorkerMetrics } from '../../../src/sim/worker/metrics.ts';

interface FixtureMetric {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  buckets?: number[];
}
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/unmute-metrics.json', import.meta.url), 'utf8')) as { metrics: FixtureMetric[] };

describe('client events', () => {
  it('accepts the events Unmute accepts', () => {
    expect(parseClientEvent('{"type":"input_audio_buffer.append","audio":"AAAA"}')).toMatchObject({ ok: true });
    expect(parseClientEvent('{"type":"session.update","session":{"instructions":{"type":"smalltalk"},"voice":"v","allow_recording":false}}')).toMatchObject({ ok: true });
  });

  it('rejects invalid JSON, unknown types and missing fields', () => {
    expect(parseClientEvent('{nope')).toMatchObject({ ok: false, message: expect.stringMatching(/^Invalid JSON/) });
    expect(parseClientEvent('{"type":"response.create"}')).toMatchObject({ ok: false, message: 'Invalid message' });
    // allow_recording has no default in Unmute's SessionConfig.
    expect(parseClientEvent('{"type":"session.update","session":{"voice":"v"}}')).toMatchObject({ ok: false });
    expect(parseClientEvent('{"type":"session.update","session":{"instructions":{"type":"karaoke"},"allow_recording":true}}')).toMatchObject({ ok: false });
    expect(parseClientEvent('{"type":"input_audio_buffer.append","audio":3}')).toMatchObject({ ok: false });
  });

  it('maps base URLs', () => {
    expect(realtimeUrl('http://127.0.0.1:8000')).toBe('ws://127.0.0.1:8000/v1/realtime');
    expect(realtimeUrl('wss://x/api/v1/realtime')).toBe('wss://x/api/v1/realtime');
    expect(httpBaseUrl('ws://127.0.0.1:8000/v1/realtime')).toBe('http://127.0.0.1:8000');
    expect(httpBaseUrl('https://h/api/')).toBe('https://h/api');
  });
});

describe('exposition format (Python prometheus_client)', () => {
  it('formats floats as Python does', () => {
    expect(pythonFloatRepr(1)).toBe('1.0');
    expect(pythonFloatRepr(0.025)).toBe('0.025');
    expect(pythonFloatRepr(1e-5)).toBe('1e-05');
    expect(pythonFloatRepr(1e16)).toBe('1e+16');
    expect(pythonFloatRepr(123456.5)).toBe('123456.5');
    expect(floatToGoString(Infinity)).toBe('+Inf');
    expect(floatToGoString(1920)).toBe('1920.0');
    expect(floatToGoString(1234567)).toBe('1.234567e+06');
    expect(floatToGoString(10_000_000)).toBe('1e+07');
    expect(floatToGoString(1718281828.459045)).toBe('1.718281828459045e+09');
  });
});

/** TYPE lines and bucket boundaries of an exposition. */
function parseExposition(text: string): { types: Map<string, string>; buckets: Map<string, number[]>; samples: Map<string, number> } {
  const types = new Map<string, string>();
  const buckets = new Map<string, number[]>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    const b = /^(\S+)_bucket\{le="([^"]+)"\} (\S+)$/.exec(line);
    if (b) buckets.set(b[1]!, [...(buckets.get(b[1]!) ?? []), b[2] === '+Inf' ? Infinity : Number(b[2])]);
    const s = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (s) samples.set(s[1]! + (s[2] ?? ''), Number(s[3]));
  }
  return { types, buckets, samples };
}

describe('/metrics matches Unmute’s metric list', () => {
  it('exposes every worker_* metric with Unmute’s exposed names, types and buckets, and no other worker_* metric', async () => {
    const text = await new WorkerMetrics().exposition();
    const { types: all, buckets } = parseExposition(text);
    // The python_*, process_* and http_* families are checked against a real exposition in exposition-real.test.ts.
    const types = new Map([...all].filter(([name]) => name.startsWith('worker_')));
    const expected = new Map<string, string>();
    for (const m of fixture.metrics) {
      if (m.type === 'counter') expected.set(`${m.name}_total`, 'counter');
      else expected.set(m.name, m.type);
      if (m.type !== 'gauge') expected.set(`${m.name}_created`, 'gauge');
    }
    expect(Object.fromEntries(types)).toEqual(Object.fromEntries(expected));
    for (const m of fixture.metrics.filter((x) => x.type === 'histogram')) {
      expect(buckets.get(m.name), m.name).toEqual([...m.buckets!, Infinity]);
    }
    expect(text).toContain('worker_session_duration_bucket{le="1920.0"} 0.0\n');
    expect(text).toContain('worker_stt_ping_time_bucket{le="0.001"} 0.0\n');
    expect(text).not.toMatch(/\n\n/);
    // Summaries expose only _count and _sum (no quantiles), as a Python Summary.
    expect(text).toMatch(/# TYPE worker_health_ok summary\nworker_health_ok_count 0.0\nworker_health_ok_sum 0.0\n/);
  });

  it('renders observations in seconds', async () => {
    const m = new WorkerMetrics();
    m.sessions.inc();
    m.activeSessions.inc(5);
    m.vllmTtft.observe(0.12);
    const { samples } = parseExposition(await m.exposition());
    expect(samples.get('worker_sessions_total')).toBe(1);
    expect(samples.get('worker_active_sessions')).toBe(5);
    expect(samples.get('worker_vllm_ttft_bucket{le="0.1"}')).toBe(0);
    expect(samples.get('worker_vllm_ttft_bucket{le="0.15"}')).toBe(1);
    expect(samples.get('worker_vllm_ttft_sum')).toBeCloseTo(0.12);
  });
});
