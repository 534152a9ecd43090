// System overview: how many conversations run, how many start, how many fail.
import { RECORDED } from '../rules/recording.ts';
import { sel } from '../promql.ts';
import { BACKEND, FLEET, rateSum } from './queries.ts';
import { UNIT, type DashboardSpec } from './spec.ts';

export const overview: DashboardSpec = {
  key: 'overview',
  title: 'System overview',
  description: 'Sessions running, starting and failing across one Unmute fleet.',
  variables: 'unmute',
  rows: [
    {
      title: 'Now',
      panels: [
        {
          kind: 'stat',
          title: 'Active sessions',
          description: 'Running plus waiting conversations over every backend (worker_active_sessions).',
          unit: UNIT.count,
          queries: [{ expr: sel(RECORDED.activeSessions, FLEET), legend: 'sessions' }],
        },
        {
          kind: 'stat',
          title: 'Sessions started',
          description: 'New conversations per second, 5-minute rate (worker_sessions).',
          unit: UNIT.perSecond,
          queries: [{ expr: sel(RECORDED.sessionsRate, FLEET), legend: 'started' }],
        },
        {
          kind: 'stat',
          title: 'Session errors',
          description: 'Unexpected errors inside sessions per second, 5-minute rate (worker_hard_errors). Alert: UnmuteHighErrorRate.',
          unit: UNIT.perSecond,
          queries: [{ expr: sel(RECORDED.hardErrorsRate, FLEET), legend: 'errors' }],
        },
        {
          kind: 'stat',
          title: 'Backends scraped',
          description: 'Backend pods whose /metrics answered the last scrape, draining ones included (up).',
          unit: UNIT.count,
          queries: [{ expr: `sum(${sel('up', BACKEND)})`, legend: 'up' }],
        },
      ],
    },
    {
      title: 'Sessions',
      panels: [
        {
          kind: 'timeseries',
          title: 'Active sessions per backend',
          description:
            'Running plus waiting conversations on each backend. Above backend.maxSessionsPerPod (4 by default) clients wait, un-accepted.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: `sum by (pod) (${sel('worker_active_sessions', BACKEND)})`, legend: '{{pod}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Active sessions, fleet',
          description: 'All conversations of the fleet (recorded: unmute_fleet:worker_active_sessions:sum).',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: sel(RECORDED.activeSessions, FLEET), legend: 'sessions' }],
        },
        {
          kind: 'timeseries',
          title: 'Sessions started per second',
          description: 'New websocket connections to /v1/realtime per backend (worker_sessions).',
          unit: UNIT.perSecond,
          min: 0,
          queries: [{ expr: rateSum('worker_sessions_total', BACKEND, 'pod'), legend: '{{pod}}' }],
        },
        {
          kind: 'timeseries',
          title: 'Failures per second',
          description:
            'Unexpected session errors (worker_hard_errors), sessions closed by the server with an error (worker_force_disconnects) and sessions killed because STT/TTS were full (worker_fatal_service_misses).',
          unit: UNIT.perSecond,
          min: 0,
          queries: [
            { expr: rateSum('worker_hard_errors_total'), legend: 'hard errors' },
            { expr: rateSum('worker_force_disconnects_total'), legend: 'force disconnects' },
            { expr: rateSum('worker_fatal_service_misses_total'), legend: 'fatal service misses' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Scrape targets up by component',
          description: 'Pods of each component whose /metrics answered (up). A drop without a scale-down is an outage or a broken scrape.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: `sum by (unmute_sh_component) (${sel('up', FLEET)})`, legend: '{{unmute_sh_component}}' }],
        },
      ],
    },
  ],
};
