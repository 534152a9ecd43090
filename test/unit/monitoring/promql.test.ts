// Every PromQL expression we ship parses, and reads only metrics that exist: Unmute's (checked-in
// list), the operator's fleet and runtime metrics, our own recording rules, or Prometheus' `up`.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLEET_METRIC_NAMES } from '../../../src/monitoring/fleet-metrics.ts';
import { bucketBoundAtLeast, leMatcher, str } from '../../../src/monitoring/promql.ts';
import { fleetRuleGroups } from '../../../src/monitoring/rules/prometheus-rule.ts';
import { TTS_TTFT_BUCKETS, VLLM_TTFT_BUCKETS } from '../../../src/monitoring/unmute-metrics.ts';
import { runtimeMetricNames } from '../../../src/observability/metrics.ts';
import { seriesNames, unmuteMetricFamilies } from '../../support/unmute-fixture-exporter.ts';
import { allExpressions, metricNames, promqlErrors, sample, substituteVariables } from '../../support/monitoring.ts';

const RUNTIME_HISTOGRAMS = new Set<string>([
  runtimeMetricNames.reconcileTime,
  runtimeMetricNames.restClientRequestDuration,
  runtimeMetricNames.workqueueQueueDuration,
  runtimeMetricNames.workqueueWorkDuration,
]);

function knownSeries(): Set<string> {
  const known = new Set<string>(['up']);
  for (const f of unmuteMetricFamilies()) for (const s of seriesNames(f)) known.add(s);
  for (const n of FLEET_METRIC_NAMES) known.add(n);
  for (const n of Object.values(runtimeMetricNames)) {
    known.add(n);
    if (RUNTIME_HISTOGRAMS.has(n)) for (const suffix of ['_bucket', '_sum', '_count']) known.add(n + suffix);
  }
  for (const g of fleetRuleGroups(sample())) for (const r of g.rules) if ('record' in r) known.add(r.record);
  return known;
}

describe('PromQL of rules and dashboards', () => {
  const expressions = allExpressions();

  it('covers rules, panels and variables', () => {
    expect(expressions.filter((e) => e.kind === 'rule').length).toBeGreaterThan(30);
    expect(expressions.filter((e) => e.kind === 'panel').length).toBeGreaterThan(50);
    // namespace and deployment on six dashboards, job on the operator's.
    expect(expressions.filter((e) => e.kind === 'variable').length).toBe(13);
  });

  it.each(expressions.map((e) => [e.where, e.expr]))('%s parses', (_where, expr) => {
    expect(promqlErrors(substituteVariables(expr))).toEqual([]);
  });

  it('reads only metrics that Unmute, the operator or our recording rules expose', () => {
    const known = knownSeries();
    const unknown = expressions.flatMap((e) =>
      metricNames(substituteVariables(e.expr))
        .filter((n) => !known.has(n))
        .map((n) => `${e.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('never reads worker_tts_interrupt, which Unmute never increments', () => {
    const users = expressions.filter((e) => metricNames(substituteVariables(e.expr)).some((n) => n.startsWith('worker_tts_interrupt')));
    expect(users).toEqual([]);
  });

  it('merges pods before every quantile (sum by le, or recorded bucket rates)', () => {
    const quantiles = expressions.filter((e) => e.expr.includes('histogram_quantile'));
    expect(quantiles.length).toBeGreaterThan(5);
    for (const e of quantiles) expect(e.expr, e.where).toMatch(/histogram_quantile\([0-9.]+, (sum by \([^)]*\ble\)|unmute_fleet:\w+_bucket:rate5m)/);
  });
});

describe('the metric list', () => {
  // test/fixtures/unmute-metrics.json is the simulated backend's list (src/sim); both lists come
  // from docs/unmute.md and must not drift apart.
  it("agrees with the simulated backend's list on every backend family", () => {
    const simulated = (JSON.parse(readFileSync(new URL('../../fixtures/unmute-metrics.json', import.meta.url), 'utf8')) as {
      metrics: Array<{ name: string; type: string; buckets?: number[] }>;
    }).metrics;
    const ours = unmuteMetricFamilies().filter((f) => f.source === 'backend');
    const shape = (xs: Array<{ name: string; type: string; buckets?: number[] }>) =>
      xs.map((x) => ({ name: x.name, type: x.type, buckets: x.buckets ?? [] })).sort((a, b) => a.name.localeCompare(b.name));
    expect(shape(ours)).toEqual(shape(simulated));
  });

  it('uses the bucket bounds the latency alerts assume', () => {
    const buckets = (name: string) => unmuteMetricFamilies().find((f) => f.name === name)?.buckets;
    expect(buckets('worker_tts_ttft')).toEqual([...TTS_TTFT_BUCKETS]);
    expect(buckets('worker_vllm_ttft')).toEqual([...VLLM_TTFT_BUCKETS]);
  });
});

describe('PromQL helpers', () => {
  it.each([
    [0.5, 'le="0.5"'],
    [0.55, 'le="0.55"'],
    [1, 'le=~"1(\\\\.0)?"'],
    [1920, 'le=~"1920(\\\\.0)?"'],
  ])('matches the bucket %s as %s', (bound, matcher) => {
    expect(leMatcher(bound)).toBe(matcher);
    expect(promqlErrors(`x{${matcher}}`)).toEqual([]);
  });

  it.each([
    [0.42, 0.45],
    [0.45, 0.45],
    [0.1, 0.2],
    [0.55, 0.55],
    [3, 0.55],
  ])('rounds a TTS threshold of %s s up to the bucket bound %s s', (threshold, bound) => {
    expect(bucketBoundAtLeast([0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55], threshold)).toBe(bound);
  });

  it('quotes strings for PromQL', () => {
    expect(str('a"b\\c')).toBe('"a\\"b\\\\c"');
  });
});
