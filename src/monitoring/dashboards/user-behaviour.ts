// User behaviour: how long people talk, how often they interrupt, how long prompts and replies are.
import { sel } from '../promql.ts';
import { BACKEND, mean, quantile, rateSum } from './queries.ts';
import { UNIT, type DashboardSpec } from './spec.ts';

export const userBehaviour: DashboardSpec = {
  key: 'user-behaviour',
  title: 'User behaviour',
  description: 'Conversation length, interruptions, and the size of what users say and hear.',
  variables: 'unmute',
  rows: [
    {
      title: 'Conversations',
      panels: [
        {
          kind: 'timeseries',
          title: 'Session duration',
          description: 'Length of the conversations that ended in the window, waiting time included (worker_session_duration).',
          unit: UNIT.seconds,
          min: 0,
          queries: [
            { expr: mean('worker_session_duration'), legend: 'mean' },
            { expr: quantile(0.5, 'worker_session_duration'), legend: 'p50' },
            { expr: quantile(0.95, 'worker_session_duration'), legend: 'p95' },
          ],
        },
        {
          kind: 'timeseries',
          title: 'Interruptions per assistant reply',
          description:
            'Replies the user cut off (worker_vllm_interrupt) over replies started (worker_tts_sessions). worker_tts_interrupt, used by the original guide, is never incremented by Unmute.',
          unit: UNIT.fraction,
          min: 0,
          queries: [{ expr: `${rateSum('worker_vllm_interrupt_total')}\n/\n${rateSum('worker_tts_sessions_total')}`, legend: 'interrupted' }],
        },
        {
          kind: 'timeseries',
          title: 'Interruptions per second',
          description: 'Replies cut off by the user (worker_vllm_interrupt).',
          unit: UNIT.perSecond,
          min: 0,
          queries: [{ expr: rateSum('worker_vllm_interrupt_total'), legend: 'interruptions' }],
        },
        {
          kind: 'stat',
          title: 'Voice donations',
          description: 'Voice donation submissions in the selected time range (worker_voice_donation_submissions).',
          unit: UNIT.count,
          queries: [{ expr: `sum(increase(${sel('worker_voice_donation_submissions_total', BACKEND)}[$__range]))`, legend: 'donations' }],
        },
      ],
    },
    {
      title: 'What is said',
      panels: [
        {
          kind: 'timeseries',
          title: 'LLM request length (mean)',
          description: 'Words in each prompt sent to the LLM, conversation history included (worker_vllm_request_length).',
          unit: UNIT.words,
          min: 0,
          queries: [{ expr: mean('worker_vllm_request_length'), legend: 'request' }],
        },
        {
          kind: 'timeseries',
          title: 'LLM reply length (mean)',
          description: 'Words in each assistant reply (worker_vllm_reply_length).',
          unit: UNIT.words,
          min: 0,
          queries: [{ expr: mean('worker_vllm_reply_length'), legend: 'reply' }],
        },
        {
          kind: 'timeseries',
          title: 'Words heard per STT stream (mean)',
          description: 'Words STT recognised per stream (worker_stt_num_words).',
          unit: UNIT.words,
          min: 0,
          queries: [{ expr: mean('worker_stt_num_words'), legend: 'words' }],
        },
        {
          kind: 'timeseries',
          title: 'Speech per reply (mean)',
          description: 'Seconds of audio TTS generated per assistant reply (worker_tts_audio_duration).',
          unit: UNIT.seconds,
          min: 0,
          queries: [{ expr: mean('worker_tts_audio_duration'), legend: 'audio' }],
        },
      ],
    },
  ],
};
