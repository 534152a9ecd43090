// One client conversation over Unmute's realtime protocol, the core both the `loadtest` command
// and the fleet benchmark drive. It behaves like Unmute's own loadtest client: session.update with
// instructions and a voice, audio streamed continuously in real time (~80 ms Ogg/Opus chunks,
// silence when not speaking), a user utterance after each `response.audio.done`.
//
// Client-side latency definitions (milliseconds, per reply; the first three as Unmute's loadtest):
//   stt      first speech chunk sent -> first non-empty input_audio_transcription.delta
//   llm      response.created -> first unmute.response.text.delta.ready
//   ttsStart first unmute.response.text.delta.ready -> first response.audio.delta
//   vad      end of the user's speech audio -> response.created (end-of-turn detection + flush)
//   response end of the user's speech audio -> first response.audio.delta (what the user waits)
//   upgrade  connect attempt -> websocket upgrade completed, for every session; a late one
//            (over 300 ms) is put down to one cause, `queueCause`:
//     slot         the backend had no free slot: Unmute holds the handshake of a connection beyond
//                  its MAX_CLIENTS until a session ends;
//     slow-server  it had one, but answered late anyway (a blocked event loop delays everything).
//            The criterion (probeQueue): 300 ms into the wait, GET /metrics on the same backend.
//            Its worker_active_sessions counts running plus waiting connections, ours included
//            (the backend counts a connection when it arrives, and answers requests in the order
//            they arrive): above maxSessions means callers wait for a slot; at most maxSessions
//            means ours had one, so only slowness held the upgrade. No answer within 5 s, or no
//            such metric and an answer slower than 250 ms: slow-server; else slot.
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { OggPacketReader } from '../audio/ogg.ts';
import { OPUS_SILENCE_20MS, isOpusHead, isOpusTags, opusPacketInfo } from '../audio/opus.ts';
import { OggOpusWriter } from '../audio/stream.ts';
import { CLOSE_NORMAL, FRAME_MS, REALTIME_SUBPROTOCOL, httpBaseUrl, realtimeUrl, type IncomingServerEvent } from '../protocol.ts';
import { constant, sample, type Distribution, type Rng } from '../random.ts';
import { silencePacketsReal } from '../audio/clips.ts';
import { clipSpeech, noiseSpeech, type SpeechSource } from './speech.ts';

export type SessionOutcome = 'completed' | 'dropped' | 'refused' | 'failed' | 'aborted';

export interface ReplyTiming {
  /** 0-based index of the assistant reply in the session. */
  index: number;
  /** True when the reply answered a user utterance of ours (not the greeting or a silence prompt). */
  afterUserTurn: boolean;
  sttMs?: number;
  vadMs?: number;
  llmMs?: number;
  ttsStartMs?: number;
  responseMs?: number;
  /** Assistant audio received, from the Opus packets' durations. */
  audioMs: number;
  completed: boolean;
}

export interface SessionResult {
  url: string;
  outcome: SessionOutcome;
  closeCode?: number;
  closeReason?: string;
  closedBy?: 'client' | 'server';
  /** Status of a refused upgrade (e.g. 500 for a connection waiting when the backend stopped). */
  httpStatus?: number;
  error?: string;
  /** Date.now() at the connect attempt. */
  startedAt: number;
  /** Connect attempt -> upgrade completed; undefined if the upgrade never completed. */
  queuedMs?: number;
  /**
   * Why the upgrade came late (over 300 ms): `slot` when the backend's worker_active_sessions
   * showed callers waiting for a slot, `slow-server` when a slot was free and the upgrade was late
   * anyway (a blocked event loop, an overloaded process). See the header.
   */
  queueCause?: 'slot' | 'slow-server';
  /** Upgrade completed -> end (0 when never opened). */
  durationMs: number;
  userTurns: number;
  replies: ReplyTiming[];
  serverErrors: Array<{ type: string; message: string }>;
}

