// One simulated conversation on /v1/realtime, following unmute/unmute_handler.py and
// main_websocket.py step by step, as seen from the client, from /metrics and from the STT, TTS and
// LLM (in-process models or real network streams to the simulated servers, see links.ts):
// - start-up: autoselect_model() while no model is known (blocks the event loop while the LLM is
//   unreachable), the STT search (find_instance, up to 3 instances of 0.5 s), then the health check;
// - one STT stream for the whole session: every decoded audio chunk goes to it; its Step messages
//   drive the pause prediction (ignored for the first 12 steps) and the received time, its Word
//   messages the transcription deltas, speech_started and STT-based interruptions; the turn ends
//   when the pause prediction exceeds 0.6 (speech_stopped, 8 frames of zeros flushed, the reply once
//   the STT's time passed the flush); a low pause prediction while the bot speaks (after 3 s of
//   audio) is the VAD interruption;
// - per assistant turn: response.created, the TTS search (5 tries with warnings) in parallel with
//   the LLM request, LLM words (unmute.response.text.delta.ready) sent to the TTS once it is found,
//   the TTS's audio and words paced as Unmute's RealtimeQueue does (frame k at k*80 ms - 320 ms after
//   the first audio), then silence, the chat history (unmute.additional_outputs), response.audio.done;
// - failures end the session as Unmute's _report_websocket_exception does: error frame + 1011.
// Time is the received audio time (samples received / 24000), as Unmute measures it.
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import { OpusDecoder } from '../audio/codec.ts';
import { OPUS_SILENCE_20MS } from '../audio/opus.ts';
import { OggOpusReader, OggOpusWriter } from '../audio/stream.ts';
import type { AsrMessage } from '../moshi/asr-model.ts';
import type { TtsMessage } from '../moshi/tts-model.ts';
import {
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  EventIds,
  FRAME_MS,
  SAMPLE_RATE,
  encodeServerEvent,
  errorEvent,
  parseClientEvent,
  type ChatMessage,
  type ServerEvent,
} from '../protocol.ts';
import type { Rng } from '../random.ts';
import { Agenda } from './agenda.ts';
import type { HealthFlags, SimWorkerConfig } from './config.ts';
import {
  MissingServiceAtCapacity,
  MissingServiceTimeout,
  findInstance,
  type InstanceAttempt,
  type LlmClient,
  type SttAudio,
  type SttLink,
  type TtsLink,
} from './links.ts';
import type { WorkerMetrics } from './metrics.ts';

export interface HealthStatus extends HealthFlags {
  ok: boolean;
}

export interface SessionContext {
  config: SimWorkerConfig;
  metrics: WorkerMetrics;
  rng: Rng;
  /** The STT/TTS instances to try, in the order to try them (Unmute shuffles the DNS answer). */
  sttInstances(): Promise<readonly InstanceAttempt<SttLink>[]>;
  ttsInstances(): Promise<readonly InstanceAttempt<TtsLink>[]>;
  /** The LLM client of this session. */
  llm(): LlmClient;
  /** Evaluates health like GET /v1/health does (and observes worker_health_ok). */
  health(): Promise<HealthStatus>;
  /** Real Opus packets (20 ms each) for the assistant's audio. */
  voicePackets: readonly Uint8Array[];
  /** Stalls the event loop this long at each new session (fault). */
  stallPerSessionMs(): number;
  /** Stalls the worker (see stall.ts); resolves when it runs again, or undefined if it already does. */
  stall(ms: number): Promise<void> | undefined;
}

type ConversationState = 'waiting_for_user' | 'user_speaking' | 'bot_speaking';

// Constants of Unmute's backend (kyutai_constants.py, unmute_handler.py, stt/speech_to_text.py).
const STT_DELAY_S = 0.5;
const STT_FRAME_S = 0.08;
const STT_FLUSH_FRAMES = Math.ceil(STT_DELAY_S / STT_FRAME_S) + 1;
const PAUSE_STEPS_IGNORED = 12;
const AUDIO_BUFFER_MS = 4 * FRAME_MS; // RealtimeQueue: audio released this far ahead of real time
const TTS_TRIALS = 5;
const INTERRUPTION_CHAR = '—';
const USER_SILENCE_MARKER = '...';
const INTERNAL_ERROR_MESSAGE = 'Internal server error :( Complain to Kyutai';
const FIRST_MESSAGE_TEMPERATURE = 0.7;
const FURTHER_MESSAGES_TEMPERATURE = 0.3;

