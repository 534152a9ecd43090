// The STT, TTS and LLM of a standalone sim-worker (no STT/TTS/LLM servers given): the same
// models as the simulated moshi-server and vLLM, called in-process. Slots come from ServicePools
// (shared by in-process workers to model one server behind several backends); health flags and
// the at-capacity faults make them fail the way the real ones fail.
import { performance } from 'node:perf_hooks';
import { AsrChannel, DEFAULT_ASR_MODEL, type AsrMessage, type AsrModelConfig } from '../moshi/asr-model.ts';
import { TtsChannel, type TtsMessage } from '../moshi/tts-model.ts';
import { sample, type Rng } from '../random.ts';
import type { SimWorkerConfig } from './config.ts';
import { MissingServiceAtCapacity, ServiceHardError, type ChatRequest, type InstanceAttempt, type LlmClient, type SttAudio, type SttLink, type TtsLink } from './links.ts';
import type { ServicePool } from './service-pool.ts';
import { blockEventLoop } from './stall.ts';

/** ms of simulated model time before an in-process stream answers Ready. */
const pingDelay = (cfg: SimWorkerConfig, rng: Rng): number => sample(cfg.servicePingMs, rng);

export function asrModelOf(cfg: SimWorkerConfig, rng: Rng): AsrModelConfig {
  return {
    ...DEFAULT_ASR_MODEL,
    delaySteps: Math.max(1, Math.round(sample(cfg.sttDelayMs, rng) / 80)),
    wordSteps: Math.max(1, Math.round(cfg.userWordMs / 80)),
    hangoverSteps: Math.max(1, Math.round(cfg.vadSilenceMs / 80)),
  };
}

class InProcessStt implements SttLink {
  onMessage: (m: AsrMessage) => void = () => {};
  onClosed: () => void = () => {};
  readonly #channel: AsrChannel;
  readonly #pool: ServicePool;
  #closed = false;
  #step = 0;
  #queued: AsrMessage[] = [];
  #flushScheduled = false;

  constructor(pool: ServicePool, model: AsrModelConfig, rng: Rng) {
    this.#pool = pool;
    this.#channel = new AsrChannel(model, rng);
  }