export interface SessionOptions {
  /** Backend base URL (http://, ws://) or the full /v1/realtime URL. */
  url: string;
  /**
   * User utterances before the client ends the conversation (after the reply to the last one).
   * Default 3 without durationMs; with durationMs, unlimited (the duration ends it).
   */
  turns?: number;
  /** The client ends the conversation this long after the upgrade completed, wherever it is. */
  durationMs?: number;
  /** Length of each user utterance (default uniform 1-3 s). */
  speechMs?: Distribution;
  /** Pause between the end of the assistant's reply and the user speaking (default 0, as Unmute's loadtest). */
  thinkMs?: Distribution;
  /** Audio per input_audio_buffer.append, a multiple of 20 (default 80, as Unmute). */
  chunkMs?: number;
  voice?: string | null;
  instructions?: Record<string, unknown> | null;
  /** Waiting for a reply longer than this fails the session (default 60 s). */
  replyTimeoutMs?: number;
  /** Give up waiting for a slot after this long (default: wait for ever, as a browser does). */
  connectTimeoutMs?: number;
  /** The backend's MAX_CLIENTS, for telling a slot wait from a slow server (default 4, Unmute's). */
  backendMaxSessions?: number;
  speech?: SpeechSource;
  /**
   * Real Opus from a real encoder (default true): its silence and synthesised speech clips, so a
   * decoding backend hears speech only where there is. false: the stand-in packets (3-byte
   * silence frames, noise frames) a cheap-mode sim-worker classifies by size without decoding.
   */
  realAudio?: boolean;
  perMessageDeflate?: boolean;
  rng?: Rng;
  signal?: AbortSignal;
  /** Progress hooks (the runner's live counters). */
  onOpen?: (queuedMs: number) => void;
}

const DEFAULT_SPEECH: Distribution = { kind: 'uniform', min: 1000, max: 3000 };
const DEFAULT_REPLY_TIMEOUT_MS = 60_000;
const DEFAULT_TURNS = 3;
const MAX_SERVER_ERRORS_KEPT = 10;
const QUEUE_PROBE_MS = 300;
const SLOW_PROBE_MS = 250;
const PROBE_TIMEOUT_MS = 5000;
const UNMUTE_MAX_CLIENTS = 4;

/** Runs one conversation. Never rejects: every way it can end is a SessionResult. */
export function startSession(opts: SessionOptions): Promise<SessionResult> {
  return new Promise((resolve) => new ClientSession(opts, resolve).connect());
}

class ClientSession {
  private readonly o: SessionOptions;
  private readonly resolve: (r: SessionResult) => void;
  private readonly rng: Rng;
  private readonly chunkMs: number;
  private speech: SpeechSource;
  private readonly realAudio: boolean;
  private readonly silence: readonly Uint8Array[];
  private silenceIndex = 0;
  private readonly writer: OggOpusWriter;
  private readonly audioIn = new OggPacketReader();
  private ws: WebSocket | undefined;
  private readonly result: SessionResult;
  /** User utterances to make; undefined = as many as fit in durationMs. */
  private readonly turns: number | undefined;
  private attemptAt = 0;
  private openedAt: number | undefined;
  private finished = false;
  private timers: NodeJS.Timeout[] = [];
  private audioTimer: NodeJS.Timeout | undefined;
  private chunkIndex = 0;
  // user speech state
  private speechLeftMs = 0;
  private speechStartAt: number | undefined;
  private speechEndAt: number | undefined;
  private awaitingTranscript = false;
  private pendingStt: number | undefined;
  private userTurnPending = false;
  // reply state
  private reply: (ReplyTiming & { createdAt?: number; textAt?: number }) | undefined;
  private replyDeadline: NodeJS.Timeout | undefined;
  private closeRequested = false;

  constructor(o: SessionOptions, resolve: (r: SessionResult) => void) {
    this.o = o;
    this.resolve = resolve;
    this.rng = o.rng ?? Math.random;
    this.chunkMs = o.chunkMs ?? FRAME_MS;
    if (this.chunkMs < 20 || this.chunkMs % 20 !== 0) throw new RangeError('chunkMs must be a positive multiple of 20');
    this.realAudio = o.realAudio ?? true;
    this.speech = o.speech ?? (this.realAudio ? clipSpeech(this.rng) : noiseSpeech());
    this.silence = this.realAudio ? silencePacketsReal() : [OPUS_SILENCE_20MS];
    this.turns = o.turns ?? (o.durationMs === undefined ? DEFAULT_TURNS : undefined);
    this.writer = new OggOpusWriter(Math.floor(this.rng() * 0xffffffff));
    this.result = { url: o.url, outcome: 'failed', startedAt: Date.now(), durationMs: 0, userTurns: 0, replies: [], serverErrors: [] };
  }