/** A reply (Unmute's "llm" and "tts" quests of one turn). */
interface Turn {
  generatingIndex: number;
  startedAt: number;
  abort: AbortController;
  agenda: Agenda;
  tts: TtsLink | undefined;
  ttsActive: boolean;
  ttsFirstTextAt: number | undefined;
  ttsAudioMs: number;
  firstAudioArrival: number | undefined;
  audioFrames: number;
  /** Release time of the last paced item. */
  lastRelease: number;
  ended: boolean;
}

export class SimSession {
  private readonly ws: WebSocket;
  private readonly ctx: SessionContext;
  private readonly cfg: SimWorkerConfig;
  private readonly m: WorkerMetrics;
  private readonly ids: EventIds;
  private readonly reader: OggOpusReader;
  private readonly writer: OggOpusWriter;
  private decoder: OpusDecoder | undefined;
  private readonly chat: ChatMessage[];
  private readonly pendingMessages: Array<string | null> = [];
  private llm: LlmClient | undefined;
  private instructionsSet = false;
  private voice: string | null = null;
  private samplesReceived = 0;
  private waitingForUserStart = 0;
  private lastAdditionalOutput = 0;
  // STT client state (SpeechToText)
  private stt: SttLink | undefined;
  private sttHeld = false;
  private sttCurrentTime = -STT_DELAY_S;
  private sttSteps = 0;
  private sttSentSamples = 0;
  private sttFirstAudioAt: number | undefined;
  private sttTtftObserved = false;
  private sttWords = 0;
  private sttClosed = false;
  private pausePrediction = 1;
  private flushEnd: number | undefined;
  private turn: Turn | undefined;
  private voicePacketIndex = 0;
  private started = false;
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
    // Frames that arrive during start-up wait, as they would in the socket's buffer.
    ws.on('message', (data, isBinary) => {
      if (this.ended || this.closing) return;
      const text = isBinary ? null : data.toString();
      if (!this.started) this.pendingMessages.push(text);
      else this.handle(text);
    });
  }

  /** Runs the start-up Unmute does after accepting: model selection, STT stream, health check. */
  start(): void {
    void this.startUp().catch((err: unknown) => this.fail(err));
  }

  private async startUp(): Promise<void> {
    const stalled = this.ctx.stall(this.ctx.stallPerSessionMs());
    if (stalled !== undefined) await stalled;
    this.llm = this.ctx.llm();
    // UnmuteHandler() builds the system prompt, which needs the model name.
    await this.llm.autoselectModel();
    const stt = await findInstance('stt', await this.ctx.sttInstances(), this.m);
    if (this.ended) {
      stt.close();
      return;
    }
    this.stt = stt;
    this.sttHeld = true;
    this.m.sttActiveSessions.inc();
    stt.onMessage = (msg) => this.onSttMessage(msg);
    stt.onClosed = () => {
      // Unmute's _stt_loop logs "STT connection closed" and returns; the next send raises.
      this.sttClosed = true;
    };
    const health = await this.ctx.health();
    if (this.ended) return;
    if (!health.ok) {
      const { ok, ...flags } = health;
      const reason = `Server is not healthy: ${Object.entries(flags).map(([k, v]) => `${k}=${v ? 'True' : 'False'}`).join(' ')} ok=${ok ? 'True' : 'False'}`;
      this.closing = true;
      this.ws.close(CLOSE_INTERNAL_ERROR, reason.slice(0, 123));
      return;
    }
    this.started = true;
    for (const text of this.pendingMessages.splice(0)) {
      if (this.ended || this.closing) break;
      this.handle(text);
    }
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

  private audioSec(): number {
    return this.samplesReceived / SAMPLE_RATE;
  }

  // ---- client messages (receive_loop) ----

  private handle(text: string | null): void {
    try {
      this.onMessage(text);
    } catch (err) {
      this.fail(err);
    }
  }

  private onMessage(text: string | null): void {
    if (text === null) throw new Error('binary frame'); // Unmute only reads text frames
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
    let audio: SttAudio;
    let samples = 0;
    if (this.cfg.decodeAudio) {
      this.decoder ??= new OpusDecoder();
      const parts = chunk.packets.map((p) => this.decoder!.decode(p.data, Math.round((p.ms * SAMPLE_RATE) / 1000)));
      for (const p of parts) samples += p.length;
      const pcm = parts.length === 1 ? parts[0]! : new Float32Array(samples);
      if (parts.length > 1) {
        let o = 0;
        for (const p of parts) {
          pcm.set(p, o);
          o += p.length;
        }
      }
      audio = { pcm };
    } else {
      const packets = chunk.packets.map((p) => ({ samples: Math.round((p.ms * SAMPLE_RATE) / 1000), level: p.voiced ? 0.1 : 0 }));
      for (const p of packets) samples += p.samples;
      audio = { packets };
    }
    if (samples > 0) this.receive(audio, samples);
    this.maybeAdditionalOutputs();
  }

  /** UnmuteHandler.receive(), per decoded chunk. */
  private receive(audio: SttAudio, samples: number): void {
    this.samplesReceived += samples;
    if (this.state === 'bot_speaking') this.waitingForUserStart = this.audioSec();
    // The greeting: the first audio after instructions were set starts the first reply.
    if (this.chat.length === 1 && this.instructionsSet) this.generateResponse();
    this.sendToStt(audio, samples);
    if (this.flushEnd === undefined) {
      this.detectLongSilence();
      if (this.state === 'user_speaking' && this.pausePrediction > 0.6) {
        this.emit({ type: 'input_audio_buffer.speech_stopped' });
        this.flushEnd = this.sttCurrentTime + STT_DELAY_S;
        const zeros = new Float32Array(STT_FLUSH_FRAMES * 1920);
        for (let i = 0; i < STT_FLUSH_FRAMES; i++) this.sendToStt(this.cfg.decodeAudio ? { pcm: zeros.subarray(i * 1920, (i + 1) * 1920) } : { packets: [{ samples: 1920, level: 0 }] }, 1920);
      } else if (this.state === 'bot_speaking' && this.pausePrediction < 0.4 && this.audioSec() > this.cfg.uninterruptibleMs / 1000) {
        this.interruptBot();
        this.addChatDelta('', 'user');
      }
    } else if (this.sttCurrentTime > this.flushEnd) {
      this.flushEnd = undefined;
      this.generateResponse();
    }
  }

  private sendToStt(audio: SttAudio, samples: number): void {
    const stt = this.stt;
    if (stt === undefined) return;
    if (this.sttClosed) throw new Error('STT connection closed: sent 1000 (OK); then received 1000 (OK)');
    try {
      stt.sendAudio(audio);
    } catch (err) {
      // The stream is lost whether the send or the close event tells first: the same shutdown
      // (and the same gauge leak) follows either way.
      this.sttClosed = true;
      throw err;
    }
    this.m.sttSentFrames.inc();
    this.sttSentSamples += samples;
    this.sttFirstAudioAt ??= performance.now();
  }

  /** Unmute's detect_long_silence(): after 7 s without the user, the bot speaks again. */
  private detectLongSilence(): void {
    if (this.cfg.userSilenceTimeoutMs <= 0) return;
    if (this.state === 'waiting_for_user' && this.audioSec() - this.waitingForUserStart > this.cfg.userSilenceTimeoutMs / 1000) {
      this.addChatDelta(USER_SILENCE_MARKER, 'user');
    }
  }

  private maybeAdditionalOutputs(): void {
    if (this.cfg.additionalOutputsMs <= 0) return;
    if (this.lastAdditionalOutput >= this.audioSec() - this.cfg.additionalOutputsMs / 1000) return;
    this.lastAdditionalOutput = this.audioSec();
    this.emitAdditionalOutputs();
  }

  private emitAdditionalOutputs(): void {
    this.emit({
      type: 'unmute.additional_outputs',
      args: {
        chat_history: this.chat.filter((c) => c.role !== 'system').map((c) => ({ ...c })),
        debug_dict: {
          timing: {},
          connection: { stt: this.sttClosed ? 'closed' : 'connected', tts: this.turn?.tts !== undefined ? 'connected' : 'none' },
          conversation_state: this.state,
          simulated: true,
        },
        debug_plot_data: [],
      },
    });
  }

  // ---- STT stream (SpeechToText.__aiter__ and _stt_loop) ----

  private onSttMessage(msg: AsrMessage): void {
    if (this.ended) return;
    try {
      switch (msg.type) {
        case 'Step':
          this.sttCurrentTime += STT_FRAME_S;
          this.m.sttRecvFrames.inc();
          if (!this.sttTtftObserved && this.sttFirstAudioAt !== undefined) {
            this.sttTtftObserved = true;
            this.m.sttTtft.observe((performance.now() - this.sttFirstAudioAt) / 1000);
          }
          if (++this.sttSteps > PAUSE_STEPS_IGNORED) this.pausePrediction = msg.prs[2];
          return;
        case 'Word':
          this.onWord(msg.text, msg.start_time);
          return;
        default:
          return; // EndWord, Ready, Marker: ignored by Unmute
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private onWord(text: string, startTime: number): void {
    this.m.sttRecvWords.inc(text.split(/\s+/).filter((w) => w !== '').length);
    this.emit({ type: 'conversation.item.input_audio_transcription.delta', delta: text, start_time: startTime });
    // The STT's first message is an empty word; Unmute forwards it and keeps it out of the chat.
    if (text === '') return;
    this.sttWords++;
    if (this.state === 'bot_speaking') this.interruptBot(); // STT-based interruption
    if (this.addChatDelta(text, 'user')) {
      this.pausePrediction = 0;
      this.emit({ type: 'input_audio_buffer.speech_started' });
    }
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

  // ---- assistant turn (_generate_response_task, start_up_tts, _tts_loop) ----

  private generateResponse(): void {
    if (this.ended) return;
    this.addChatDelta('', 'assistant');
    // A new "llm" quest replaces the previous one; a new "tts" quest closes the previous stream.
    if (this.turn !== undefined) this.endTurn(this.turn, 'replaced');
    const turn: Turn = {
      generatingIndex: this.chat.length,
      startedAt: performance.now(),
      abort: new AbortController(),
      agenda: new Agenda(),
      tts: undefined,
      ttsActive: false,
      ttsFirstTextAt: undefined,
      ttsAudioMs: 0,
      firstAudioArrival: undefined,
      audioFrames: 0,
      lastRelease: 0,
      ended: false,
    };
    this.turn = turn;
    this.emit({
      type: 'response.created',
      response: { object: 'realtime.response', status: 'in_progress', voice: this.voice ?? 'missing', chat_history: this.chat.map((c) => ({ ...c })) },
    });
    const tts = this.findTts(turn);
    tts.catch(() => undefined); // observed by the LLM loop
    void this.runLlm(turn, tts).catch((err: unknown) => {
      if (turn.abort.signal.aborted || this.ended) return;
      this.fail(err);
    });
  }

  private async runLlm(turn: Turn, ttsReady: Promise<TtsLink>): Promise<void> {
    const llm = this.llm!;
    const messages = this.chat.filter((c) => c.content.replaceAll(INTERRUPTION_CHAR, '').trim() !== '' || c.role === 'system');
    const sentWords = messages.reduce((n, c, i) => n + (i === 0 ? this.cfg.systemPromptWords : countWords(c.content)), 0);
    this.m.vllmSentWords.inc(sentWords);
    this.m.vllmRequestLength.observe(sentWords);
    this.m.vllmActiveSessions.inc();
    const words: string[] = [];
    let ttftObserved = false;
    let errorFromTts = false;
    let tts: TtsLink | undefined;
    try {
      const temperature = turn.generatingIndex === 2 ? FIRST_MESSAGE_TEMPERATURE : FURTHER_MESSAGES_TEMPERATURE;
      for await (const word of rechunkToWords(llm.chat({ messages, temperature, signal: turn.abort.signal }))) {
        if (turn.abort.signal.aborted) throw turn.abort.signal.reason;
        this.emit({ type: 'unmute.response.text.delta.ready', delta: word });
        this.m.vllmRecvWords.inc();
        words.push(word);
        if (!ttftObserved) {
          ttftObserved = true;
          this.m.vllmTtft.observe((performance.now() - turn.startedAt) / 1000);
        }
        try {
          tts = await ttsReady;
        } catch (err) {
          errorFromTts = true;
          throw err;
        }
        if (turn.abort.signal.aborted) throw turn.abort.signal.reason;
        if (this.chat.length > turn.generatingIndex) break; // interrupted, or the turn is over
        turn.ttsFirstTextAt ??= performance.now();
        tts.send(word);
        this.m.ttsSentFrames.inc();
      }
      this.emit({ type: 'response.text.done', text: words.join('') });
      tts?.eos();
    } catch (err) {
      if (turn.abort.signal.aborted) this.m.vllmInterrupt.inc();
      else if (!errorFromTts) this.m.vllmHardErrors.inc();
      throw err;
    } finally {
      this.m.vllmActiveSessions.dec();
      this.m.vllmReplyLength.observe(words.length);
      this.m.vllmGenDuration.observe((performance.now() - turn.startedAt) / 1000);
    }
  }

  /**
   * Unmute's start_up_tts: up to 5 find_instance() calls with growing sleeps and a warning to the
   * client between them. Resolves with the stream once its loop runs; rejects with the last failure.
   */
  private async findTts(turn: Turn): Promise<TtsLink> {
    let sleep = 50;
    for (let trial = 0; ; trial++) {
      try {
        const tts = await findInstance('tts', await this.ctx.ttsInstances(), this.m);
        if (turn.ended || this.ended) {
          tts.close();
          throw new Error('turn over');
        }
        this.startTtsLoop(turn, tts);
        return tts;
      } catch (err) {
        if (trial === TTS_TRIALS - 1 || turn.ended || this.ended) throw err;
        await new Promise((r) => setTimeout(r, sleep));
        sleep = Math.min(1000, sleep * 1.5);
        if (turn.ended || this.ended) throw err;
        this.emit(errorEvent('warning', 'Looking for the resources, expect some latency.'));
      }
    }
  }

  private startTtsLoop(turn: Turn, tts: TtsLink): void {
    turn.tts = tts;
    turn.ttsActive = true;
    this.m.ttsSessions.inc();
    this.m.ttsActiveSessions.inc();
    tts.onMessage = (msg) => this.onTtsMessage(turn, msg);
    tts.onClosed = () => {
      // After the last paced item: Unmute's loop ends when the stream's iterator is exhausted.
      turn.agenda.at(Math.max(performance.now(), turn.lastRelease), () => this.endOfTtsLoop(turn));
    };
  }

  /** TextToSpeech.__aiter__ with its RealtimeQueue: audio ahead by 320 ms, words at their start. */
  private onTtsMessage(turn: Turn, msg: TtsMessage): void {
    if (turn.ended || this.ended) return;
    const now = performance.now();
    if (msg.type === 'Audio') {
      if (turn.firstAudioArrival === undefined) {
        turn.firstAudioArrival = now;
        if (turn.ttsFirstTextAt !== undefined) this.m.ttsTtft.observe((now - turn.ttsFirstTextAt) / 1000);
      }
      const k = turn.audioFrames++;
      this.m.ttsRecvFrames.inc();
      const at = Math.max(now, turn.firstAudioArrival + k * FRAME_MS - AUDIO_BUFFER_MS);
      turn.lastRelease = Math.max(turn.lastRelease, at);
      turn.agenda.at(at, () => {
        if (this.chat.length > turn.generatingIndex) return;
        turn.ttsAudioMs += FRAME_MS;
        if (this.cfg.audioFrames) this.sendAudio(this.voiceFrames(FRAME_MS));
        else if (k === 0) this.sendAudio([OPUS_SILENCE_20MS]); // cheap mode: one frame marks the start
      });
    } else if (msg.type === 'Text') {
      this.m.ttsRecvWords.inc();
      const base = turn.firstAudioArrival ?? now;
      const at = Math.max(now, base + msg.start_s * 1000);
      turn.lastRelease = Math.max(turn.lastRelease, at);
      turn.agenda.at(at, () => {
        if (this.chat.length > turn.generatingIndex) return;
        this.emit({ type: 'response.text.delta', delta: msg.text });
        this.addChatDelta(msg.text, 'assistant');
      });
    }
  }

  private endOfTtsLoop(turn: Turn): void {
    if (turn.ended || this.ended) return;
    if (this.cfg.audioFrames) this.sendAudio([OPUS_SILENCE_20MS]); // Unmute's silence to flush the Opus state
    this.emitAdditionalOutputs();
    this.emit({ type: 'response.audio.done' });
    this.closeTts(turn);
    this.addChatDelta('', 'user');
    turn.agenda.after(1000, () => {
      const lastAssistant = [...this.chat].reverse().find((c) => c.role === 'assistant');
      if (lastAssistant !== undefined && lastAssistant.content.toLowerCase().endsWith('bye!')) {
        this.closing = true;
        this.ws.close(CLOSE_NORMAL);
      }
      this.waitingForUserStart = this.audioSec();
    });
  }

  private closeTts(turn: Turn): void {
    const tts = turn.tts;
    if (tts === undefined) return;
    turn.tts = undefined;
    tts.close();
    if (!turn.ttsActive) return;
    turn.ttsActive = false;
    this.m.ttsActiveSessions.dec();
    this.m.ttsAudioDuration.observe(turn.ttsAudioMs / 1000);
    if (turn.ttsFirstTextAt !== undefined) this.m.ttsGenDuration.observe(Math.max(0, performance.now() - turn.ttsFirstTextAt) / 1000);
  }

  /** Removes the turn's quests: the LLM request is cancelled, the TTS stream closed. */
  private endTurn(turn: Turn, _why: 'interrupted' | 'replaced' | 'session'): void {
    if (turn.ended) return;
    turn.ended = true;
    turn.agenda.clear();
    turn.abort.abort(new Error('cancelled'));
    this.closeTts(turn);
    if (this.turn === turn) this.turn = undefined;
  }

  private interruptBot(): void {
    this.addChatDelta(INTERRUPTION_CHAR, 'assistant');
    this.emit({ type: 'unmute.interrupted_by_vad' });
    if (this.turn !== undefined) this.endTurn(this.turn, 'interrupted');
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

  // ---- end of session (_report_websocket_exception) ----

  private fail(err: unknown): void {
    if (this.ended || this.closing) return;
    let message: string;
    if (err instanceof MissingServiceAtCapacity || err instanceof MissingServiceTimeout) {
      this.m.fatalServiceMisses.inc();
      message = err.message;
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
    if (this.turn !== undefined) this.endTurn(this.turn, 'session');
    if (this.sttHeld) {
      this.sttHeld = false;
      this.stt?.close();
      // SpeechToText.shutdown() returns early after a lost stream: the gauge stays up (Unmute's leak).
      if (!this.sttClosed) this.m.sttActiveSessions.dec();
      if (this.sttFirstAudioAt !== undefined) {
        this.m.sttSessionDuration.observe((performance.now() - this.sttFirstAudioAt) / 1000);
        this.m.sttAudioDuration.observe(this.sttSentSamples / SAMPLE_RATE);
        this.m.sttNumWords.observe(this.sttWords);
      }
    }
    this.decoder?.free();
    this.decoder = undefined;
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

/** Unmute's rechunk_to_words(): LLM deltas regrouped into whole words with their leading space. */
export async function* rechunkToWords(pieces: AsyncIterable<string>): AsyncIterable<string> {
  let buffer = '';
  for await (const piece of pieces) {
    buffer += piece;
    for (;;) {
      const m = /^(\s*\S+)(\s)/.exec(buffer);
      if (m === null) break;
      yield m[1]!;
      buffer = buffer.slice(m[1]!.length);
    }
  }
  if (buffer.trim() !== '') yield buffer.trimEnd();
}

function countWords(s: string): number {
  const t = s.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
}
