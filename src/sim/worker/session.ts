// One simulated conversation on /v1/realtime, mirroring unmute/unmute_handler.py and
// main_websocket.py as seen from the client and from /metrics:
// - the session holds one STT stream for its whole life (a slot of the STT pool) and one TTS
//   stream per reply (a slot of the TTS pool);
// - the chat history and its three states (waiting_for_user, user_speaking, bot_speaking) follow
//   Unmute's Chatbot; the bot greets first once instructions are set and audio flows;
// - the user's turn ends when the simulated VAD sees `vadSilenceMs` of unvoiced audio (measured in
//   received audio time, as Unmute does) after at least one transcribed word: speech_stopped, then
//   the reply once the last word's transcription is out;
// - a reply is response.created, LLM words (unmute.response.text.delta.ready) after the LLM TTFT,
//   audio (response.audio.delta) after the TTS TTFT, spoken words (response.text.delta) in real
//   time, response.text.done when the LLM finishes, response.audio.done after the last frame.
// The session never ends by itself except on simulated faults (1011) or a configured goodbye (1000).
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { OggOpusReader, OggOpusWriter } from '../audio/stream.ts';
import { OPUS_SILENCE_20MS } from '../audio/opus.ts';
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  EventIds,
  FRAME_MS,
  encodeServerEvent,
  errorEvent,
  parseClientEvent,
  type ChatMessage,
  type ServerEvent,
} from '../protocol.ts';
import { sample, type Rng } from '../random.ts';
import { Agenda } from './agenda.ts';
import type { HealthFlags, SimWorkerConfig } from './config.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ServicePool } from './service-pool.ts';

export interface HealthStatus extends HealthFlags {
  ok: boolean;
}

export interface SessionContext {
  config: SimWorkerConfig;
  metrics: WorkerMetrics;
  rng: Rng;
  stt: ServicePool;
  tts: ServicePool;
  /** Evaluates health like GET /v1/health does (and observes worker_health_ok). */
  health(): HealthStatus;
  /** Pre-built "voiced" Opus packets for the assistant's audio. */
  voicePackets: readonly Uint8Array[];
}

type ConversationState = 'waiting_for_user' | 'user_speaking' | 'bot_speaking';

interface Utterance {
  startAudioMs: number;
  lastVoicedAudioMs: number;
  voicedMs: number;
  nextWordAtVoicedMs: number;
  sttDelayMs: number;
  wordsScheduled: number;
  wordsEmitted: number;
  pauseDetected: boolean;
}

interface Reply {
  startedAt: number;
  llmRunning: boolean;
  wordsGenerated: number;
  ttsHeld: boolean;
  ttsFirstTextAt: number | undefined;
  ttsAudioMs: number;
  audioStartedAt: number | undefined;
}

// Constants of Unmute's backend.
const STT_FLUSH_FRAMES = Math.ceil(500 / FRAME_MS) + 1; // ceil(STT_DELAY_SEC / FRAME_TIME_SEC) + 1
const AUDIO_BUFFER_MS = 4 * FRAME_MS; // TTS audio is released this far ahead of real time
const TTS_TRIALS = 5;
const INTERRUPTION_CHAR = '—';
const USER_SILENCE_MARKER = '...';
const CAPACITY_MESSAGE = 'Too many people are connected! Please try again later.';
const INTERNAL_ERROR_MESSAGE = 'Internal server error :( Complain to Kyutai';

const VOCABULARY = [
  'sure', 'that', 'sounds', 'great', 'tell', 'me', 'more', 'about', 'it', 'I', 'think', 'the', 'weather', 'is',
  'lovely', 'today', 'what', 'are', 'you', 'working', 'on', 'right', 'now', 'interesting', 'and', 'how', 'was',
  'your', 'day', 'so', 'far', 'really', 'nice', 'to', 'hear', 'from', 'again',
];

