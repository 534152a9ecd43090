import { describe, expect, it } from 'vitest';
import { EndpointSliceTargets, readyEndpointUrls, type EndpointSlice } from '../../../src/sim/loadgen/endpointslices.ts';
import type { SessionResult } from '../../../src/sim/loadgen/session.ts';
import { buildReport, formatReport, percentile, summarize } from '../../../src/sim/loadgen/stats.ts';
import { staticTargets, TargetPool } from '../../../src/sim/loadgen/targets.ts';

describe('statistics', () => {
  it('interpolates percentiles like numpy', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10], 99)).toBe(10);
    expect(percentile([0, 10], 90)).toBe(9);
    expect(summarize([])).toEqual({ count: 0 });
    expect(summarize([5, 1, 3])).toMatchObject({ count: 3, p50: 3, max: 5, mean: 3 });
  });

  it('counts outcomes, close codes and latencies', () => {
    const base = { startedAt: 0, durationMs: 1, userTurns: 1, serverErrors: [] };
    const results: SessionResult[] = [
      { ...base, url: 'a', outcome: 'completed', queuedMs: 2, replies: [{ index: 0, afterUserTurn: true, sttMs: 300, llmMs: 200, ttsStartMs: 250, audioMs: 1, completed: true }] },
      { ...base, url: 'a', outcome: 'dropped', closeCode: 1011, replies: [] },
      { ...base, url: 'b', outcome: 'dropped', closeCode: 1012, replies: [] },
      { ...base, url: 'b', outcome: 'dropped', closeCode: 1012, replies: [] },
      { ...base, url: 'b', outcome: 'refused', httpStatus: 500, error: 'HTTP 500', replies: [] },
    ];
    const r = buildReport(results, { wallMs: 1000 });
    expect(r.sessions).toMatchObject({ total: 5, completed: 1, dropped: 3, refused: 1, okFraction: 0.2 });
    expect(r.dropCloseCodes).toEqual({ '1011': 1, '1012': 2 });
    expect(r.httpStatuses).toEqual({ '500': 1 });
    expect(r.latencyMs.stt).toMatchObject({ count: 1, p50: 300 });
    expect(r.perTarget.b).toEqual({ sessions: 3, completed: 0, dropped: 2 });
    const text = formatReport(r);
    expect(text).toContain('dropped by close code: 1011: 1, 1012: 2');
    expect(text).toMatch(/llm \(response.created -> 1st word\)\s+1\s+200/);
  });
});

describe('target pickers', () => {
  it('round robin cycles', () => {
    const p = staticTargets(['a', 'b', 'c']);
    expect([1, 2, 3, 4].map(() => p.pick()!.url)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('least connections fills the emptiest target, ties round robin', () => {
    const p = new TargetPool('least-connections', ['a', 'b']);
    const l1 = p.pick()!;
    const l2 = p.pick()!;
    expect([l1.url, l2.url].sort()).toEqual(['a', 'b']);
    l1.release();
    expect(p.pick()!.url).toBe(l1.url);
    l1.release(); // idempotent
    expect(p.connections(l2.url)).toBe(1);
  });

  it('keeps in-flight counts when targets change and returns nothing when empty', () => {
    const p = new TargetPool('least-connections', ['a']);
    const la = p.pick()!;
    p.setTargets(['a', 'b']);
    expect(p.pick()!.url).toBe('b');
    la.release();
    p.setTargets([]);
    expect(p.pick()).toBeUndefined();
  });
});

const slice = (over: Partial<EndpointSlice>): EndpointSlice => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'backend-x' }, addressType: 'IPv4', endpoints: [], ...over });

describe('EndpointSlice targets', () => {
  const slices: EndpointSlice[] = [
    slice({
      ports: [{ name: 'http', port: 80 }, { name: 'metrics', port: 9090 }],
      endpoints: [
        { addresses: ['10.0.0.1'], conditions: { ready: true } },
        { addresses: ['10.0.0.2'], conditions: { ready: false, terminating: true } },
        { addresses: ['10.0.0.3'], conditions: {} },
      ],
    }),
    slice({ addressType: 'IPv6', ports: [{ name: 'http', port: 80 }], endpoints: [{ addresses: ['fd00::5'], conditions: { ready: true } }] }),
  ];

  it('keeps only endpoints whose ready condition is true', () => {
    expect(readyEndpointUrls(slices, undefined)).toEqual(['http://10.0.0.1:80', 'http://[fd00::5]:80']);
    expect(readyEndpointUrls(slices, '9090')).toEqual(['http://10.0.0.1:9090']);
    expect(readyEndpointUrls(slices, 'nope')).toEqual([]);
  });

  it('lists by the service-name label and follows changes on refresh', async () => {
    const calls: string[] = [];
    let current = slices;
    const t = await new EndpointSliceTargets({
      namespace: 'ns',
      service: 'backend',
      refreshMs: 60_000,
      listSlices: async (ns, selector) => {
        calls.push(`${ns} ${selector}`);
        return current;
      },
    }).start();
    expect(calls).toEqual(['ns kubernetes.io/service-name=backend']);
    expect(t.targets()).toHaveLength(2);
    current = [slice({ ports: [{ port: 8000 }], endpoints: [{ addresses: ['10.0.0.9'], conditions: { ready: true } }] })];
    await t.refresh();
    expect(t.targets()).toEqual(['http://10.0.0.9:8000']);
    t.close();
  });
});
