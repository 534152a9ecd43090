// promtool unit tests of the sample fleet's and the operator's alerts: for each alert, synthetic
// series that must make it fire (with exact labels and annotations) and series that must not.
// Written against test/fixtures/monitoring-sample.yaml (namespace voice, fleet demo, 4 sessions
// per pod, TTS threshold 0.42 s → bucket 0.45 s, drain threshold 3900 s, alert label team=voice).
import type { AlertingRule, RuleGroup } from '../../../src/monitoring/rules/types.ts';

type Labels = Record<string, string>;

export interface Series {
  series: string;
  values: string;
}

export interface AlertCase {
  name: string;
  alert: string;
  evalTime: string;
  series: Series[];
  /** Expected alerts: labels beyond the rule's own; empty when the alert must stay silent. */
  fires: Labels[];
}

const fleet = { namespace: 'voice', unmute_sh_fleet: 'demo' };
const backendPod = (pod: string): Labels => ({ ...fleet, unmute_sh_component: 'backend', pod, job: 'demo-backend' });
const operator = (extra: Labels = {}): Labels => ({ namespace: 'voice', fleet: 'demo', job: 'unmute-operator', ...extra });
const otherFleet = (pod: string): Labels => ({ namespace: 'other', unmute_sh_fleet: 'demo', unmute_sh_component: 'backend', pod, job: 'demo-backend' });

function s(metric: string, labels: Labels, values: string): Series {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return { series: `${metric}{${body}}`, values };
}

/** Present so that UnmuteMetricsAbsent(source=operator) does not mask what a case is about. */
const operatorPresent = s('unmute_operator_replicas_desired', operator({ component: 'backend' }), '2x30');

