// The simulated speech-to-text model of one stream (one moshi-server BatchedAsr channel, or the
// in-process STT of a standalone sim-worker). It hears what a real one hears: PCM at 24 kHz,
// consumed in 1920-sample frames (80 ms, one model step each), and it decides speech by energy
// over time as a VAD would:
// - a frame is voiced when its RMS exceeds `rmsThreshold` (decoded silence from a real encoder
//   is ~1e-5, speech ~0.05-0.2);
// - speech starts at a voiced frame and lasts until `hangoverSteps` unvoiced frames in a row;
// - while speaking, the pause probability (prs[2], what Unmute reads) is 0; otherwise 1;
// - words: one per `wordSteps` voiced frames, each emitted `delaySteps` steps after its audio
//   (moshi's asr_delay_in_tokens = 6: 0.48 s). The stream's very first message is an empty word,
//   and it comes when speech first starts (with the same delay), never in silence: Unmute forwards
//   it as a transcription delta, which its own load-test client only tolerates once the user speaks.
// Times (start_time) are seconds of this stream's audio, as moshi reports them.
import type { Rng } from '../random.ts';

export const ASR_FRAME_SAMPLES = 1920;
export const ASR_FRAME_S = 0.08;

export type AsrMessage =
  | { type: 'Ready' }
  | { type: 'Step'; step_idx: number; prs: [number, number, number, number]; buffered_pcm: number }
  | { type: 'Word'; text: string; start_time: number }
  | { type: 'EndWord'; stop_time: number }
  | { type: 'Marker'; id: number }
  | { type: 'Error'; message: string };

export interface AsrModelConfig {
  rmsThreshold: number;
  hangoverSteps: number;
  wordSteps: number;
  delaySteps: number;
}

export const DEFAULT_ASR_MODEL: AsrModelConfig = { rmsThreshold: 0.01, hangoverSteps: 6, wordSteps: 5, delaySteps: 6 };

const VOCABULARY = [
  'hello', 'yes', 'I', 'would', 'like', 'to', 'talk', 'about', 'the', 'weather', 'today', 'and', 'maybe', 'music',
  'what', 'do', 'you', 'think', 'of', 'cats', 'or', 'dogs', 'really', 'that', 'is', 'nice', 'tell', 'me', 'more',
];

export class AsrChannel {
  readonly #cfg: AsrModelConfig;
  readonly #rng: Rng;
  /** Energy accumulator of the frame being filled. */
  #sumSq = 0;
  #filled = 0;
  /** Complete frames not yet stepped: their RMS. */
  readonly #frames: number[] = [];
  #steps = 0;
  #speaking = false;
  #silentRun = 0;
  #voicedInUtterance = 0;
  #sentEmpty = false;
  #pending: Array<{ at: number; msg: AsrMessage }> = [];

  constructor(cfg: AsrModelConfig, rng: Rng) {
    this.#cfg = cfg;
    this.#rng = rng;
  }

  /** Buffers PCM (any length); whole frames become steps. */
  push(pcm: Float32Array | readonly number[]): void {
    for (let i = 0; i < pcm.length; i++) {
      const x = pcm[i]!;
      this.#sumSq += x * x;
      if (++this.#filled === ASR_FRAME_SAMPLES) {
        this.#frames.push(Math.sqrt(this.#sumSq / ASR_FRAME_SAMPLES));
        this.#sumSq = 0;
        this.#filled = 0;
      }
    }
  }

  /** Pushes `samples` of audio whose energy is known without the samples (cheap mode). */
  pushLevel(samples: number, level: number): void {
    let left = samples;
    while (left > 0) {
      const take = Math.min(left, ASR_FRAME_SAMPLES - this.#filled);
      this.#sumSq += level * level * take;
      this.#filled += take;
      left -= take;
      if (this.#filled === ASR_FRAME_SAMPLES) {
        this.#frames.push(Math.sqrt(this.#sumSq / ASR_FRAME_SAMPLES));
        this.#sumSq = 0;
        this.#filled = 0;
      }
    }
  }

  get framesReady(): number {
    return this.#frames.length;
  }

  get bufferedSamples(): number {
    return this.#frames.length * ASR_FRAME_SAMPLES + this.#filled;
  }

  get stepsDone(): number {
    return this.#steps;
  }

  /** One model step on the oldest buffered frame; returns what the channel sends for it. */
  step(stepIdx: number): AsrMessage[] {
    const level = this.#frames.shift();
    if (level === undefined) return [];
    const cfg = this.#cfg;
    const s = this.#steps++;
    const out: AsrMessage[] = [];
    const voiced = level > cfg.rmsThreshold;
    if (voiced) {
      this.#silentRun = 0;
      if (!this.#speaking) {
        this.#speaking = true;
        this.#voicedInUtterance = 0;
        if (!this.#sentEmpty) {
          this.#sentEmpty = true;
          this.#pending.push({ at: s + cfg.delaySteps, msg: { type: 'Word', text: '', start_time: s * ASR_FRAME_S } });
        }
      }
      if (this.#voicedInUtterance % cfg.wordSteps === 0) {
        const text = VOCABULARY[Math.floor(this.#rng() * VOCABULARY.length)]!;
        this.#pending.push({ at: s + cfg.delaySteps, msg: { type: 'Word', text, start_time: s * ASR_FRAME_S } });
      }
      this.#voicedInUtterance++;
    } else if (this.#speaking && ++this.#silentRun >= cfg.hangoverSteps) {
      this.#speaking = false;
      // Queued behind the utterance's last word (every entry is due `delaySteps` after its audio).
      this.#pending.push({ at: s + cfg.delaySteps, msg: { type: 'EndWord', stop_time: (s - cfg.hangoverSteps + 1) * ASR_FRAME_S } });
    }
    const p = this.#speaking ? 0 : 1;
    out.push({ type: 'Step', step_idx: stepIdx, prs: [p, p, p, p], buffered_pcm: this.bufferedSamples });
    while (this.#pending.length > 0 && this.#pending[0]!.at <= s) out.push(this.#pending.shift()!.msg);
    return out;
  }
}
