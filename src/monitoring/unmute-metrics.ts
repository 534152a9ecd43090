// Facts about the metrics Unmute exposes that the expressions depend on (see unmute-reference.md).
// Bucket bounds matter: latency alerts compare against a bucket's `le`, never an arbitrary number.

/** worker_tts_ttft buckets, seconds: nothing slower than 0.55 s can be told apart. */
export const TTS_TTFT_BUCKETS = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55] as const;
/** worker_stt_ttft buckets, seconds. */
export const STT_TTFT_BUCKETS = [0.01, 0.015, 0.025, 0.05, 0.075, 0.1] as const;
/** worker_vllm_ttft buckets, seconds. */
export const VLLM_TTFT_BUCKETS = [0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0] as const;
/** worker_stt_ping_time / find_time and the TTS equivalents, seconds. */
export const PING_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2] as const;
/** worker_session_duration, worker_stt_session_duration, worker_stt_audio_duration, seconds. */
export const SESSION_BUCKETS = [1, 10, 30, 60, 120, 240, 480, 960, 1920] as const;
/** worker_tts_audio_duration, seconds. */
export const TTS_AUDIO_BUCKETS = [0.5, 1, 5, 10, 20, 40, 60] as const;
/** worker_tts_gen_duration and worker_vllm_gen_duration, seconds. */
export const GENERATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20] as const;
/** worker_stt_num_words, words. */
export const STT_WORDS_BUCKETS = [0, 50, 100, 200, 500, 1000, 2000, 4000] as const;
/** worker_vllm_request_length, words. */
export const REQUEST_LENGTH_BUCKETS = [50, 100, 200, 500, 1000, 2000, 4000, 6000, 8000] as const;
/** worker_vllm_reply_length, words. */
export const REPLY_LENGTH_BUCKETS = [5, 10, 25, 50, 100, 200] as const;

/** Metrics path of every scraped component (backend, moshi-server, vLLM). */
export const METRICS_PATH = '/metrics';