export const FLEET_CASES: AlertCase[] = [
  {
    name: 'errors at 0.5/s across the fleet fire UnmuteHighErrorRate',
    alert: 'UnmuteHighErrorRate',
    evalTime: '15m',
    series: [
      s('worker_hard_errors_total', backendPod('demo-backend-a'), '0+15x20'),
      s('worker_hard_errors_total', backendPod('demo-backend-b'), '0+15x20'),
    ],
    fires: [fleet],
  },
  {
    name: 'errors at 0.05/s stay below the threshold',
    alert: 'UnmuteHighErrorRate',
    evalTime: '15m',
    series: [s('worker_hard_errors_total', backendPod('demo-backend-a'), '0+3x20')],
    fires: [],
  },
  {
    name: "another namespace's errors do not fire this fleet's alert",
    alert: 'UnmuteHighErrorRate',
    evalTime: '15m',
    series: [s('worker_hard_errors_total', otherFleet('demo-backend-a'), '0+60x20')],
    fires: [],
  },
  {
    name: '10% of TTS replies slower than 0.45 s fire UnmuteHighTtsLatency',
    alert: 'UnmuteHighTtsLatency',
    evalTime: '15m',
    series: [
      s('worker_tts_ttft_bucket', { ...backendPod('demo-backend-a'), le: '0.45' }, '0+90x20'),
      s('worker_tts_ttft_bucket', { ...backendPod('demo-backend-a'), le: '+Inf' }, '0+100x20'),
    ],
    fires: [fleet],
  },
  {
    name: 'every TTS reply beyond the 0.55 s top bucket fires, where a p95 > 1 s rule never could',
    alert: 'UnmuteHighTtsLatency',
    evalTime: '15m',
    series: [
      s('worker_tts_ttft_bucket', { ...backendPod('demo-backend-a'), le: '0.45' }, '0x20'),
      s('worker_tts_ttft_bucket', { ...backendPod('demo-backend-a'), le: '0.55' }, '0x20'),
      s('worker_tts_ttft_bucket', { ...backendPod('demo-backend-a'), le: '+Inf' }, '0+100x20'),
    ],
    fires: [fleet],
  },
  {
    name: '3% of slow TTS replies stay below the 5% allowed by p95',
    alert: 'UnmuteHighTtsLatency',
    evalTime: '15m',
    series: [
      s('worker_tts_ttft_bucket', { ...backendPod('demo-backend-a'), le: '0.45' }, '0+97x20'),
      s('worker_tts_ttft_bucket', { ...backendPod('demo-backend-a'), le: '+Inf' }, '0+100x20'),
    ],
    fires: [],
  },
  {
    name: 'sessions killed for lack of STT/TTS slots fire UnmuteServiceUnavailable',
    alert: 'UnmuteServiceUnavailable',
    evalTime: '5m',
    series: [s('worker_fatal_service_misses_total', backendPod('demo-backend-a'), '0+1x10')],
    fires: [fleet],
  },
  {
    name: 'no killed session keeps UnmuteServiceUnavailable silent',
    alert: 'UnmuteServiceUnavailable',
    evalTime: '5m',
    series: [s('worker_fatal_service_misses_total', backendPod('demo-backend-a'), '0x10')],
    fires: [],
  },
  {
    name: 'six sessions on a pod that runs four fire UnmuteSessionsQueueing for that pod',
    alert: 'UnmuteSessionsQueueing',
    evalTime: '5m',
    series: [
      s('worker_active_sessions', backendPod('demo-backend-a'), '6x10'),
      s('worker_active_sessions', backendPod('demo-backend-b'), '2x10'),
    ],
    fires: [{ ...fleet, pod: 'demo-backend-a' }],
  },
  {
    name: 'four sessions on a pod that runs four is full, not queueing',
    alert: 'UnmuteSessionsQueueing',
    evalTime: '5m',
    series: [s('worker_active_sessions', backendPod('demo-backend-a'), '4x10')],
    fires: [],
  },
  {
    name: 'eight sessions for a capacity of eight fire UnmuteFleetNearCapacity',
    alert: 'UnmuteFleetNearCapacity',
    evalTime: '10m',
    series: [
      s('worker_active_sessions', backendPod('demo-backend-a'), '4x15'),
      s('worker_active_sessions', backendPod('demo-backend-b'), '4x15'),
      s('unmute_operator_sessions_capacity', operator({ component: 'backend' }), '8x15'),
    ],
    fires: [fleet],
  },
  {
    name: "the operator's capacity wins over counting scraped pods (draining pods are no capacity)",
    alert: 'UnmuteFleetNearCapacity',
    evalTime: '10m',
    series: [
      s('worker_active_sessions', backendPod('demo-backend-a'), '4x15'),
      s('worker_active_sessions', backendPod('demo-backend-b'), '4x15'),
      s('unmute_operator_sessions_capacity', operator({ component: 'backend' }), '16x15'),
    ],
    fires: [],
  },
  {
    name: 'without operator metrics, scraped backends x 4 is the capacity',
    alert: 'UnmuteFleetNearCapacity',
    evalTime: '10m',
    series: [
      s('worker_active_sessions', backendPod('demo-backend-a'), '4x15'),
      s('worker_active_sessions', backendPod('demo-backend-b'), '4x15'),
    ],
    fires: [fleet],
  },
  {
    name: 'STT instance searches failing 0.1/s fire UnmuteCapacityMisses for stt',
    alert: 'UnmuteCapacityMisses',
    evalTime: '15m',
    series: [
      s('worker_stt_misses_total', backendPod('demo-backend-a'), '0+6x20'),
      s('worker_tts_misses_total', backendPod('demo-backend-a'), '0x20'),
    ],
    fires: [{ ...fleet, service: 'stt' }],
  },
  {
    name: 'rare TTS misses stay below the threshold',
    alert: 'UnmuteCapacityMisses',
    evalTime: '15m',
    series: [s('worker_tts_misses_total', backendPod('demo-backend-a'), '0+1x20')],
    fires: [],
  },
  {
    name: 'a backend with half its health checks failing fires UnmuteBackendUnhealthy',
    alert: 'UnmuteBackendUnhealthy',
    evalTime: '10m',
    series: [
      s('worker_health_ok_sum', backendPod('demo-backend-a'), '0+6x15'),
      s('worker_health_ok_count', backendPod('demo-backend-a'), '0+12x15'),
      s('worker_health_ok_sum', backendPod('demo-backend-b'), '0+12x15'),
      s('worker_health_ok_count', backendPod('demo-backend-b'), '0+12x15'),
    ],
    fires: [{ ...fleet, pod: 'demo-backend-a' }],
  },
  {
    name: 'backends whose every health check is ok stay silent',
    alert: 'UnmuteBackendUnhealthy',
    evalTime: '10m',
    series: [
      s('worker_health_ok_sum', backendPod('demo-backend-a'), '0+12x15'),
      s('worker_health_ok_count', backendPod('demo-backend-a'), '0+12x15'),
    ],
    fires: [],
  },
  {
    name: "20% of LLM requests slower than 1 s fire UnmuteHighLlmLatency (Python's le=\"1.0\")",
    alert: 'UnmuteHighLlmLatency',
    evalTime: '15m',
    series: [
      s('worker_vllm_ttft_bucket', { ...backendPod('demo-backend-a'), le: '1.0' }, '0+80x20'),
      s('worker_vllm_ttft_bucket', { ...backendPod('demo-backend-a'), le: '+Inf' }, '0+100x20'),
    ],
    fires: [fleet],
  },
  {
    name: "the same with Go's le=\"1\" spelling",
    alert: 'UnmuteHighLlmLatency',
    evalTime: '15m',
    series: [
      s('worker_vllm_ttft_bucket', { ...backendPod('demo-backend-a'), le: '1' }, '0+80x20'),
      s('worker_vllm_ttft_bucket', { ...backendPod('demo-backend-a'), le: '+Inf' }, '0+100x20'),
    ],
    fires: [fleet],
  },
  {
    name: 'LLM requests all under 1 s stay silent',
    alert: 'UnmuteHighLlmLatency',
    evalTime: '15m',
    series: [
      s('worker_vllm_ttft_bucket', { ...backendPod('demo-backend-a'), le: '1.0' }, '0+100x20'),
      s('worker_vllm_ttft_bucket', { ...backendPod('demo-backend-a'), le: '+Inf' }, '0+100x20'),
    ],
    fires: [],
  },
  {
    name: 'a TTS pod pending for 15 minutes fires UnmuteGpuPodsPending',
    alert: 'UnmuteGpuPodsPending',
    evalTime: '15m',
    series: [s('unmute_operator_pods_pending', operator({ component: 'tts' }), '1x20')],
    fires: [{ ...fleet, fleet: 'demo', component: 'tts' }],
  },
  {
    name: 'a pending backend pod is not a GPU pod',
    alert: 'UnmuteGpuPodsPending',
    evalTime: '15m',
    series: [s('unmute_operator_pods_pending', operator({ component: 'backend' }), '1x20')],
    fires: [],
  },
  {
    name: 'a TTS pod pending for 5 minutes is not yet an alert',
    alert: 'UnmuteGpuPodsPending',
    evalTime: '5m',
    series: [s('unmute_operator_pods_pending', operator({ component: 'tts' }), '1x20')],
    fires: [],
  },
  {
    name: 'the autoscaler pinned at its maximum for 20 minutes fires UnmuteAutoscalerAtMax',
    alert: 'UnmuteAutoscalerAtMax',
    evalTime: '20m',
    series: [s('unmute_operator_autoscaler_at_max', operator({ component: 'backend' }), '1x25')],
    fires: [{ ...fleet, fleet: 'demo' }],
  },
  {
    name: 'an autoscaler below its maximum stays silent',
    alert: 'UnmuteAutoscalerAtMax',
    evalTime: '20m',
    series: [s('unmute_operator_autoscaler_at_max', operator({ component: 'backend' }), '0x25')],
    fires: [],
  },
  {
    name: 'an STT pod that fails its scrapes fires UnmuteTargetDown',
    alert: 'UnmuteTargetDown',
    evalTime: '10m',
    series: [
      s('up', { ...fleet, unmute_sh_component: 'stt', pod: 'demo-stt-0', job: 'demo-stt' }, '0x15'),
      s('up', backendPod('demo-backend-a'), '1x15'),
    ],
    fires: [{ ...fleet, unmute_sh_component: 'stt', pod: 'demo-stt-0', job: 'demo-stt' }],
  },
  {
    name: 'targets that answer stay silent',
    alert: 'UnmuteTargetDown',
    evalTime: '10m',
    series: [s('up', backendPod('demo-backend-a'), '1x15')],
    fires: [],
  },
  {
    name: 'no backend series at all fires UnmuteMetricsAbsent for the backend',
    alert: 'UnmuteMetricsAbsent',
    evalTime: '10m',
    series: [operatorPresent],
    fires: [{ ...fleet, unmute_sh_component: 'backend', source: 'backend' }],
  },
  {
    name: 'no operator series fires UnmuteMetricsAbsent for the operator',
    alert: 'UnmuteMetricsAbsent',
    evalTime: '10m',
    series: [s('worker_active_sessions', backendPod('demo-backend-a'), '1x15')],
    fires: [{ ...fleet, fleet: 'demo', source: 'operator' }],
  },
  {
    name: 'backend and operator metrics present keep UnmuteMetricsAbsent silent',
    alert: 'UnmuteMetricsAbsent',
    evalTime: '10m',
    series: [s('worker_active_sessions', backendPod('demo-backend-a'), '1x15'), operatorPresent],
    fires: [],
  },
  {
    name: 'a backend draining past 3900 s fires UnmuteDrainStuck',
    alert: 'UnmuteDrainStuck',
    evalTime: '10m',
    series: [s('unmute_operator_drain_duration_seconds', operator({ component: 'backend', pod: 'demo-backend-x' }), '3800+60x15')],
    fires: [{ ...fleet, fleet: 'demo', pod: 'demo-backend-x' }],
  },
  {
    name: 'a drain of ten minutes is normal',
    alert: 'UnmuteDrainStuck',
    evalTime: '10m',
    series: [s('unmute_operator_drain_duration_seconds', operator({ component: 'backend', pod: 'demo-backend-x' }), '0+60x15')],
    fires: [],
  },
];