  connect(): void {
    if (this.o.signal?.aborted) return this.finish('aborted', { error: 'aborted before start' });
    this.o.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.attemptAt = performance.now();
    let ws: WebSocket;
    try {
      ws = new WebSocket(realtimeUrl(this.o.url), [REALTIME_SUBPROTOCOL], {
        perMessageDeflate: this.o.perMessageDeflate ?? false,
        skipUTF8Validation: true,
        // ws' handshakeTimeout covers the whole wait for the upgrade, i.e. the backend's queue.
        ...(this.o.connectTimeoutMs !== undefined ? { handshakeTimeout: this.o.connectTimeoutMs } : {}),
      });
    } catch (err) {
      return this.finish('failed', { error: (err as Error).message });
    }
    this.ws = ws;
    ws.on('unexpected-response', (req, res) => {
      this.result.httpStatus = res.statusCode;
      req.destroy();
      res.resume();
      this.finish('refused', { error: `HTTP ${res.statusCode ?? '?'} instead of a websocket upgrade` });
    });
    ws.on('open', () => this.onOpen());
    this.later(QUEUE_PROBE_MS, () => this.probeQueue());
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.onServerEvent(data.toString());
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (this.openedAt === undefined) {
        const refused = err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' || err.code === 'EHOSTUNREACH';
        this.finish(refused ? 'refused' : 'failed', { error: err.code ?? err.message });
      }
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
  }

  private readonly onAbort = (): void => {
    if (this.finished) return;
    if (this.ws !== undefined && this.ws.readyState === WebSocket.OPEN) {
      this.closeRequested = true;
      this.result.error = 'aborted';
      this.ws.close(CLOSE_NORMAL);
      this.later(2000, () => this.finish('aborted', { error: 'aborted' }));
    } else {
      this.ws?.terminate();
      this.finish('aborted', { error: 'aborted' });
    }
  };