class SessionFailure extends Error {
  readonly kind: 'capacity' | 'hard';
  constructor(kind: 'capacity' | 'hard', message: string) {
    super(message);
    this.kind = kind;
  }
}

export class SimSession {
  private readonly ws: WebSocket;
  private readonly ctx: SessionContext;
  private readonly cfg: SimWorkerConfig;
  private readonly m: WorkerMetrics;
  private readonly ids: EventIds;
  private readonly reader: OggOpusReader;
  private readonly writer: OggOpusWriter;
  private readonly sttAgenda = new Agenda();
  private readonly replyAgenda = new Agenda();
  private readonly chat: ChatMessage[];
  private instructionsSet = false;
  private voice: string | null = null;
  private audioMs = 0;
  private sttAudioMs = 0;
  private sttStepRemainderMs = 0;
  private sttFirstAudioAt: number | undefined;
  private sttWords = 0;
  private sttHeld = false;
  private waitingSinceAudioMs = 0;
  private lastAdditionalAudioMs = 0;
  private utterance: Utterance | undefined;
  private reply: Reply | undefined;
  private replies = 0;
  private voicePacketIndex = 0;
  private ended = false;
  /** Set once the server decided to close: later client messages are ignored. */
  private closing = false;
  private resolveDone!: () => void;
  /** Resolves once the websocket is closed and every metric of the session is settled. */
  readonly done: Promise<void>;

  constructor(ws: WebSocket, ctx: SessionContext) {
    this.ws = ws;
    this.ctx = ctx;
    this.cfg = ctx.config;
    this.m = ctx.metrics;
    this.ids = new EventIds(ctx.rng);
    this.reader = new OggOpusReader(ctx.config.voicedBytesPerFrame);
    this.writer = new OggOpusWriter(Math.floor(ctx.rng() * 0xffffffff));
    this.chat = [{ role: 'system', content: `(simulated system prompt, ${ctx.config.systemPromptWords} words)` }];
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    ws.on('close', () => this.finish());
    ws.on('error', () => this.finish());
  }

  /** Runs the start-up Unmute does after accepting: STT stream, then a health check. */
  start(): void {
    try {
      this.startStt();
    } catch (err) {
      this.fail(err);
      return;
    }
    const health = this.ctx.health();
    if (!health.ok) {
      const { ok, ...flags } = health;
      const reason = `Server is not healthy: ${Object.entries(flags).map(([k, v]) => `${k}=${v ? 'True' : 'False'}`).join(' ')} ok=${ok ? 'True' : 'False'}`;
      this.closing = true;
      this.ws.close(CLOSE_INTERNAL_ERROR, reason.slice(0, 123));
      return;
    }
    this.ws.on('message', (data, isBinary) => {
      if (this.ended || this.closing) return;
      try {
        this.onMessage(isBinary ? null : data.toString());
      } catch (err) {
        this.fail(err);
      }
    });
  }

  /** SIGTERM path: the server closes every live session with the given code at once. */
  terminate(code: number): void {
    if (this.ended) return;
    this.closing = true;
    this.ws.close(code);
  }

  get state(): ConversationState {
    const last = this.chat[this.chat.length - 1]!;
    if (last.role === 'assistant') return 'bot_speaking';
    if (last.role === 'user') return last.content.trim() !== '' ? 'user_speaking' : 'waiting_for_user';
    return 'waiting_for_user';
  }

  // ---- client messages ----

  private onMessage(text: string | null): void {
    if (text === null) {
      // Unmute only reads text frames; a binary frame makes receive_text() raise.
      throw new SessionFailure('hard', 'binary frame');
    }
    const parsed = parseClientEvent(text);
    if (!parsed.ok) {
      this.emit(errorEvent('invalid_request_error', parsed.message, parsed.details));
      return;
    }
    const event = parsed.event;
    switch (event.type) {
      case 'session.update': {
        const s = event.session;
        if (s.instructions) this.instructionsSet = true;
        if (s.voice) this.voice = s.voice;
        this.emit({ type: 'session.updated', session: { instructions: s.instructions ?? null, voice: s.voice ?? null, allow_recording: s.allow_recording } });
        return;
      }
      case 'input_audio_buffer.append':
        this.onAudio(Buffer.from(event.audio, 'base64'));
        return;
      default:
        return; // accepted and ignored, as Unmute does
    }
  }

