// Facts about the metrics Unmute exposes that the expressions depend on (see docs/unmute.md;
// test/fixtures/unmute-metric-names.json lists every family and a test keeps the two in step).
// Bucket bounds matter: latency alerts compare against a bucket's `le`, never an arbitrary number.

/** worker_tts_ttft buckets, seconds: nothing slower than 0.55 s can be told apart. */
export const TTS_TTFT_BUCKETS = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55] as const;
/** worker_vllm_ttft buckets, seconds. */
export const VLLM_TTFT_BUCKETS = [0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0] as const;
