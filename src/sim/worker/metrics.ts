// The whole `worker_*` family of Unmute's backend (unmute/metrics.py), same names, types, units
// (seconds) and buckets, in the same registration order. One registry per simulated worker so
// several workers can live in one process (fleet simulation). The exposition is the whole of the
// real backend's /metrics: the Python runtime's families first, then worker_*, then the HTTP
// instrumentator's (runtime-metrics.ts, http-metrics.ts).
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { PYTHON_EXPOSITION_CONTENT_TYPE, renderPythonExposition, unixSeconds } from './exposition.ts';
import { HttpMetrics } from './http-metrics.ts';
import { renderRuntimeFamilies, watchGc } from './runtime-metrics.ts';

const ms = (xs: number[]): number[] => xs.map((x) => x / 1000);

// Unmute writes these lists in ms in the source and divides by 1000 where noted.
export const SESSION_DURATION_BUCKETS = [1, 10, 30, 60, 120, 240, 480, 960, 1920];
export const TURN_DURATION_BUCKETS = [0.5, 1, 5, 10, 20, 40, 60];
export const GENERATION_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20];
export const PING_BUCKETS = ms([1, 5, 10, 25, 50, 100, 200]);
export const STT_TTFT_BUCKETS = ms([10, 15, 25, 50, 75, 100]);
export const TTS_TTFT_BUCKETS = ms([200, 250, 300, 350, 400, 450, 500, 550]);
export const VLLM_TTFT_BUCKETS = ms([50, 75, 100, 150, 200, 250, 300, 400, 500, 750, 1000]);
export const REQUEST_WORDS_BUCKETS = [50, 100, 200, 500, 1000, 2000, 4000, 6000, 8000];
export const STT_WORDS_BUCKETS = [0, 50, 100, 200, 500, 1000, 2000, 4000];
export const REPLY_WORDS_BUCKETS = [5, 10, 25, 50, 100, 200];

export class WorkerMetrics {
  readonly registry = new Registry();
  /** When the worker's process started (process_start_time_seconds). */
  readonly createdSeconds = unixSeconds();
  /** Each metric's creation time by base name (Python's `_created`), microseconds apart as there. */
  readonly #created = new Map<string, number>();

  // Names are the exposed ones; counters carry `_total` as Python appends it.
  readonly sessions = this.counter('worker_sessions_total');
  readonly serviceMisses = this.counter('worker_service_misses_total');
  readonly hardServiceMisses = this.counter('worker_hard_service_misses_total');
  readonly forceDisconnects = this.counter('worker_force_disconnects_total');
  readonly fatalServiceMisses = this.counter('worker_fatal_service_misses_total');
  readonly hardErrors = this.counter('worker_hard_errors_total');
  readonly activeSessions = this.gauge('worker_active_sessions');
  readonly sessionDuration = this.histogram('worker_session_duration', SESSION_DURATION_BUCKETS);
  readonly healthOk = this.track('worker_health_ok', new Summary({ name: 'worker_health_ok', help: 'health evaluations (0/1)', percentiles: [], registers: [this.registry] }));

  readonly sttSessions = this.counter('worker_stt_sessions_total'); // defined, never incremented (as in Unmute)
  readonly sttActiveSessions = this.gauge('worker_stt_active_sessions');
  readonly sttMisses = this.counter('worker_stt_misses_total');
  readonly sttHardMisses = this.counter('worker_stt_hard_misses_total');
  readonly sttSentFrames = this.counter('worker_stt_sent_frames_total');
  readonly sttRecvFrames = this.counter('worker_stt_recv_frames_total');
  readonly sttRecvWords = this.counter('worker_stt_recv_words_total');
  readonly sttPingTime = this.histogram('worker_stt_ping_time', PING_BUCKETS);
  readonly sttFindTime = this.histogram('worker_stt_find_time', PING_BUCKETS);
  readonly sttSessionDuration = this.histogram('worker_stt_session_duration', SESSION_DURATION_BUCKETS);
  readonly sttAudioDuration = this.histogram('worker_stt_audio_duration', SESSION_DURATION_BUCKETS);
  readonly sttNumWords = this.histogram('worker_stt_num_words', STT_WORDS_BUCKETS);
  readonly sttTtft = this.histogram('worker_stt_ttft', STT_TTFT_BUCKETS);