const opJob = (extra: Labels = {}): Labels => ({ job: 'unmute-operator', namespace: 'unmute-system', ...extra });
const controller = { controller: 'unmutedeployment' };

export const OPERATOR_CASES: AlertCase[] = [
  {
    name: 'no operator target fires UnmuteOperatorDown',
    alert: 'UnmuteOperatorDown',
    evalTime: '10m',
    series: [s('up', opJob({ pod: 'unmute-operator-0' }), '0x15')],
    fires: [{ namespace: 'unmute-system' }],
  },
  {
    name: 'an operator target that answers keeps UnmuteOperatorDown silent',
    alert: 'UnmuteOperatorDown',
    evalTime: '10m',
    series: [s('up', opJob({ pod: 'unmute-operator-0' }), '1x15')],
    fires: [],
  },
  {
    name: '30% failed reconciles fire UnmuteOperatorReconcileErrors',
    alert: 'UnmuteOperatorReconcileErrors',
    evalTime: '25m',
    series: [
      s('controller_runtime_reconcile_errors_total', opJob(controller), '0+3x30'),
      s('controller_runtime_reconcile_total', opJob({ ...controller, result: 'success' }), '0+7x30'),
      s('controller_runtime_reconcile_total', opJob({ ...controller, result: 'error' }), '0+3x30'),
    ],
    fires: [{ namespace: 'unmute-system', ...controller }],
  },
  {
    name: '1% failed reconciles stay silent',
    alert: 'UnmuteOperatorReconcileErrors',
    evalTime: '25m',
    series: [
      s('controller_runtime_reconcile_errors_total', opJob(controller), '0+1x30'),
      s('controller_runtime_reconcile_total', opJob({ ...controller, result: 'success' }), '0+99x30'),
    ],
    fires: [],
  },
  {
    name: 'a queue of 20 keys for 20 minutes fires UnmuteOperatorWorkqueueBacklog',
    alert: 'UnmuteOperatorWorkqueueBacklog',
    evalTime: '20m',
    series: [s('workqueue_depth', opJob({ name: 'unmutedeployment', controller: 'unmutedeployment' }), '20x25')],
    fires: [{ namespace: 'unmute-system', name: 'unmutedeployment' }],
  },
  {
    name: 'a short queue stays silent',
    alert: 'UnmuteOperatorWorkqueueBacklog',
    evalTime: '20m',
    series: [s('workqueue_depth', opJob({ name: 'unmutedeployment', controller: 'unmutedeployment' }), '2x25')],
    fires: [],
  },
  {
    name: 'replicas that are all followers fire UnmuteOperatorNoLeader',
    alert: 'UnmuteOperatorNoLeader',
    evalTime: '10m',
    series: [
      s('leader_election_master_status', opJob({ name: 'unmute-operator', pod: 'a' }), '0x15'),
      s('leader_election_master_status', opJob({ name: 'unmute-operator', pod: 'b' }), '0x15'),
    ],
    fires: [{ namespace: 'unmute-system' }],
  },
  {
    name: 'one leader keeps UnmuteOperatorNoLeader silent',
    alert: 'UnmuteOperatorNoLeader',
    evalTime: '10m',
    series: [
      s('leader_election_master_status', opJob({ name: 'unmute-operator', pod: 'a' }), '1x15'),
      s('leader_election_master_status', opJob({ name: 'unmute-operator', pod: 'b' }), '0x15'),
    ],
    fires: [],
  },
  {
    name: 'leadership changing every two minutes fires UnmuteOperatorLeaderFlapping',
    alert: 'UnmuteOperatorLeaderFlapping',
    evalTime: '20m',
    series: [s('leader_election_master_status', opJob({ name: 'unmute-operator', pod: 'a' }), '1 1 0 0 1 1 0 0 1 1 0 0 1 1 0 0 1 1 0 0 1')],
    fires: [{ namespace: 'unmute-system' }],
  },
  {
    name: 'a stable leader stays silent',
    alert: 'UnmuteOperatorLeaderFlapping',
    evalTime: '20m',
    series: [s('leader_election_master_status', opJob({ name: 'unmute-operator', pod: 'a' }), '1x25')],
    fires: [],
  },
];