  private onAudio(bytes: Uint8Array): void {
    const chunk = this.reader.push(bytes);
    if (chunk.packets.length === 0) return; // nothing decoded: Unmute does not call the handler
    const now = performance.now();

    // STT stream bookkeeping (one send per decoded chunk, one step per 80 ms of audio).
    this.m.sttSentFrames.inc();
    if (this.sttFirstAudioAt === undefined) {
      this.sttFirstAudioAt = now;
      const ttft = sample(this.cfg.sttTtftMs, this.ctx.rng);
      this.m.sttTtft.observe(ttft / 1000);
      // The STT's first message is an empty word; Unmute forwards it (and keeps it out of the chat).
      this.sttAgenda.at(now + ttft, () => this.emit({ type: 'conversation.item.input_audio_transcription.delta', delta: '', start_time: 0 }));
    }
    this.sttAudio(chunk.audioMs);

    if (this.state === 'bot_speaking') this.waitingSinceAudioMs = this.audioMs;

    // The greeting: the first audio after instructions were set starts the first reply.
    if (this.chat.length === 1 && this.instructionsSet) this.generateResponse();

    for (const p of chunk.packets) {
      this.audioMs += p.ms;
      if (p.voiced) this.onVoiced(p.ms, now);
    }

    this.checkPause();
    this.checkLongSilence();
    this.maybeAdditionalOutputs();
  }

  private sttAudio(ms: number): void {
    this.sttAudioMs += ms;
    this.sttStepRemainderMs += ms;
    const steps = Math.floor(this.sttStepRemainderMs / FRAME_MS);
    if (steps > 0) {
      this.m.sttRecvFrames.inc(steps);
      this.sttStepRemainderMs -= steps * FRAME_MS;
    }
  }

  private onVoiced(ms: number, now: number): void {
    if (this.state === 'bot_speaking' && this.audioMs > this.cfg.uninterruptibleMs && this.reply !== undefined) {
      // Unmute's VAD interruption (after the first seconds of the session).
      this.interruptBot();
      this.addChatDelta('', 'user');
    }
    let u = this.utterance;
    if (u !== undefined && u.pauseDetected) return; // flushing: this speech belongs to the next turn
    if (u === undefined) {
      u = {
        startAudioMs: this.audioMs - ms,
        lastVoicedAudioMs: this.audioMs,
        voicedMs: 0,
        nextWordAtVoicedMs: 0,
        sttDelayMs: sample(this.cfg.sttDelayMs, this.ctx.rng),
        wordsScheduled: 0,
        wordsEmitted: 0,
        pauseDetected: false,
      };
      this.utterance = u;
    }
    u.lastVoicedAudioMs = this.audioMs;
    // A word starts at every userWordMs of voiced audio; its transcription comes sttDelay later.
    while (u.voicedMs >= u.nextWordAtVoicedMs) {
      const wordStartS = (u.startAudioMs + u.nextWordAtVoicedMs) / 1000;
      u.wordsScheduled++;
      u.nextWordAtVoicedMs += this.cfg.userWordMs;
      const utterance = u;
      this.sttAgenda.at(now + u.sttDelayMs, () => this.emitUserWord(utterance, wordStartS));
    }
    u.voicedMs += ms;
  }

