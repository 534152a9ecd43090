// Fleet: what the operator wants and has, per tier; sessions against capacity and free slots; drains, scaling, GPUs.
// Reads the operator's own metrics (unmute_operator_*), which Unmute's cannot provide.
import { SESSIONS_COMPONENT } from '../../api/v1alpha1/components.ts';
import { sel, workerMatchers, DASHBOARD_SCOPE } from '../promql.ts';
import { OPERATOR } from './queries.ts';
import { RATE, UNIT, type DashboardSpec } from './spec.ts';

const by = (labels: string, metric: string, agg = 'max') => `${agg} by (${labels}) (${sel(metric, OPERATOR)})`;
const total = (metric: string, agg = 'sum') => `${agg}(${sel(metric, OPERATOR)})`;

export const fleet: DashboardSpec = {
  key: 'fleet',
  title: 'Fleet',
  description: 'Desired against ready replicas per tier, sessions against capacity, drains, scaling decisions and GPUs, as the operator sees them.',
  variables: 'fleet',
  rows: [
    {
      title: 'Now',
      panels: [
        {
          kind: 'stat',
          title: 'Session capacity in use',
          description: 'Active sessions over serving backends x maxSessionsPerPod. Alert: UnmuteFleetNearCapacity.',
          unit: UNIT.fraction,
          queries: [{ expr: `${total('unmute_operator_sessions_active')}\n/\n${total('unmute_operator_sessions_capacity')}`, legend: 'in use' }],
        },
        {
          kind: 'stat',
          title: 'Backends draining',
          description: 'Backends out of rotation, waiting for their conversations to end.',
          unit: UNIT.count,
          queries: [{ expr: total('unmute_operator_draining_pods'), legend: 'draining' }],
        },
        {
          kind: 'stat',
          title: 'Autoscaler at its limit',
          description: 'The autoscaler wants more backends than maxReplicas or the GPU budget allow. Alert: UnmuteAutoscalerAtMax.',
          unit: UNIT.count,
          flag: { off: 'no', on: 'yes' },
          queries: [{ expr: total('unmute_operator_autoscaler_at_max', 'max'), legend: 'at max' }],
        },
        {
          kind: 'stat',
          title: 'GPUs requested',
          description: 'GPUs requested by every pod of the fleet (spec.gpu.maxTotal is the budget).',
          unit: UNIT.count,
          queries: [{ expr: total('unmute_operator_gpus_requested'), legend: 'requested' }],
        },
      ],
    },
    {
      title: 'Replicas',
      panels: [
        {
          kind: 'timeseries',
          title: 'Desired and ready replicas per tier',
          description: 'Replicas the operator wants and replicas ready, per component. A lasting gap is a tier that cannot start (GPUs, images, model download).',
          unit: UNIT.count,
          min: 0,
          queries: [
            { expr: by('component', 'unmute_operator_replicas_desired'), legend: '{{component}} desired' },
            { expr: by('component', 'unmute_operator_replicas_ready'), legend: '{{component}} ready' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Pending pods per tier',
          description: 'Pods not yet running, per component. GPU tiers stuck here lack a node with a free GPU. Alert: UnmuteGpuPodsPending.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: by('component', 'unmute_operator_pods_pending'), legend: '{{component}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Scale events',
          description: 'Replica changes the operator made, by component, direction and reason.',
          unit: UNIT.count,
          min: 0,
          bars: true,
          queries: [
            {
              expr: `sum by (component, direction, reason) (increase(${sel('unmute_operator_scale_events_total', OPERATOR)}[${RATE}]))`,
              legend: '{{component}} {{direction}} ({{reason}})',
            },
          ],
        },
        {
          kind: 'timeseries',
          title: 'GPUs requested and budget',
          description: 'GPUs requested per component against spec.gpu.maxTotal.',
          unit: UNIT.count,
          min: 0,
          queries: [
            { expr: by('component', 'unmute_operator_gpus_requested'), legend: '{{component}}' },
            { expr: total('unmute_operator_gpu_budget', 'max'), legend: 'budget' },
          ],
        },
      ],
    },
    {
      title: 'Sessions and drains',
      panels: [
        {
          kind: 'timeseries',
          title: 'Sessions and capacity',
          description:
            'Sessions the operator counted, session capacity of serving backends, and sessions Prometheus scraped (worker_active_sessions). The two session lines should agree.',
          unit: UNIT.count,
          min: 0,
          queries: [
            { expr: total('unmute_operator_sessions_active'), legend: 'sessions (operator)' },
            { expr: total('unmute_operator_sessions_capacity'), legend: 'capacity' },
            { expr: `sum(${sel('worker_active_sessions', workerMatchers(DASHBOARD_SCOPE, SESSIONS_COMPONENT))})`, legend: 'sessions (scraped)' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Free session slots in rotation',
          description:
            'Session slots free on backends in rotation (status.sessions.free): a new caller starts at once while above 0, and waits for a slot at 0. A full backend leaves rotation until one of its conversations ends; the autoscaler adds a backend when none is left (or fewer than headroomSessions), counting backends still starting.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: total('unmute_operator_sessions_free'), legend: 'free slots' }],
        },
        {
          kind: 'timeseries',
          title: 'Backends with unknown sessions',
          description: 'Backends whose session count the operator could not read. The autoscaler never scales down on unknown data.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: total('unmute_operator_sessions_unknown_pods', 'max'), legend: 'unknown' }],
        },
        {
          kind: 'timeseries',
          title: 'Draining backends',
          description: 'Backends out of rotation, waiting for their sessions to end before deletion.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: total('unmute_operator_draining_pods', 'max'), legend: 'draining' }],
        },
        {
          kind: 'timeseries',
          title: 'Drain age per backend',
          description: 'How long each draining backend has been out of rotation. Alert: UnmuteDrainStuck.',
          unit: UNIT.seconds,
          min: 0,
          queries: [{ expr: by('pod', 'unmute_operator_drain_duration_seconds'), legend: '{{pod}}' }],
        },
      ],
    },
  ],
};
