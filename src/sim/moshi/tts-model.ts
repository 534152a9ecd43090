// The simulated text-to-speech model of one stream (one moshi-server Py channel, or the in-process
// TTS of a standalone sim-worker). As moshi's TTS: words arrive as Text, end with Eos; audio comes
// as 80 ms frames (1920 samples at 24 kHz), the first one `ttftMs` after the first word (the model's
// text-only delay), and a word's frames are only generated once the next word (or Eos) is queued
// (lookahead); the Text message of a word (start_s, stop_s in seconds of this stream's audio) is
// sent when the next word starts, or at the end. When everything is generated after Eos, the
// channel is done and the server closes the websocket.

export const TTS_FRAME_SAMPLES = 1920;
export const TTS_FRAME_MS = 80;

export type TtsMessage =
  | { type: 'Ready' }
  | { type: 'Audio'; samples: number }
  | { type: 'Text'; text: string; start_s: number; stop_s: number }
  | { type: 'Error'; message: string };

export interface TtsModelConfig {
  /** Spoken length of one word. */
  msPerWord: number;
}

export class TtsChannel {
  readonly #cfg: TtsModelConfig;
  readonly #words: string[] = [];
  #eos = false;
  #framesDone = 0;
  /** Index of the word whose Text message is the next to send. */
  #textSent = 0;
  #firstTextAt: number | undefined;

  constructor(cfg: TtsModelConfig) {
    this.#cfg = cfg;
  }

  /** A Text message: split on whitespace as moshi does; empty text adds nothing. */
  text(s: string, now: number): void {
    const words = s.split(/\s+/).filter((w) => w !== '');
    if (words.length > 0 && this.#firstTextAt === undefined) this.#firstTextAt = now;
    this.#words.push(...words);
  }

  eos(): void {
    this.#eos = true;
  }

  get firstTextAt(): number | undefined {
    return this.#firstTextAt;
  }

  get framesDone(): number {
    return this.#framesDone;
  }

  /** Audio that may be generated now: the words with lookahead, all of them after Eos. */
  #generatableMs(): number {
    const n = this.#eos ? this.#words.length : Math.max(0, this.#words.length - 1);
    return n * this.#cfg.msPerWord;
  }

  /** True when Eos came and every frame and word has been sent. */
  get done(): boolean {
    return this.#eos && this.#framesDone * TTS_FRAME_MS >= this.#words.length * this.#cfg.msPerWord && this.#textSent >= this.#words.length;
  }

  /** Up to `maxFrames` frames that can be generated now, with the Text messages they complete. */
  generate(maxFrames: number): TtsMessage[] {
    const out: TtsMessage[] = [];
    const limit = this.#generatableMs();
    let frames = 0;
    while (frames < maxFrames && this.#framesDone * TTS_FRAME_MS < limit) {
      this.#framesDone++;
      frames++;
      out.push({ type: 'Audio', samples: TTS_FRAME_SAMPLES });
      this.#flushText(this.#framesDone * TTS_FRAME_MS);
    }
    // Text messages are interleaved where their word ended.
    return this.#interleave(out);
  }

  #pendingText: TtsMessage[] = [];

  #flushText(audioMs: number): void {
    const w = this.#cfg.msPerWord;
    while (this.#textSent < this.#words.length && (this.#textSent + 1) * w <= audioMs) {
      const i = this.#textSent++;
      this.#pendingText.push({ type: 'Text', text: this.#words[i]!, start_s: (i * w) / 1000, stop_s: ((i + 1) * w) / 1000 });
    }
  }

  #interleave(audio: TtsMessage[]): TtsMessage[] {
    if (this.#pendingText.length === 0) return audio;
    const out = [...audio, ...this.#pendingText];
    this.#pendingText = [];
    return out;
  }
}
