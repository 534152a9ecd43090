// Alerts on the operator itself (for the Helm chart): down, failing reconciles, a growing queue,
// no leader or a leader that keeps changing. Metric names are controller-runtime's.
// Types only: the models' runtime pulls a WebAssembly RE2 for their validators (16 MiB the operator
// would hold for good); the unit tests validate what is rendered against them.
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { Desired, DesiredObject } from '../../render/types.ts';
import { str } from '../promql.ts';
import { DEFAULT_RUNBOOK_BASE_URL, runbookUrl, type OperatorAlert } from './runbooks.ts';
import type { AlertingRule, RuleGroup } from './types.ts';

export interface OperatorRulesOptions {
  /** Namespace the operator runs in (and its PrometheusRule goes to). */
  namespace: string;
  /** `job` label of the operator's scrape target. */
  jobLabel: string;
  runbookBaseUrl?: string;
  /** Extra labels on the PrometheusRule object, e.g. {release: kube-prometheus-stack}. */
  labels?: Record<string, string>;
}

const OPERATOR_RULE_NAME = 'unmute-operator';

export function operatorRuleGroups(opts: OperatorRulesOptions): RuleGroup[] {
  const m = `job=${str(opts.jobLabel)}, namespace=${str(opts.namespace)}`;
  const base = opts.runbookBaseUrl ?? DEFAULT_RUNBOOK_BASE_URL;
  const rule = (alert: OperatorAlert, expr: string, forDuration: string, severity: string, summary: string, description: string): AlertingRule => ({
    alert,
    expr,
    for: forDuration,
    labels: { severity, namespace: opts.namespace },
    annotations: { summary, description, runbook_url: runbookUrl(base, alert) },
  });
  return [
    {
      name: 'unmute-operator',
      rules: [
        rule(
          'UnmuteOperatorDown',
          `absent(up{${m}} == 1)`,
          '5m',
          'critical',
          'The unmute-operator is not running or not scraped',
          'No operator target answers scrapes: fleets are not reconciled, autoscaled or drained.',
        ),
        rule(
          'UnmuteOperatorReconcileErrors',
          `sum by (controller) (rate(controller_runtime_reconcile_errors_total{${m}}[5m]))\n/\n` +
            `sum by (controller) (rate(controller_runtime_reconcile_total{${m}}[5m]))\n> 0.1`,
          '15m',
          'warning',
          'The unmute-operator fails more than 10% of its reconciles',
          'Controller {{ $labels.controller }} returns errors on more than 10% of its reconciles: changes to fleets may not be applied.',
        ),
        rule(
          'UnmuteOperatorWorkqueueBacklog',
          `sum by (name) (workqueue_depth{${m}}) > 10`,
          '15m',
          'warning',
          'The unmute-operator work queue keeps growing',
          'Work queue {{ $labels.name }} has held more than 10 keys for 15 minutes: reconciles are slower than changes arrive.',
        ),
        rule(
          'UnmuteOperatorNoLeader',
          `max(leader_election_master_status{${m}}) < 1`,
          '5m',
          'critical',
          'No unmute-operator replica holds the leader lease',
          'Operator replicas are running but none is leader: nothing is reconciled.',
        ),
        rule(
          'UnmuteOperatorLeaderFlapping',
          `sum(changes(leader_election_master_status{${m}}[30m])) > 4`,
          '0m',
          'warning',
          'The unmute-operator leader keeps changing',
          'Leadership changed more than twice in 30 minutes: replicas restart or lose their lease (API server latency, CPU throttling).',
        ),
      ],
    },
  ];
}

/** The operator's PrometheusRule, for the Helm chart. */
export function renderOperatorRules(opts: OperatorRulesOptions): DesiredObject {
  const rule: Desired<IPrometheusRule> = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: OPERATOR_RULE_NAME,
      namespace: opts.namespace,
      labels: { ...opts.labels, 'app.kubernetes.io/name': 'unmute-operator', 'app.kubernetes.io/component': 'monitoring' },
    },
    spec: { groups: operatorRuleGroups(opts) },
  };
  return rule;
}