/** `{{ $labels.x }}` expanded the way Prometheus does for the alert's labels. */
function expand(text: string, labels: Labels): string {
  return text.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_m, name: string) => labels[name] ?? '');
}

function ruleOf(groups: RuleGroup[], alert: string, labels: Labels): AlertingRule {
  const rules = groups.flatMap((g) => g.rules).filter((r): r is AlertingRule => 'alert' in r && r.alert === alert);
  // Alerts with several rules (one per service or source) are told apart by their static labels.
  const match = rules.find((r) => Object.entries(r.labels).every(([k, v]) => k === 'namespace' || k === 'unmute_sh_fleet' || labels[k] === undefined || labels[k] === v));
  if (match === undefined) throw new Error(`no rule for ${alert} matching ${JSON.stringify(labels)}`);
  return match;
}

/** A promtool unit-test document for the given rule file and cases. */
export function promtoolTests(ruleFile: string, groups: RuleGroup[], cases: AlertCase[]): unknown {
  return {
    rule_files: [ruleFile],
    evaluation_interval: '1m',
    tests: cases.map((c) => ({
      name: c.name,
      interval: '1m',
      input_series: c.series,
      alert_rule_test: [
        {
          eval_time: c.evalTime,
          alertname: c.alert,
          exp_alerts: c.fires.map((extra) => {
            const rule = ruleOf(groups, c.alert, extra);
            const labels = { ...extra, ...rule.labels };
            return {
              exp_labels: labels,
              exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expand(v, labels)])),
            };
          }),
        },
      ],
    })),
  };
}
