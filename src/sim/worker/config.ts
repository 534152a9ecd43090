// Configuration of a simulated Unmute backend. Defaults are Unmute's own constants where they
// exist (4 sessions, 80 ms frames, 7 s user-silence timeout, 3 s uninterruptible start) and
// plausible production figures otherwise (latency medians inside Unmute's histogram ranges).
import { z } from 'zod';
import { distributionSchema, type Distribution } from '../random.ts';

export interface HealthFlags {
  stt_up: boolean;
  tts_up: boolean;
  llm_up: boolean;
  voice_cloning_up: boolean;
}

export interface SimWorkerConfig {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Unmute's MAX_CLIENTS semaphore. */
  maxSessions: number;
  /** Word audio -> its transcription delta, rounded to 80 ms model steps (moshi's STT: 6 steps, 0.48 s). */
  sttDelayMs: Distribution;
  /** First audio sent to first STT step, only observed in worker_stt_ttft. */
  sttTtftMs: Distribution;
  /** response.created -> first LLM word (unmute.response.text.delta.ready); worker_vllm_ttft. */
  llmTtftMs: Distribution;
  /** First word sent to TTS -> first audio (response.audio.delta); worker_tts_ttft. */
  ttsTtftMs: Distribution;
  /** Time to reach one STT/TTS instance (worker_*_ping_time, worker_*_find_time). */
  servicePingMs: Distribution;
  /** LLM generation speed after the first word. */
  llmWordsPerSecond: number;
  /** Words per assistant reply. */
  replyWords: Distribution;
  /** Spoken duration of one word of the assistant's audio. */
  ttsMsPerWord: number;
  /** Voiced audio per transcribed user word. */
  userWordMs: number;
  /** Unvoiced audio after speech before the STT's pause prediction rises (rounded to 80 ms steps). */
  vadSilenceMs: number;
  /**
   * Decode the client's Opus and let the STT hear its energy (true, as Unmute), or skip the decoder
   * (cheap mode): a packet then counts as voiced when its payload reaches `voicedBytesPerFrame`,
   * which only holds for the simulator's own stand-in packets, not for a real encoder's.
   */
  decodeAudio: boolean;
  /** Cheap mode only: payload bytes per Opus frame from which a frame counts as voiced (stand-in silence has 2). */
  voicedBytesPerFrame: number;
  /** Fault: block the event loop this long at each new session (ms). */
  stallPerSessionMs: number;
  /** Fault: block the event loop `stallMs` every `stallEveryMs` (0 = never). */
  stallEveryMs: number;
  stallMs: number;
  /**
   * What a stall stops: the whole process (`process`, a worker with a process of its own) or only
   * this worker (`worker`, workers sharing a process: the fleet runner). See stall.ts.
   */
  stallScope: 'process' | 'worker';
  /** KYUTAI_LLM_MODEL; null: Unmute's autoselect_model() (a blocking models.list() until it succeeds). */
  llmModel: string | null;
  /** Unmute's USER_SILENCE_TIMEOUT: the bot speaks again after this much user silence (0 = never). */
  userSilenceTimeoutMs: number;
  /** Unmute's UNINTERRUPTIBLE_BY_VAD_TIME_SEC. */
  uninterruptibleMs: number;
  /** Send the assistant's audio as frames (true, as Unmute) or one tiny delta per reply (cheap mode). */
  audioFrames: boolean;
  /** Audio per response.audio.delta message when audioFrames is on (Unmute: 80 ms). */
  audioDeltaMs: number;
  /** unmute.additional_outputs cadence in received-audio time (Unmute: 1 s; 0 = never). */
  additionalOutputsMs: number;
  /** Simulate the assistant saying "bye!" after this many replies, closing with 1000 (0 = never). */
  goodbyeAfterReplies: number;
  /** Words counted for the system prompt in worker_vllm_sent_words / request_length. */
  systemPromptWords: number;
  /** Slots of the simulated STT/TTS servers behind this worker (null = unlimited). */
  sttSlots: number | null;
  ttsSlots: number | null;
  health: HealthFlags;
  perMessageDeflate: boolean;
  seed: number;
}

