// Latency: time to first token/audio of each stage, as quantiles merged across pods, plus the
// share of requests beyond the highest bucket (where a quantile can no longer tell).
import { RECORDED, type LatencyHistogram } from '../rules/recording.ts';
import { leMatcher, sel } from '../promql.ts';
import { TTS_TTFT_BUCKETS, VLLM_TTFT_BUCKETS } from '../unmute-metrics.ts';
import { BACKEND, FLEET, mean, quantile } from './queries.ts';
import { RATE, UNIT, type DashboardSpec, type PanelSpec } from './spec.ts';

function quantiles(h: LatencyHistogram, title: string, description: string): PanelSpec {
  return {
    kind: 'timeseries',
    title,
    description: `${description} p50 and p95 over every backend (recorded from ${h}, 5-minute window).`,
    unit: UNIT.seconds,
    min: 0,
    queries: [
      { expr: sel(RECORDED.p50(h), FLEET), legend: 'p50' },
      { expr: sel(RECORDED.p95(h), FLEET), legend: 'p95' },
    ],
  };
}

/** Share of observations above the histogram's highest finite bucket. */
function beyondTopBucket(histogram: string, top: number): string {
  const bucket = (le: string) => `sum(rate(${sel(`${histogram}_bucket`, BACKEND, le)}[${RATE}]))`;
  return `1 - (\n${bucket(leMatcher(top))}\n/\n${bucket('le="+Inf"')}\n)`;
}

const ttsTop = TTS_TTFT_BUCKETS[TTS_TTFT_BUCKETS.length - 1] ?? 0.55;
const llmTop = VLLM_TTFT_BUCKETS[VLLM_TTFT_BUCKETS.length - 1] ?? 1;

export const latency: DashboardSpec = {
  key: 'latency',
  title: 'Latency',
  description: 'How long each stage of a conversation turn takes: STT, LLM and TTS time to first result.',
  variables: 'unmute',
  rows: [
    {
      title: 'Time to first result',
      panels: [
        {
          ...quantiles('worker_stt_ttft', 'STT time to first word', 'From the first audio sent to STT to its first step back.'),
          queries: [
            { expr: sel(RECORDED.p50('worker_stt_ttft'), FLEET), legend: 'p50' },
            { expr: sel(RECORDED.p95('worker_stt_ttft'), FLEET), legend: 'p95' },
            { expr: mean('worker_stt_ttft'), legend: 'mean' },
          ],
        },
        quantiles('worker_vllm_ttft', 'LLM time to first token', 'From the request to the LLM to its first token, as the backend sees it.'),
        quantiles('worker_tts_ttft', 'TTS time to first audio', 'From the first text sent to TTS to its first audio.'),
        {
          kind: 'timeseries',
          title: 'TTS p95 per backend',
          description: 'p95 TTS time to first audio of each backend: one slow pod stands out here, not in the fleet p95.',
          unit: UNIT.seconds,
          min: 0,
          queries: [{ expr: quantile(0.95, 'worker_tts_ttft', BACKEND, 'pod'), legend: '{{pod}}' }],
        },
      ],
    },
    {
      title: 'Beyond the histogram',
      panels: [
        {
          kind: 'timeseries',
          title: `TTS replies slower than ${ttsTop} s`,
          description: `Share of TTS first-audio times above ${ttsTop} s, the highest bucket of worker_tts_ttft. A p95 cannot exceed ${ttsTop} s; this share can. Alert: UnmuteHighTtsLatency.`,
          unit: UNIT.fraction,
          min: 0,
          queries: [{ expr: beyondTopBucket('worker_tts_ttft', ttsTop), legend: `> ${ttsTop} s` }],
        },
        {
          kind: 'timeseries',
          title: `LLM requests slower than ${llmTop} s`,
          description: `Share of LLM first-token times above ${llmTop} s, the highest bucket of worker_vllm_ttft. Alert: UnmuteHighLlmLatency.`,
          unit: UNIT.fraction,
          min: 0,
          queries: [{ expr: beyondTopBucket('worker_vllm_ttft', llmTop), legend: `> ${llmTop} s` }],
        },
      ],
    },
    {
      title: 'Finding an instance and generating',
      panels: [
        {
          kind: 'timeseries',
          title: 'Time to find a free STT/TTS instance (p95)',
          description: 'Total time the backend spends finding an instance with a free slot (worker_*_find_time), retries included.',
          unit: UNIT.seconds,
          min: 0,
          queries: [
            { expr: quantile(0.95, 'worker_stt_find_time'), legend: 'stt' },
            { expr: quantile(0.95, 'worker_tts_find_time'), legend: 'tts' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'STT/TTS instance answer time (p95)',
          description: 'How long one instance takes to answer the backend (worker_*_ping_time).',
          unit: UNIT.seconds,
          min: 0,
          queries: [
            { expr: quantile(0.95, 'worker_stt_ping_time'), legend: 'stt' },
            { expr: quantile(0.95, 'worker_tts_ping_time'), legend: 'tts' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Generation time per reply (mean)',
          description: 'Mean time the LLM and TTS spend generating one reply (worker_vllm_gen_duration, worker_tts_gen_duration).',
          unit: UNIT.seconds,
          min: 0,
          queries: [
            { expr: mean('worker_vllm_gen_duration'), legend: 'llm' },
            { expr: mean('worker_tts_gen_duration'), legend: 'tts' },
          ],
        },
      ],
    },
  ],
};
