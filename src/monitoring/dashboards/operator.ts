// The operator's own health: reconciles, errors, queue, leadership (controller-runtime metric names).
// Generic only (dashboards/unmute-operator.json, shipped by the Helm chart); not per fleet.
import { RATE, UNIT, type DashboardSpec } from './spec.ts';

const JOB = 'job="$job"';

export const operatorDashboard: DashboardSpec = {
  key: 'operator',
  title: 'Operator',
  description: 'Health of the unmute-operator: reconcile rate, errors and duration, work queue, leader election.',
  variables: 'operator',
  rows: [
    {
      title: 'Now',
      panels: [
        {
          kind: 'stat',
          title: 'Leader elected',
          description: 'Whether one replica holds the leader lease (leader_election_master_status). Alert: UnmuteOperatorNoLeader.',
          unit: UNIT.count,
          flag: { off: 'none', on: 'yes' },
          queries: [{ expr: `max(leader_election_master_status{${JOB}})`, legend: 'leader' }],
        },
        {
          kind: 'stat',
          title: 'Reconciles',
          description: 'Reconciles per second, all controllers (controller_runtime_reconcile_total).',
          unit: UNIT.perSecond,
          queries: [{ expr: `sum(rate(controller_runtime_reconcile_total{${JOB}}[${RATE}]))`, legend: 'reconciles' }],
        },
        {
          kind: 'stat',
          title: 'Reconcile errors',
          description: 'Reconciles that returned an error, per second (controller_runtime_reconcile_errors_total). Alert: UnmuteOperatorReconcileErrors.',
          unit: UNIT.perSecond,
          queries: [{ expr: `sum(rate(controller_runtime_reconcile_errors_total{${JOB}}[${RATE}]))`, legend: 'errors' }],
        },
        {
          kind: 'stat',
          title: 'Work queue depth',
          description: 'Keys waiting in every work queue (workqueue_depth). Alert: UnmuteOperatorWorkqueueBacklog.',
          unit: UNIT.count,
          queries: [{ expr: `sum(workqueue_depth{${JOB}})`, legend: 'depth' }],
        },
      ],
    },
    {
      title: 'Reconciles',
      panels: [
        {
          kind: 'timeseries',
          title: 'Reconciles per second by result',
          description: 'success, error, requeue and requeue_after per controller.',
          unit: UNIT.perSecond,
          min: 0,
          queries: [
            { expr: `sum by (controller, result) (rate(controller_runtime_reconcile_total{${JOB}}[${RATE}]))`, legend: '{{controller}} {{result}}' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Reconcile duration (p95)',
          description: 'p95 time of one reconcile per controller (controller_runtime_reconcile_time_seconds).',
          unit: UNIT.seconds,
          min: 0,
          queries: [
            {
              expr: `histogram_quantile(0.95, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket{${JOB}}[${RATE}])))`,
              legend: '{{controller}}',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Work queue depth and retries',
          description: 'Keys waiting per queue (workqueue_depth) and retries per second (workqueue_retries_total).',
          unit: UNIT.count,
          min: 0,
          queries: [
            { expr: `sum by (name) (workqueue_depth{${JOB}})`, legend: '{{name}} depth' },
            { expr: `sum by (name) (rate(workqueue_retries_total{${JOB}}[${RATE}]))`, legend: '{{name}} retries/s' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Leader per replica',
          description: '1 on the replica holding the lease. Frequent changes mean replicas lose their lease. Alert: UnmuteOperatorLeaderFlapping.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: `max by (pod) (leader_election_master_status{${JOB}})`, legend: '{{pod}}' }],
        },
      ],
    },
  ],
};
