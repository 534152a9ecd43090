// The alerts of one fleet. Every expression is scoped to the fleet's namespace and name, so two
// fleets never share an alert, and every alert says what it measured and where its runbook is.
// The guide's three alerts are here made correct: fleet-wide sums instead of per-pod rates, and
// latency read from histogram buckets so a threshold above the highest bucket cannot hide an outage.
import type { UnmuteDeployment } from '../../api/v1alpha1/unmute-deployment.ts';
import type { AlertsSpec } from '../../api/v1alpha1/monitoring.ts';
import { SESSIONS_COMPONENT, fleetComponents, type ComponentName } from '../../api/v1alpha1/components.ts';
import {
  FLEET_BY,
  OPERATOR_LABEL_FLEET,
  SERIES_LABEL_FLEET,
  bucketBoundAtLeast,
  complement,
  fleetMatchers,
  leMatcher,
  sel,
  str,
  workerMatchers,
  type Scope,
} from '../promql.ts';
import { TTS_TTFT_BUCKETS, VLLM_TTFT_BUCKETS } from '../unmute-metrics.ts';
import { RECORDED, type LatencyHistogram } from './recording.ts';
import { runbookUrl, type FleetAlert } from './runbooks.ts';
import type { AlertingRule } from './types.ts';

interface Tuning {
  enabled: boolean;
  for: string;
  severity: string;
}

/** Seconds a drain may take by default before it counts as stuck: the longest legitimate drain plus slack. */
export function defaultDrainStuckSeconds(cr: UnmuteDeployment): number {
  return Math.max(cr.spec.autoscaling.drainTimeoutSeconds, cr.spec.backend.drainGracePeriodSeconds) + 300;
}

/** Components whose pods ask for GPUs: the ones that can sit Pending for lack of a GPU node. */
export function gpuComponents(fleet: UnmuteDeployment): ComponentName[] {
  return fleetComponents(fleet.spec)
    .filter((c) => c.gpu !== undefined)
    .map((c) => c.name);
}

/**
 * Share of a latency histogram's observations slower than `bound` (a bucket bound), from the
 * fleet's recorded bucket rates. NaN (no alert) when nothing was observed.
 */
function slowFractionExpr(scope: Scope, h: LatencyHistogram, bound: number): string {
  const series = (le: string) => `sum by (${FLEET_BY}) (${sel(RECORDED.bucketRate(h), workerMatchers(scope), le)})`;
  const all = series('le="+Inf"');
  return `(\n  ${all}\n  -\n  ${series(leMatcher(bound))}\n)\n/\n${all}`;
}

function fmt(n: number): string {
  return String(Number(n.toPrecision(6)));
}

