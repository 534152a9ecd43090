// Recording rules: the fleet-level series that both alerts and dashboards read. Recording them once
// keeps the alert and the panel about it on the same number, and turns a dashboard's 7-day view of
// a fleet p95 into a lookup instead of a histogram_quantile over every pod and bucket.
// Naming follows Prometheus' level:metric:operations convention.
import { SESSIONS_COMPONENT } from '../../api/v1alpha1/components.ts';
import { FLEET_BY, sel, workerMatchers, type Scope } from '../promql.ts';
import type { RecordingRule } from './types.ts';

/** Latency histograms summarized per fleet. */
const LATENCY_HISTOGRAMS = ['worker_stt_ttft', 'worker_tts_ttft', 'worker_vllm_ttft'] as const;
export type LatencyHistogram = (typeof LATENCY_HISTOGRAMS)[number];

export const RECORDED = {
  activeSessions: 'unmute_fleet:worker_active_sessions:sum',
  sessionsRate: 'unmute_fleet:worker_sessions:rate5m',
  hardErrorsRate: 'unmute_fleet:worker_hard_errors:rate5m',
  fatalServiceMissesRate: 'unmute_fleet:worker_fatal_service_misses:rate5m',
  sttMissesRate: 'unmute_fleet:worker_stt_misses:rate5m',
  ttsMissesRate: 'unmute_fleet:worker_tts_misses:rate5m',
  healthOkRatio: 'unmute_pod:worker_health_ok:ratio_rate5m',
  bucketRate: (h: LatencyHistogram) => `unmute_fleet:${h}_bucket:rate5m`,
  p50: (h: LatencyHistogram) => `unmute_fleet:${h}:p50_5m`,
  p95: (h: LatencyHistogram) => `unmute_fleet:${h}:p95_5m`,
} as const;

/** Sum of a backend counter's per-second rate over the fleet. */
function fleetRate(scope: Scope, counter: string): string {
  return `sum by (${FLEET_BY}) (rate(${sel(counter, workerMatchers(scope, SESSIONS_COMPONENT))}[5m]))`;
}

/** Recording rules of one fleet; every input series is filtered to it. */
export function recordingRules(scope: Scope): RecordingRule[] {
  const backend = workerMatchers(scope, SESSIONS_COMPONENT);
  const fleet = workerMatchers(scope);
  const rules: RecordingRule[] = [
    { record: RECORDED.activeSessions, expr: `sum by (${FLEET_BY}) (${sel('worker_active_sessions', backend)})` },
    { record: RECORDED.sessionsRate, expr: fleetRate(scope, 'worker_sessions_total') },
    { record: RECORDED.hardErrorsRate, expr: fleetRate(scope, 'worker_hard_errors_total') },
    { record: RECORDED.fatalServiceMissesRate, expr: fleetRate(scope, 'worker_fatal_service_misses_total') },
    { record: RECORDED.sttMissesRate, expr: fleetRate(scope, 'worker_stt_misses_total') },
    { record: RECORDED.ttsMissesRate, expr: fleetRate(scope, 'worker_tts_misses_total') },
    {
      // worker_health_ok is a summary of 0/1 observations: sum/count is the healthy fraction.
      record: RECORDED.healthOkRatio,
      expr:
        `sum by (${FLEET_BY}, pod) (rate(${sel('worker_health_ok_sum', backend)}[5m]))\n` +
        `/\n` +
        `sum by (${FLEET_BY}, pod) (rate(${sel('worker_health_ok_count', backend)}[5m]))`,
    },
  ];
  for (const h of LATENCY_HISTOGRAMS) {
    // `sum by (le)` first: a quantile of per-pod quantiles means nothing (the guide's mistake).
    rules.push({ record: RECORDED.bucketRate(h), expr: `sum by (${FLEET_BY}, le) (rate(${sel(`${h}_bucket`, backend)}[5m]))` });
    rules.push({ record: RECORDED.p50(h), expr: `histogram_quantile(0.5, ${sel(RECORDED.bucketRate(h), fleet)})` });
    rules.push({ record: RECORDED.p95(h), expr: `histogram_quantile(0.95, ${sel(RECORDED.bucketRate(h), fleet)})` });
  }
  return rules;
}