  readonly ttsSessions = this.counter('worker_tts_sessions_total');
  readonly ttsActiveSessions = this.gauge('worker_tts_active_sessions');
  readonly ttsMisses = this.counter('worker_tts_misses_total');
  readonly ttsHardMisses = this.counter('worker_hard_tts_misses_total'); // Unmute's irregular name
  readonly ttsInterrupt = this.counter('worker_tts_interrupt_total'); // defined, never incremented
  readonly ttsSentFrames = this.counter('worker_tts_sent_frames_total');
  readonly ttsRecvFrames = this.counter('worker_tts_recv_frames_total');
  readonly ttsRecvWords = this.counter('worker_tts_recv_words_total');
  readonly ttsPingTime = this.histogram('worker_tts_ping_time', PING_BUCKETS);
  readonly ttsFindTime = this.histogram('worker_tts_find_time', PING_BUCKETS);
  readonly ttsTtft = this.histogram('worker_tts_ttft', TTS_TTFT_BUCKETS);
  readonly ttsAudioDuration = this.histogram('worker_tts_audio_duration', TURN_DURATION_BUCKETS);
  readonly ttsGenDuration = this.histogram('worker_tts_gen_duration', GENERATION_DURATION_BUCKETS);

  readonly vllmSessions = this.counter('worker_vllm_sessions_total'); // defined, never incremented
  readonly vllmActiveSessions = this.gauge('worker_vllm_active_sessions');
  readonly vllmInterrupt = this.counter('worker_vllm_interrupt_total');
  readonly vllmHardErrors = this.counter('worker_vllm_hard_errors_total');
  readonly vllmSentWords = this.counter('worker_vllm_sent_words_total');
  readonly vllmRecvWords = this.counter('worker_vllm_recv_words_total');
  readonly vllmTtft = this.histogram('worker_vllm_ttft', VLLM_TTFT_BUCKETS);
  readonly vllmRequestLength = this.histogram('worker_vllm_request_length', REQUEST_WORDS_BUCKETS);
  readonly vllmReplyLength = this.histogram('worker_vllm_reply_length', REPLY_WORDS_BUCKETS);
  readonly vllmGenDuration = this.histogram('worker_vllm_gen_duration', GENERATION_DURATION_BUCKETS);

  readonly voiceDonationSubmissions = this.counter('worker_voice_donation_submissions_total');

  /** The HTTP instrumentator's families, fed by the server's routes. */
  readonly http = new HttpMetrics();

  constructor() {
    watchGc();
  }

  private track<T>(baseName: string, metric: T): T {
    this.#created.set(baseName, unixSeconds());
    return metric;
  }

  private counter(name: string): Counter {
    return this.track(name.replace(/_total$/, ''), new Counter({ name, help: name, registers: [this.registry] }));
  }

  private gauge(name: string): Gauge {
    return new Gauge({ name, help: name, registers: [this.registry] });
  }

  private histogram(name: string, buckets: number[]): Histogram {
    return this.track(name, new Histogram({ name, help: name, buckets, registers: [this.registry] }));
  }

  /** The `/metrics` body, formatted as Unmute's Python exporter writes it, in the real backend's order. */
  async exposition(): Promise<string> {
    const worker = renderPythonExposition(await this.registry.getMetricsAsJSON(), (base) => this.#created.get(base) ?? this.createdSeconds);
    return renderRuntimeFamilies(this.createdSeconds) + worker + this.http.render();
  }

  readonly contentType = PYTHON_EXPOSITION_CONTENT_TYPE;
}