  private emitUserWord(u: Utterance, startTimeS: number): void {
    if (this.ended) return;
    const word = VOCABULARY[Math.floor(this.ctx.rng() * VOCABULARY.length)]!;
    this.emit({ type: 'conversation.item.input_audio_transcription.delta', delta: word, start_time: startTimeS });
    this.m.sttRecvWords.inc();
    this.sttWords++;
    u.wordsEmitted++;
    if (this.state === 'bot_speaking' && this.reply !== undefined) this.interruptBot(); // STT-based interruption
    const isNew = this.addChatDelta(word, 'user');
    if (isNew) this.emit({ type: 'input_audio_buffer.speech_started' });
    if (u.pauseDetected && u.wordsEmitted === u.wordsScheduled) this.endUserTurn(u);
  }

  /** Unmute's determine_pause(): only while user_speaking, once the VAD sees enough silence. */
  private checkPause(): void {
    const u = this.utterance;
    if (u === undefined || u.pauseDetected || this.state !== 'user_speaking') return;
    if (this.audioMs - u.lastVoicedAudioMs < this.cfg.vadSilenceMs) return;
    u.pauseDetected = true;
    this.emit({ type: 'input_audio_buffer.speech_stopped' });
    this.flushStt();
    if (u.wordsEmitted === u.wordsScheduled) this.endUserTurn(u);
  }

  /** Unmute pushes ~0.6 s of zeros through the STT to get the last words out. */
  private flushStt(): void {
    this.m.sttSentFrames.inc(STT_FLUSH_FRAMES);
    this.sttAudio(STT_FLUSH_FRAMES * FRAME_MS);
  }

  private endUserTurn(u: Utterance): void {
    if (this.utterance !== u) return;
    this.utterance = undefined;
    this.generateResponse();
  }

  /** Unmute's detect_long_silence(): after 7 s without the user, the bot speaks again. */
  private checkLongSilence(): void {
    if (this.cfg.userSilenceTimeoutMs <= 0 || this.utterance !== undefined) return;
    if (this.state !== 'waiting_for_user') return;
    if (this.audioMs - this.waitingSinceAudioMs <= this.cfg.userSilenceTimeoutMs) return;
    this.addChatDelta(USER_SILENCE_MARKER, 'user');
    this.emit({ type: 'input_audio_buffer.speech_stopped' });
    this.flushStt();
    this.generateResponse();
  }

  private maybeAdditionalOutputs(): void {
    if (this.cfg.additionalOutputsMs <= 0) return;
    if (this.audioMs - this.lastAdditionalAudioMs < this.cfg.additionalOutputsMs) return;
    this.lastAdditionalAudioMs = this.audioMs;
    this.emit({
      type: 'unmute.additional_outputs',
      args: {
        chat_history: this.chat.filter((c) => c.role !== 'system'),
        debug_dict: {
          timing: {},
          connection: { stt: 'connected', tts: this.reply?.ttsHeld ? 'connected' : 'none' },
          conversation_state: this.state,
          simulated: true,
        },
        debug_plot_data: [],
      },
    });
  }

  // ---- chat history (Unmute's Chatbot.add_chat_message_delta) ----

  private addChatDelta(delta: string, role: 'user' | 'assistant'): boolean {
    const last = this.chat[this.chat.length - 1]!;
    if (last.role !== role) {
      this.chat.push({ role, content: delta });
      return true;
    }
    const previous = last.content;
    const needsSpace = previous !== '' && !/\s$/.test(previous) && delta !== '' && !/^\s/.test(delta);
    last.content += needsSpace ? ` ${delta}` : delta;
    return previous === '';
  }

  // ---- assistant reply ----