  sendAudio(audio: SttAudio): void {
    if (this.#closed) throw new ServiceHardError('STT stream closed');
    if ('pcm' in audio) this.#channel.push(audio.pcm);
    else for (const p of audio.packets) this.#channel.pushLevel(p.samples, p.level);
    while (this.#channel.framesReady > 0) for (const m of this.#channel.step(this.#step++)) this.#queued.push(m);
    // Delivered after the caller's turn, as the messages of a real stream are.
    if (!this.#flushScheduled && this.#queued.length > 0) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        const q = this.#queued;
        this.#queued = [];
        for (const m of q) if (!this.#closed) this.onMessage(m);
      });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.release();
  }
}

class InProcessTts implements TtsLink {
  onMessage: (m: TtsMessage) => void = () => {};
  onClosed: (error: boolean) => void = () => {};
  readonly #channel: TtsChannel;
  readonly #pool: ServicePool;
  readonly #ttftMs: number;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(pool: ServicePool, msPerWord: number, ttftMs: number) {
    this.#pool = pool;
    this.#channel = new TtsChannel({ msPerWord });
    this.#ttftMs = ttftMs;
  }

  send(text: string): void {
    if (this.#closed) return;
    this.#channel.text(text, performance.now());
    this.#pump();
  }

  eos(): void {
    if (this.#closed) return;
    this.#channel.eos();
    this.#pump();
  }

  /** Generation is faster than real time: everything generatable goes out once the TTFT is over. */
  #pump(): void {
    const first = this.#channel.firstTextAt;
    if (this.#timer !== undefined || this.#closed) return;
    const wait = first === undefined ? 0 : first + this.#ttftMs - performance.now();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      if (this.#channel.firstTextAt !== undefined || this.#channel.done) for (const m of this.#channel.generate(Infinity)) this.onMessage(m);
      if (this.#channel.done) {
        this.close();
        this.onClosed(false);
      }
    }, Math.max(0, wait));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#pool.release();
  }
}

function slotAttempt<L>(cfg: SimWorkerConfig, rng: Rng, pool: ServicePool, up: () => boolean, make: () => L): InstanceAttempt<L> {
  return async () => {
    await new Promise((r) => setTimeout(r, pingDelay(cfg, rng)));
    if (!up()) throw new ServiceHardError(`[Errno 111] Connect call failed (${pool.name})`);
    if (!pool.tryAcquire()) throw new MissingServiceAtCapacity(pool.name);
    return make();
  };
}

/** One in-process "instance" of the STT: the worker's pool. */
export function inProcessStt(cfg: SimWorkerConfig, rng: Rng, pool: ServicePool): InstanceAttempt<SttLink> {
  return slotAttempt<SttLink>(cfg, rng, pool, () => cfg.health.stt_up, () => new InProcessStt(pool, asrModelOf(cfg, rng), rng));
}

export function inProcessTts(cfg: SimWorkerConfig, rng: Rng, pool: ServicePool): InstanceAttempt<TtsLink> {
  return slotAttempt<TtsLink>(cfg, rng, pool, () => cfg.health.tts_up, () => new InProcessTts(pool, cfg.ttsMsPerWord, sample(cfg.ttsTtftMs, rng)));
}

const VOCABULARY = [
  'sure', 'that', 'sounds', 'great', 'tell', 'me', 'more', 'about', 'it', 'I', 'think', 'the', 'weather', 'is',
  'lovely', 'today', 'what', 'are', 'you', 'working', 'on', 'right', 'now', 'interesting', 'and', 'how', 'was',
  'your', 'day', 'so', 'far', 'really', 'nice', 'to', 'hear', 'from', 'again',
];

/** The words of a simulated reply, capitalised and spaced as an LLM streams them. */
export function replyWords(n: number, rng: Rng, goodbye: boolean): string[] {
  return Array.from({ length: n }, (_, i) => {
    const w = goodbye && i === n - 1 ? 'bye!' : VOCABULARY[Math.floor(rng() * VOCABULARY.length)]!;
    return i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : ` ${w}`;
  });
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** The in-process LLM of one session: words after the TTFT at a fixed rate; fails when the LLM is "down". */
export class InProcessLlm implements LlmClient {
  readonly #cfg: SimWorkerConfig;
  readonly #rng: Rng;
  /** Replies generated in this session (for the goodbye fault). */
  #replies = 0;
  #model: string | undefined;

  readonly #stall: (ms: number) => unknown;

  /** `stall` freezes the worker as Unmute's blocking call does (default: block this thread). */
  constructor(cfg: SimWorkerConfig, rng: Rng, stall: (ms: number) => unknown = blockEventLoop) {
    this.#cfg = cfg;
    this.#rng = rng;
    this.#stall = stall;
  }

  autoselectModel(): string {
    if (this.#model !== undefined) return this.#model;
    if (!this.#cfg.health.llm_up) {
      // openai's client retries a refused connection twice (0.5 s and 1 s backoff, jittered) in
      // the event-loop thread: Unmute freezes that long at every new session while the LLM is down.
      this.#stall(0.5 * (0.75 + 0.25 * this.#rng()) * 1000 + 1.0 * (0.75 + 0.25 * this.#rng()) * 1000);
      throw new ServiceHardError('Connection error.');
    }
    this.#model = 'sim/simulated-llm';
    return this.#model;
  }

  async *chat(req: ChatRequest): AsyncIterable<string> {
    const cfg = this.#cfg;
    const n = Math.max(1, Math.round(sample(cfg.replyWords, this.#rng)));
    this.#replies++;
    const goodbye = cfg.goodbyeAfterReplies > 0 && this.#replies >= cfg.goodbyeAfterReplies;
    const words = replyWords(n, this.#rng, goodbye);
    await sleep(sample(cfg.llmTtftMs, this.#rng), req.signal);
    if (!cfg.health.llm_up) throw new ServiceHardError('Connection error.');
    const gap = 1000 / cfg.llmWordsPerSecond;
    for (let i = 0; i < words.length; i++) {
      if (i > 0) await sleep(gap, req.signal);
      yield words[i]!;
    }
  }
}
