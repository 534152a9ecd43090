// Service health: can the backends find free STT/TTS slots, are the services up, how full are they.
import { RECORDED } from '../rules/recording.ts';
import { sel } from '../promql.ts';
import { BACKEND, FLEET, component, rateSum } from './queries.ts';
import { UNIT, type DashboardSpec } from './spec.ts';

export const serviceHealth: DashboardSpec = {
  key: 'service-health',
  title: 'Service health',
  description: 'Capacity misses, open streams and health of STT, TTS and the LLM as the backends see them.',
  variables: 'unmute',
  rows: [
    {
      title: 'Capacity misses',
      panels: [
        {
          kind: 'timeseries',
          title: 'STT misses per second',
          description: 'Searches where every STT instance was full (worker_stt_misses) or failed with another error (worker_stt_hard_misses). Alert: UnmuteCapacityMisses.',
          unit: UNIT.perSecond,
          min: 0,
          w: 8,
          queries: [
            { expr: rateSum('worker_stt_misses_total'), legend: 'full' },
            { expr: rateSum('worker_stt_hard_misses_total'), legend: 'error' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'TTS misses per second',
          description: 'Searches where every TTS instance was full (worker_tts_misses) or failed with another error (worker_hard_tts_misses).',
          unit: UNIT.perSecond,
          min: 0,
          w: 8,
          queries: [
            { expr: rateSum('worker_tts_misses_total'), legend: 'full' },
            { expr: rateSum('worker_hard_tts_misses_total'), legend: 'error' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Sessions lost to a full service',
          description: 'All services tried and none free (worker_service_misses) and sessions killed for it (worker_fatal_service_misses). Alert: UnmuteServiceUnavailable.',
          unit: UNIT.perSecond,
          min: 0,
          w: 8,
          queries: [
            { expr: rateSum('worker_service_misses_total'), legend: 'service misses' },
            { expr: rateSum('worker_hard_service_misses_total'), legend: 'hard service misses' },
            { expr: rateSum('worker_fatal_service_misses_total'), legend: 'sessions killed' },
          ],
        },
      ],
    },
    {
      title: 'Open streams',
      panels: [
        {
          kind: 'timeseries',
          title: 'Open STT, TTS and LLM streams',
          description: 'Streams the backends hold open right now (worker_stt_active_sessions, worker_tts_active_sessions, worker_vllm_active_sessions).',
          unit: UNIT.count,
          min: 0,
          queries: [
            { expr: `sum(${sel('worker_stt_active_sessions', BACKEND)})`, legend: 'stt' },
            { expr: `sum(${sel('worker_tts_active_sessions', BACKEND)})`, legend: 'tts' },
            { expr: `sum(${sel('worker_vllm_active_sessions', BACKEND)})`, legend: 'llm' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'moshi-server open channels per pod',
          description: 'Streams each STT/TTS server holds (asr_open_channels, py_open_channels); at stt/tts.slotsPerReplica it refuses new ones.',
          unit: UNIT.count,
          min: 0,
          queries: [
            { expr: `sum by (pod) (${sel('asr_open_channels', component('stt'))})`, legend: 'stt {{pod}}' },
            { expr: `sum by (pod) (${sel('py_open_channels', component('tts'))})`, legend: 'tts {{pod}}' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'vLLM requests running and waiting',
          description: 'Requests the in-cluster vLLM runs and queues (empty with an external LLM).',
          unit: UNIT.count,
          min: 0,
          queries: [
            { expr: `sum(${sel('vllm:num_requests_running', component('llm'))})`, legend: 'running' },
            { expr: `sum(${sel('vllm:num_requests_waiting', component('llm'))})`, legend: 'waiting' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'vLLM KV cache usage per pod',
          description: 'Fraction of the KV cache in use on each vLLM pod; near 1 requests start to queue.',
          unit: UNIT.fraction,
          min: 0,
          max: 1,
          queries: [{ expr: `max by (pod) (${sel('vllm:kv_cache_usage_perc', component('llm'))})`, legend: '{{pod}}' }],
        },
      ],
    },
    {
      title: 'Health',
      panels: [
        {
          kind: 'timeseries',
          title: 'Backend health checks ok',
          description: 'Share of /v1/health evaluations that were ok on each backend (worker_health_ok sum/count). Alert: UnmuteBackendUnhealthy.',
          unit: UNIT.fraction,
          min: 0,
          max: 1,
          queries: [{ expr: sel(RECORDED.healthOkRatio, FLEET), legend: '{{pod}}' }],
        },
        {
          kind: 'timeseries',
          title: 'LLM errors per second',
          description: 'LLM requests that failed for another reason than a user interruption (worker_vllm_hard_errors).',
          unit: UNIT.perSecond,
          min: 0,
          queries: [{ expr: rateSum('worker_vllm_hard_errors_total'), legend: 'errors' }],
        },
        {
          kind: 'timeseries',
          title: 'Scrape targets up',
          description: 'Pods of each component whose /metrics answered (up). Alert: UnmuteTargetDown.',
          unit: UNIT.count,
          min: 0,
          queries: [{ expr: `sum by (unmute_sh_component) (${sel('up', FLEET)})`, legend: '{{unmute_sh_component}}' }],
        },
      ],
    },
  ],
};