  private generateResponse(): void {
    if (this.ended) return;
    const health = this.ctx.config.health;
    this.addChatDelta('', 'assistant');
    const now = performance.now();
    const reply: Reply = { startedAt: now, llmRunning: true, wordsGenerated: 0, ttsHeld: false, ttsFirstTextAt: undefined, ttsAudioMs: 0, audioStartedAt: undefined };
    this.reply = reply;
    this.emit({
      type: 'response.created',
      response: { object: 'realtime.response', status: 'in_progress', voice: this.voice ?? 'missing', chat_history: this.chat },
    });

    const sentWords = this.chat.reduce((n, c, i) => n + (i === 0 ? this.cfg.systemPromptWords : countWords(c.content)), 0);
    this.m.vllmSentWords.inc(sentWords);
    this.m.vllmRequestLength.observe(sentWords);
    this.m.vllmActiveSessions.inc();

    // The TTS stream is looked for in parallel with the LLM request (Unmute's start_up_tts quest).
    const tts = this.findTts(reply, now);
    const nWords = Math.max(1, Math.round(sample(this.cfg.replyWords, this.ctx.rng)));
    const goodbye = this.cfg.goodbyeAfterReplies > 0 && this.replies + 1 >= this.cfg.goodbyeAfterReplies;
    const words = Array.from({ length: nWords }, (_, i) =>
      goodbye && i === nWords - 1 ? 'bye!' : VOCABULARY[Math.floor(this.ctx.rng() * VOCABULARY.length)]!,
    );
    const ttft = sample(this.cfg.llmTtftMs, this.ctx.rng);
    const wordGap = 1000 / this.cfg.llmWordsPerSecond;
    const firstWordAt = now + ttft;

    if (!health.llm_up) {
      // The LLM request fails: counted as an LLM hard error, then the session dies (1011).
      this.replyAgenda.at(firstWordAt, () => {
        this.m.vllmHardErrors.inc();
        this.endLlm(reply);
        this.fail(new SessionFailure('hard', 'llm unavailable'));
      });
      return;
    }

    words.forEach((word, i) => {
      this.replyAgenda.at(firstWordAt + i * wordGap, () => {
        if ('failure' in tts && i > 0) return; // the LLM loop is stuck waiting for the TTS
        const delta = i === 0 ? capitalize(word) : ` ${word}`;
        this.emit({ type: 'unmute.response.text.delta.ready', delta });
        this.m.vllmRecvWords.inc();
        reply.wordsGenerated++;
        if (i === 0) this.m.vllmTtft.observe((performance.now() - reply.startedAt) / 1000);
        // The LLM loop waits for the TTS stream before sending the first word to it: a TTS that
        // cannot be found kills the session once its last retry failed.
        if ('failure' in tts) {
          const failure = tts.failure;
          this.replyAgenda.at(Math.max(performance.now(), tts.at), () => {
            this.endLlm(reply);
            this.fail(failure);
          });
          return;
        }
        if (i === 0) this.startTtsAudio(reply, words, Math.max(performance.now(), tts.readyAt));
        this.m.ttsSentFrames.inc();
        if (i === words.length - 1) {
          this.emit({ type: 'response.text.done', text: words.map((w, j) => (j === 0 ? capitalize(w) : ` ${w}`)).join('') });
          this.endLlm(reply);
        }
      });
    });
  }

  private endLlm(reply: Reply): void {
    if (!reply.llmRunning) return;
    reply.llmRunning = false;
    this.m.vllmActiveSessions.dec();
    this.m.vllmReplyLength.observe(reply.wordsGenerated);
    this.m.vllmGenDuration.observe((performance.now() - reply.startedAt) / 1000);
  }