const ms = (median: number, sigma: number): Distribution => ({ kind: 'lognormal', median, sigma });

export const DEFAULT_SIM_WORKER_CONFIG: SimWorkerConfig = {
  host: '127.0.0.1',
  port: 0,
  maxSessions: 4,
  sttDelayMs: { kind: 'constant', value: 480 },
  sttTtftMs: ms(40, 0.3),
  llmTtftMs: ms(250, 0.3),
  ttsTtftMs: ms(320, 0.15),
  servicePingMs: ms(3, 0.5),
  llmWordsPerSecond: 40,
  replyWords: { kind: 'uniform', min: 8, max: 30 },
  ttsMsPerWord: 350,
  userWordMs: 400,
  vadSilenceMs: 480,
  decodeAudio: true,
  voicedBytesPerFrame: 8,
  stallPerSessionMs: 0,
  stallEveryMs: 0,
  stallMs: 0,
  stallScope: 'process',
  llmModel: null,
  userSilenceTimeoutMs: 7000,
  uninterruptibleMs: 3000,
  audioFrames: true,
  audioDeltaMs: 80,
  additionalOutputsMs: 1000,
  goodbyeAfterReplies: 0,
  systemPromptWords: 400,
  sttSlots: null,
  ttsSlots: null,
  health: { stt_up: true, tts_up: true, llm_up: true, voice_cloning_up: true },
  perMessageDeflate: false,
  seed: 1,
};

const positive = z.number().positive();
const nonNegative = z.number().nonnegative();

export const simWorkerConfigSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  maxSessions: z.number().int().positive(),
  sttDelayMs: distributionSchema,
  sttTtftMs: distributionSchema,
  llmTtftMs: distributionSchema,
  ttsTtftMs: distributionSchema,
  servicePingMs: distributionSchema,
  llmWordsPerSecond: positive,
  replyWords: distributionSchema,
  ttsMsPerWord: positive,
  userWordMs: positive,
  vadSilenceMs: nonNegative,
  decodeAudio: z.boolean(),
  voicedBytesPerFrame: nonNegative,
  stallPerSessionMs: nonNegative,
  stallEveryMs: nonNegative,
  stallMs: nonNegative,
  stallScope: z.enum(['process', 'worker']),
  llmModel: z.string().min(1).nullable(),
  userSilenceTimeoutMs: nonNegative,
  uninterruptibleMs: nonNegative,
  audioFrames: z.boolean(),
  audioDeltaMs: z.number().int().min(20).refine((v) => v % 20 === 0, 'must be a multiple of 20 (Opus frames are 20 ms)'),
  additionalOutputsMs: nonNegative,
  goodbyeAfterReplies: z.number().int().nonnegative(),
  systemPromptWords: z.number().int().nonnegative(),
  sttSlots: z.number().int().nonnegative().nullable(),
  ttsSlots: z.number().int().nonnegative().nullable(),
  health: z.object({ stt_up: z.boolean(), tts_up: z.boolean(), llm_up: z.boolean(), voice_cloning_up: z.boolean() }),
  perMessageDeflate: z.boolean(),
  seed: z.number().int(),
});

export type SimWorkerConfigInput = Partial<Omit<SimWorkerConfig, 'health'>> & { health?: Partial<HealthFlags> };

/** Merges a partial config over the defaults and validates it (throws with every problem listed). */
export function resolveSimWorkerConfig(input: SimWorkerConfigInput = {}): SimWorkerConfig {
  const merged = { ...DEFAULT_SIM_WORKER_CONFIG, ...input, health: { ...DEFAULT_SIM_WORKER_CONFIG.health, ...input.health } };
  const parsed = simWorkerConfigSchema.safeParse(merged);
  if (!parsed.success) {
    throw new Error(`invalid sim-worker config: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}