/** Alerting rules of one fleet, in FLEET_ALERTS order, leaving out the disabled and the inapplicable. */
export function alertRules(cr: UnmuteDeployment): AlertingRule[] {
  const { spec, metadata } = cr;
  const a: AlertsSpec = spec.monitoring.alerts;
  const scope: Scope = { namespace: metadata.namespace, fleet: metadata.name };
  const fleetName = `${metadata.namespace}/${metadata.name}`;
  const backend = workerMatchers(scope, SESSIONS_COMPONENT);
  const fleet = workerMatchers(scope);
  const operator = fleetMatchers(scope);
  const rules: AlertingRule[] = [];

  const add = (
    alert: FleetAlert,
    tuning: Tuning,
    expr: string,
    summary: string,
    description: string,
    labels: Record<string, string> = {},
  ): void => {
    if (!tuning.enabled) return;
    rules.push({
      alert,
      expr,
      for: tuning.for,
      labels: {
        ...a.labels,
        ...labels,
        severity: tuning.severity,
        // Static labels so that even an aggregate without labels says which fleet it is about.
        namespace: metadata.namespace,
        [SERIES_LABEL_FLEET]: metadata.name,
      },
      annotations: { summary, description, runbook_url: runbookUrl(a.runbookBaseUrl, alert) },
    });
  };

  add(
    'UnmuteHighErrorRate',
    a.highErrorRate,
    `${sel(RECORDED.hardErrorsRate, fleet)} > ${fmt(a.highErrorRate.threshold)}`,
    `Unmute ${fleetName}: sessions are failing with unexpected errors`,
    `The backends of ${fleetName} report more than ${fmt(a.highErrorRate.threshold)} unexpected session errors per second ` +
      `(worker_hard_errors, summed over every backend, 5-minute rate). Each one is a conversation that broke.`,
  );

  const ttsBound = bucketBoundAtLeast(TTS_TTFT_BUCKETS, a.highTtsLatency.threshold);
  const ttsShare = complement(a.highTtsLatency.quantile);
  add(
    'UnmuteHighTtsLatency',
    a.highTtsLatency,
    `${slowFractionExpr(scope, 'worker_tts_ttft', ttsBound)}\n> ${fmt(ttsShare)}`,
    `Unmute ${fleetName}: text-to-speech is slow to start speaking`,
    `More than ${fmt(ttsShare * 100)}% of assistant replies of ${fleetName} waited longer than ${fmt(ttsBound)} s ` +
      `between the first text sent to TTS and the first audio back (worker_tts_ttft, 5 minutes), ` +
      `so its p${fmt(a.highTtsLatency.quantile * 100)} is above ${fmt(ttsBound)} s. ` +
      `The histogram's highest bucket is 0.55 s: anything slower is only known to be slower.`,
  );

  add(
    'UnmuteServiceUnavailable',
    a.serviceUnavailable,
    `${sel(RECORDED.fatalServiceMissesRate, fleet)} > ${fmt(a.serviceUnavailable.threshold)}`,
    `Unmute ${fleetName}: sessions are being killed because STT or TTS is full`,
    `Backends of ${fleetName} closed sessions because every STT or TTS instance was at capacity or timed out ` +
      `(worker_fatal_service_misses). Users see "Too many people are connected".`,
  );

  const maxSessions = spec.backend.maxSessionsPerPod;
  const queueLimit = maxSessions + a.sessionsQueueing.threshold;
  add(
    'UnmuteSessionsQueueing',
    a.sessionsQueueing,
    `max by (${FLEET_BY}, pod) (${sel('worker_active_sessions', backend)}) > ${fmt(queueLimit)}`,
    `Unmute ${fleetName}: conversations are waiting for a slot on {{ $labels.pod }}`,
    `Backend {{ $labels.pod }} holds more than ${fmt(queueLimit)} sessions while it runs at most ${maxSessions} at once ` +
      `(backend.maxSessionsPerPod): the others wait, un-accepted, for a slot to free up.`,
  );

  add(
    'UnmuteFleetNearCapacity',
    a.fleetNearCapacity,
    // Capacity from the operator (serving backends x maxSessionsPerPod); when the operator is not
    // scraped, every scraped backend counts, including draining ones.
    `sum(${sel('worker_active_sessions', backend)})\n/\n(\n  sum(${sel('unmute_operator_sessions_capacity', operator)})\n  or\n` +
      `  count(${sel('worker_active_sessions', backend)}) * ${maxSessions}\n)\n> ${fmt(a.fleetNearCapacity.threshold)}`,
    `Unmute ${fleetName}: the fleet is running out of session slots`,
    `More than ${fmt(a.fleetNearCapacity.threshold * 100)}% of the session capacity of ${fleetName} is in use ` +
      `(active sessions over serving backends x ${maxSessions}). New conversations will soon queue.`,
  );

  for (const service of ['stt', 'tts'] as const) {
    add(
      'UnmuteCapacityMisses',
      a.capacityMisses,
      `${sel(service === 'stt' ? RECORDED.sttMissesRate : RECORDED.ttsMissesRate, fleet)} > ${fmt(a.capacityMisses.threshold)}`,
      `Unmute ${fleetName}: ${service.toUpperCase()} has no free slot`,
      `Backends of ${fleetName} tried every ${service.toUpperCase()} instance and found none free more than ` +
        `${fmt(a.capacityMisses.threshold)} times per second (worker_${service}_misses, 5 minutes).`,
      { service },
    );
  }

  add(
    'UnmuteBackendUnhealthy',
    a.backendUnhealthy,
    `${sel(RECORDED.healthOkRatio, fleet)} < ${fmt(a.backendUnhealthy.threshold)}`,
    `Unmute ${fleetName}: backend {{ $labels.pod }} cannot reach STT, TTS or the LLM`,
    `Fewer than ${fmt(a.backendUnhealthy.threshold * 100)}% of the health evaluations of backend {{ $labels.pod }} ` +
      `were ok over 5 minutes (worker_health_ok). /v1/health answers 200 even when unhealthy: read its body.`,
  );

  const llmBound = bucketBoundAtLeast(VLLM_TTFT_BUCKETS, a.highLlmLatency.threshold);
  const llmShare = complement(a.highLlmLatency.quantile);
  add(
    'UnmuteHighLlmLatency',
    a.highLlmLatency,
    `${slowFractionExpr(scope, 'worker_vllm_ttft', llmBound)}\n> ${fmt(llmShare)}`,
    `Unmute ${fleetName}: the LLM is slow to answer`,
    `More than ${fmt(llmShare * 100)}% of LLM requests of ${fleetName} waited longer than ${fmt(llmBound)} s ` +
      `for their first token (worker_vllm_ttft, as seen by the backends, 5 minutes).`,
  );

  const gpus = gpuComponents(cr);
  if (gpus.length > 0) {
    add(
      'UnmuteGpuPodsPending',
      a.gpuPodsPending,
      `max by (namespace, ${OPERATOR_LABEL_FLEET}, component) (${sel('unmute_operator_pods_pending', operator, `component=~${str(gpus.join('|'))}`)})` +
        ` > ${fmt(a.gpuPodsPending.threshold)}`,
      `Unmute ${fleetName}: {{ $labels.component }} pods cannot get a GPU`,
      `Pods of the {{ $labels.component }} tier of ${fleetName} have been Pending: no node with a free GPU ` +
        `of the requested product accepts them, so that tier runs below its desired replicas.`,
    );
  }

  if (spec.autoscaling.enabled) {
    add(
      'UnmuteAutoscalerAtMax',
      a.autoscalerAtMax,
      `max by (namespace, ${OPERATOR_LABEL_FLEET}) (${sel('unmute_operator_autoscaler_at_max', operator)}) > 0`,
      `Unmute ${fleetName}: the autoscaler wants more backends than allowed`,
      `The autoscaler of ${fleetName} has been pinned at autoscaling.maxReplicas (${spec.autoscaling.maxReplicas}) ` +
        `or at the GPU budget: load beyond it queues.`,
    );
  }

  add(
    'UnmuteTargetDown',
    a.targetDown,
    `${sel('up', fleet)} == 0`,
    `Unmute ${fleetName}: Prometheus cannot scrape {{ $labels.pod }}`,
    `The /metrics endpoint of {{ $labels.pod }} (job {{ $labels.job }}) has not answered scrapes. ` +
      `Its sessions are unknown to dashboards and alerts.`,
  );

  const backendsExpected = spec.autoscaling.enabled || spec.backend.replicas > 0;
  if (backendsExpected) {
    add(
      'UnmuteMetricsAbsent',
      a.metricsAbsent,
      `absent(${sel('worker_active_sessions', backend)})`,
      `Unmute ${fleetName}: no backend session metrics`,
      `Prometheus has no worker_active_sessions series for ${fleetName}: no backend is scraped, so every ` +
        `session alert of this fleet is blind. Check the ServiceMonitor/PodMonitor is selected by Prometheus.`,
      { source: SESSIONS_COMPONENT },
    );
  }
  add(
    'UnmuteMetricsAbsent',
    a.metricsAbsent,
    `absent(${sel('unmute_operator_replicas_desired', operator)})`,
    `Unmute ${fleetName}: no operator fleet metrics`,
    `Prometheus has no unmute_operator_* series for ${fleetName}: the operator is not scraped (or lost the fleet), ` +
      `so alerts on pending GPU pods, the autoscaler and drains cannot fire.`,
    { source: 'operator' },
  );

  const drainSeconds = a.drainStuck.thresholdSeconds ?? defaultDrainStuckSeconds(cr);
  add(
    'UnmuteDrainStuck',
    a.drainStuck,
    `max by (namespace, ${OPERATOR_LABEL_FLEET}, pod) (${sel('unmute_operator_drain_duration_seconds', operator)}) > ${drainSeconds}`,
    `Unmute ${fleetName}: backend {{ $labels.pod }} has been draining too long`,
    `Backend {{ $labels.pod }} of ${fleetName} has been out of rotation for more than ${drainSeconds} s and is still not removed: ` +
      `its sessions do not end, or the operator cannot delete it.`,
  );

  return rules;
}