  /**
   * Unmute's TTS start-up: up to 5 find_instance() calls with growing sleeps and a warning to the
   * client between them. Returns when the stream is ready, or the failure the LLM loop will hit.
   */
  private findTts(reply: Reply, now: number): { readyAt: number } | { failure: SessionFailure; at: number } {
    const health = this.ctx.config.health;
    let t = now;
    let sleep = 50;
    for (let trial = 0; trial < TTS_TRIALS; trial++) {
      const ping = sample(this.cfg.servicePingMs, this.ctx.rng);
      let failure: SessionFailure | undefined;
      if (!health.tts_up) {
        this.m.hardServiceMisses.inc();
        this.m.ttsHardMisses.inc();
        failure = new SessionFailure('hard', 'tts unreachable');
      } else if (!this.ctx.tts.tryAcquire()) {
        this.m.ttsPingTime.observe(ping / 1000);
        failure = new SessionFailure('capacity', 'tts at capacity');
      }
      if (failure === undefined) {
        this.m.ttsPingTime.observe(ping / 1000);
        this.m.ttsFindTime.observe(ping / 1000);
        reply.ttsHeld = true;
        this.m.ttsSessions.inc();
        this.m.ttsActiveSessions.inc();
        this.m.ttsRecvWords.inc(); // the empty Text message moshi-server always sends first
        return { readyAt: t + ping };
      }
      this.m.serviceMisses.inc();
      this.m.ttsMisses.inc();
      if (trial === TTS_TRIALS - 1) return { failure, at: t + ping };
      t += ping + sleep;
      // Retries happen later in real time; they only matter for the warnings the client sees.
      this.replyAgenda.at(t, () => this.emit(errorEvent('warning', 'Looking for the resources, expect some latency.')));
      sleep = Math.min(1000, sleep * 1.5);
    }
    return { failure: new SessionFailure('hard', 'unreachable'), at: t };
  }

  private startTtsAudio(reply: Reply, words: readonly string[], firstTextAt: number): void {
    reply.ttsFirstTextAt = firstTextAt;
    const audioStart = firstTextAt + sample(this.cfg.ttsTtftMs, this.ctx.rng);
    const totalMs = words.length * this.cfg.ttsMsPerWord;
    const deltaMs = this.cfg.audioFrames ? this.cfg.audioDeltaMs : FRAME_MS;

    this.replyAgenda.at(audioStart, () => {
      reply.audioStartedAt = performance.now();
      this.m.ttsTtft.observe((performance.now() - firstTextAt) / 1000);
      if (!this.cfg.audioFrames) {
        // Cheap mode: one 20 ms frame marks the start of the audio; the rest is not sent.
        this.sendAudio([OPUS_SILENCE_20MS]);
        this.m.ttsRecvFrames.inc(Math.ceil(totalMs / FRAME_MS));
        reply.ttsAudioMs = totalMs;
      }
    });
    if (this.cfg.audioFrames) {
      for (let offset = 0; offset < totalMs; offset += deltaMs) {
        const span = Math.min(deltaMs, totalMs - offset);
        this.replyAgenda.at(audioStart + Math.max(0, offset - AUDIO_BUFFER_MS), () => {
          this.sendAudio(this.voiceFrames(span));
          this.m.ttsRecvFrames.inc(Math.max(1, Math.round(span / FRAME_MS)));
          reply.ttsAudioMs += span;
        });
      }
    }
    words.forEach((word, i) => {
      this.replyAgenda.at(audioStart + i * this.cfg.ttsMsPerWord, () => {
        this.emit({ type: 'response.text.delta', delta: word });
        this.m.ttsRecvWords.inc();
        this.addChatDelta(i === 0 ? capitalize(word) : word, 'assistant');
      });
    });
    const lastRelease = audioStart + Math.max(0, totalMs - deltaMs - AUDIO_BUFFER_MS);
    this.replyAgenda.at(Math.max(lastRelease, audioStart + (words.length - 1) * this.cfg.ttsMsPerWord), () => {
      if (this.cfg.audioFrames) this.sendAudio([OPUS_SILENCE_20MS]); // Unmute's silence to flush the Opus state
      this.emit({ type: 'response.audio.done' });
      this.endTts(reply);
      this.reply = undefined;
      this.replies++;
      this.addChatDelta('', 'user');
      this.replyAgenda.after(1000, () => {
        this.waitingSinceAudioMs = this.audioMs;
        const lastAssistant = [...this.chat].reverse().find((c) => c.role === 'assistant');
        if (lastAssistant !== undefined && lastAssistant.content.toLowerCase().endsWith('bye!')) {
          this.closing = true;
          this.ws.close(CLOSE_NORMAL);
        }
      });
    });
  }