  /** The upgrade is late: ask the backend's /metrics whether it is full or slow (see the header). */
  private probeQueue(): void {
    if (this.openedAt !== undefined || this.finished) return;
    const t0 = performance.now();
    const max = this.o.backendMaxSessions ?? UNMUTE_MAX_CLIENTS;
    fetch(`${httpBaseUrl(this.o.url)}/metrics`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
      .then(async (res) => activeSessionsIn(await res.text()))
      .catch(() => null)
      .then((active) => {
        if (this.result.queueCause !== undefined) return;
        if (active === null) this.result.queueCause = 'slow-server';
        else if (active === undefined) this.result.queueCause = performance.now() - t0 < SLOW_PROBE_MS ? 'slot' : 'slow-server';
        else this.result.queueCause = active > max ? 'slot' : 'slow-server';
      }, () => undefined);
  }

  private onOpen(): void {
    const now = performance.now();
    this.openedAt = now;
    this.result.queuedMs = now - this.attemptAt;
    this.o.onOpen?.(this.result.queuedMs);
    // An initial update is what makes Unmute greet the user.
    this.send({
      type: 'session.update',
      session: { instructions: this.o.instructions === undefined ? { type: 'smalltalk' } : this.o.instructions, voice: this.o.voice ?? null, allow_recording: false },
    });
    if (this.o.durationMs !== undefined) this.later(this.o.durationMs, () => this.end());
    if (this.o.instructions === null) {
      // Without instructions Unmute does not greet: the user speaks first.
      this.startSpeaking();
    } else {
      this.armReplyDeadline(); // the greeting
    }
    this.scheduleChunk();
  }

  // ---- outgoing audio, real time, drift-corrected ----

  private scheduleChunk(): void {
    const due = this.openedAt! + this.chunkIndex * this.chunkMs;
    this.audioTimer = setTimeout(() => this.sendChunk(), Math.max(0, due - performance.now()));
  }

  private sendChunk(): void {
    if (this.finished || this.ws?.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    const packets: Uint8Array[] = [];
    let filled = 0;
    let speechMsInChunk = 0;
    while (filled < this.chunkMs) {
      if (this.speechLeftMs > 0) {
        const { packet, ms } = this.speech.next();
        packets.push(packet);
        filled += ms;
        speechMsInChunk += ms;
        this.speechLeftMs -= ms;
        if (this.speechLeftMs <= 0) {
          this.speechLeftMs = 0;
          // The utterance's audio ends inside this chunk, in real time.
          this.speechEndAt = now + speechMsInChunk;
          this.result.userTurns++;
          this.userTurnPending = true;
          this.armReplyDeadline();
        }
      } else {
        packets.push(this.silence[this.silenceIndex++ % this.silence.length]!);
        filled += 20;
      }
    }
    if (speechMsInChunk > 0 && this.speechStartAt === undefined) {
      this.speechStartAt = now;
      this.awaitingTranscript = true;
    }
    const bytes = this.writer.write(packets);
    this.send({ type: 'input_audio_buffer.append', audio: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') });
    this.chunkIndex++;
    this.scheduleChunk();
  }

  private startSpeaking(): void {
    if (this.finished || this.closeRequested) return;
    this.speechLeftMs = Math.max(20, sample(this.o.speechMs ?? DEFAULT_SPEECH, this.rng));
    // Each utterance starts at the beginning of a (new) clip.
    if (this.o.speech === undefined && this.realAudio) this.speech = clipSpeech(this.rng);
    this.speechStartAt = undefined;
    this.speechEndAt = undefined;
    this.pendingStt = undefined;
    this.clearReplyDeadline(); // re-armed when the utterance ends
  }

  // ---- incoming events ----

  private onServerEvent(text: string): void {
    let e: IncomingServerEvent;
    try {
      e = JSON.parse(text) as IncomingServerEvent;
    } catch {
      return;
    }
    const now = performance.now();
    switch (e.type) {
      case 'conversation.item.input_audio_transcription.delta':
        if (this.awaitingTranscript && this.speechStartAt !== undefined && typeof e.delta === 'string' && e.delta !== '') {
          this.awaitingTranscript = false;
          this.pendingStt = now - this.speechStartAt;
        }
        return;
      case 'response.created': {
        const afterUser = this.userTurnPending;
        this.userTurnPending = false;
        this.awaitingTranscript = false;
        const r: ReplyTiming & { createdAt?: number; textAt?: number } = {
          index: this.result.replies.length,
          afterUserTurn: afterUser,
          audioMs: 0,
          completed: false,
          createdAt: now,
        };
        if (afterUser) {
          if (this.pendingStt !== undefined) r.sttMs = this.pendingStt;
          if (this.speechEndAt !== undefined) r.vadMs = now - this.speechEndAt;
        }
        this.pendingStt = undefined;
        this.reply = r;
        this.result.replies.push(r);
        return;
      }
      case 'unmute.response.text.delta.ready': {
        const r = this.reply;
        if (r !== undefined && r.textAt === undefined) {
          r.textAt = now;
          if (r.createdAt !== undefined) r.llmMs = now - r.createdAt;
        }
        return;
      }
      case 'response.audio.delta': {
        const r = this.reply;
        if (r === undefined) return;
        if (r.ttsStartMs === undefined && r.textAt !== undefined) {
          r.ttsStartMs = now - r.textAt;
          if (r.afterUserTurn && this.speechEndAt !== undefined) r.responseMs = now - this.speechEndAt;
        }
        if (typeof e.delta === 'string') r.audioMs += this.audioDurationMs(Buffer.from(e.delta, 'base64'));
        return;
      }
      case 'response.audio.done': {
        const r = this.reply;
        if (r !== undefined) {
          r.completed = true;
          delete r.createdAt;
          delete r.textAt;
        }
        this.reply = undefined;
        this.clearReplyDeadline();
        const turns = this.turns;
        if (turns !== undefined && this.result.userTurns >= turns && this.o.durationMs === undefined) {
          this.end();
          return;
        }
        if (turns !== undefined && this.result.userTurns >= turns) return; // duration mode: stay silent
        const think = sample(this.o.thinkMs ?? constant(0), this.rng);
        if (think <= 0) this.startSpeaking();
        else this.later(think, () => this.startSpeaking());
        return;
      }
      case 'unmute.interrupted_by_vad': {
        if (this.reply !== undefined) {
          delete this.reply.createdAt;
          delete this.reply.textAt;
        }
        this.reply = undefined;
        return;
      }
      case 'error': {
        if (this.result.serverErrors.length < MAX_SERVER_ERRORS_KEPT) {
          this.result.serverErrors.push({ type: String(e.error?.type ?? '?'), message: String(e.error?.message ?? '') });
        }
        return;
      }
      default:
        return;
    }
  }

  private audioDurationMs(bytes: Uint8Array): number {
    let ms = 0;
    for (const p of this.audioIn.push(bytes)) {
      if (isOpusHead(p) || isOpusTags(p)) continue;
      ms += (opusPacketInfo(p)?.samples48k ?? 0) / 48;
    }
    return ms;
  }

  // ---- ending ----

  private armReplyDeadline(): void {
    this.clearReplyDeadline();
    const ms = this.o.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    this.replyDeadline = setTimeout(() => {
      if (this.finished) return;
      this.result.error = `no reply within ${ms} ms`;
      this.closeRequested = true;
      this.ws?.close(CLOSE_NORMAL);
      this.later(2000, () => this.finish('failed', {}));
    }, ms);
  }

  private clearReplyDeadline(): void {
    if (this.replyDeadline !== undefined) clearTimeout(this.replyDeadline);
    this.replyDeadline = undefined;
  }

  /** The client ends the conversation normally. */
  private end(): void {
    if (this.finished || this.closeRequested) return;
    this.closeRequested = true;
    this.ws?.close(CLOSE_NORMAL);
    // If the server never answers the close frame, do not hang.
    this.later(5000, () => {
      this.ws?.terminate();
      this.finish('completed', { closedBy: 'client', closeCode: CLOSE_NORMAL });
    });
  }

  private onClose(code: number, reason: string): void {
    if (this.finished) return;
    if (this.openedAt === undefined) {
      this.finish('refused', { closeCode: code, error: this.result.error ?? 'connection closed before the upgrade' });
      return;
    }
    if (this.closeRequested) {
      const outcome: SessionOutcome = this.result.error === 'aborted' ? 'aborted' : this.result.error !== undefined ? 'failed' : 'completed';
      this.finish(outcome, { closedBy: 'client', closeCode: code, closeReason: reason });
      return;
    }
    // The server closed: 1000 is the assistant ending the conversation ("bye!"), anything else drops it.
    this.finish(code === CLOSE_NORMAL ? 'completed' : 'dropped', { closedBy: 'server', closeCode: code, closeReason: reason });
  }

  private finish(outcome: SessionOutcome, extra: Partial<SessionResult>): void {
    if (this.finished) return;
    this.finished = true;
    if (this.audioTimer !== undefined) clearTimeout(this.audioTimer);
    this.clearReplyDeadline();
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.o.signal?.removeEventListener('abort', this.onAbort);
    if (this.ws !== undefined && this.ws.readyState !== WebSocket.CLOSED) {
      // Nothing more to read: make sure no socket outlives the session.
      if (this.ws.readyState === WebSocket.OPEN) this.ws.close(CLOSE_NORMAL);
      const ws = this.ws;
      setTimeout(() => ws.terminate(), 1000).unref();
    }
    const r = this.result;
    Object.assign(r, extra);
    r.outcome = outcome;
    r.durationMs = this.openedAt === undefined ? 0 : performance.now() - this.openedAt;
    for (const reply of r.replies) {
      delete (reply as { createdAt?: number }).createdAt;
      delete (reply as { textAt?: number }).textAt;
    }
    this.resolve(r);
  }

  private later(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  private send(event: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(event));
  }
}

/** worker_active_sessions of an exposition; undefined when it has none (not an Unmute backend). */
function activeSessionsIn(text: string): number | undefined {
  const m = /^worker_active_sessions (\S+)$/m.exec(text);
  const v = m === null ? NaN : Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}