  private endTts(reply: Reply): void {
    if (!reply.ttsHeld) return;
    reply.ttsHeld = false;
    this.ctx.tts.release();
    this.m.ttsActiveSessions.dec();
    this.m.ttsAudioDuration.observe(reply.ttsAudioMs / 1000);
    if (reply.ttsFirstTextAt !== undefined) this.m.ttsGenDuration.observe(Math.max(0, performance.now() - reply.ttsFirstTextAt) / 1000);
  }

  private interruptBot(): void {
    const reply = this.reply;
    this.addChatDelta(INTERRUPTION_CHAR, 'assistant');
    this.replyAgenda.clear();
    this.emit({ type: 'unmute.interrupted_by_vad' });
    if (reply !== undefined) {
      if (reply.llmRunning) this.m.vllmInterrupt.inc(); // the LLM task is cancelled
      this.endLlm(reply);
      this.endTts(reply);
      this.reply = undefined;
    }
  }

  private voiceFrames(ms: number): Uint8Array[] {
    const n = Math.max(1, Math.round(ms / 20));
    const out: Uint8Array[] = [];
    const pool = this.ctx.voicePackets;
    for (let i = 0; i < n; i++) out.push(pool[this.voicePacketIndex++ % pool.length]!);
    return out;
  }

  private sendAudio(packets: Uint8Array[]): void {
    const bytes = this.writer.write(packets);
    this.emit({ type: 'response.audio.delta', delta: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') });
  }

  // ---- STT stream and end of session ----

  private startStt(): void {
    const ping = sample(this.cfg.servicePingMs, this.ctx.rng);
    if (!this.ctx.config.health.stt_up) {
      this.m.hardServiceMisses.inc();
      this.m.sttHardMisses.inc();
      this.m.serviceMisses.inc();
      this.m.sttMisses.inc();
      throw new SessionFailure('hard', 'stt unreachable');
    }
    if (!this.ctx.stt.tryAcquire()) {
      this.m.sttPingTime.observe(ping / 1000);
      this.m.serviceMisses.inc();
      this.m.sttMisses.inc();
      throw new SessionFailure('capacity', 'stt at capacity');
    }
    this.sttHeld = true;
    this.m.sttPingTime.observe(ping / 1000);
    this.m.sttFindTime.observe(ping / 1000);
    this.m.sttActiveSessions.inc();
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    let message: string;
    if (err instanceof SessionFailure && err.kind === 'capacity') {
      this.m.fatalServiceMisses.inc();
      message = CAPACITY_MESSAGE;
    } else {
      this.m.hardErrors.inc();
      message = INTERNAL_ERROR_MESSAGE;
    }
    this.m.forceDisconnects.inc();
    this.emit(errorEvent('fatal', message));
    this.closing = true;
    this.ws.close(CLOSE_INTERNAL_ERROR, message);
    this.stopEverything();
  }

  private stopEverything(): void {
    this.sttAgenda.clear();
    this.replyAgenda.clear();
    const reply = this.reply;
    if (reply !== undefined) {
      if (reply.llmRunning) this.m.vllmInterrupt.inc(); // cancelled with the session
      this.endLlm(reply);
      this.endTts(reply);
      this.reply = undefined;
    }
    if (this.sttHeld) {
      this.sttHeld = false;
      this.ctx.stt.release();
      this.m.sttActiveSessions.dec();
      if (this.sttFirstAudioAt !== undefined) {
        this.m.sttSessionDuration.observe((performance.now() - this.sttFirstAudioAt) / 1000);
        this.m.sttAudioDuration.observe(this.sttAudioMs / 1000);
        this.m.sttNumWords.observe(this.sttWords);
      }
    }
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.stopEverything();
    this.resolveDone();
  }

  private emit(event: ServerEvent): void {
    if (this.ended || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeServerEvent(event, this.ids.next()));
  }
}

function countWords(s: string): number {
  const t = s.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}

function capitalize(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}
