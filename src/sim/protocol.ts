// Unmute's realtime websocket protocol (an extension of OpenAI's realtime API), the subset both
// the simulated backend and the load generator speak. Shapes follow unmute/openai_realtime_api_events.py:
// every event has `type` and `event_id`; pydantic dumps unset optional fields as null.
import { z } from 'zod';

export const REALTIME_PATH = '/v1/realtime';
export const REALTIME_SUBPROTOCOL = 'realtime';
export const SAMPLE_RATE = 24000;
/** Unmute's audio step: 1920 samples at 24 kHz. */
export const FRAME_MS = 80;

export const CLOSE_NORMAL = 1000;
export const CLOSE_INTERNAL_ERROR = 1011;
export const CLOSE_SERVICE_RESTART = 1012;

const instructionTypes = ['constant', 'smalltalk', 'guess_animal', 'quiz_show', 'news', 'unmute_explanation'] as const;

// Unmute's Instructions union is discriminated by `type`; extra fields (text, language) depend on
// the type. We check the discriminator and keep the rest as sent.
export const instructionsSchema = z.looseObject({ type: z.enum(instructionTypes) });

export const sessionConfigSchema = z.object({
  instructions: instructionsSchema.nullable().optional(),
  voice: z.string().nullable().optional(),
  // Required in Unmute's SessionConfig (no default): omitting it is an invalid_request_error.
  allow_recording: z.boolean(),
});
export type SessionConfig = z.infer<typeof sessionConfigSchema>;

const eventId = z.string().optional();

export const clientEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('session.update'), event_id: eventId, session: sessionConfigSchema }),
  z.object({ type: z.literal('input_audio_buffer.append'), event_id: eventId, audio: z.string() }),
  z.object({ type: z.literal('unmute.input_audio_buffer.append_anonymized'), event_id: eventId, number_of_samples: z.number().int() }),
  z.object({ type: z.literal('unmute.additional_outputs'), event_id: eventId, args: z.unknown() }),
]);
export type ClientEvent = z.infer<typeof clientEventSchema>;

export type ParsedClientEvent =
  | { ok: true; event: ClientEvent }
  | { ok: false; message: string; details: unknown };

/**
 * Parses one text frame. The audio append is by far the most frequent message, so it takes a
 * fast path that checks exactly what the schema would.
 */
export function parseClientEvent(text: string): ParsedClientEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `Invalid JSON: ${(err as Error).message}`, details: null };
  }
  if (typeof raw === 'object' && raw !== null && (raw as { type?: unknown }).type === 'input_audio_buffer.append') {
    const r = raw as { audio?: unknown; event_id?: unknown };
    if (typeof r.audio === 'string' && (r.event_id === undefined || typeof r.event_id === 'string')) {
      return { ok: true, event: { type: 'input_audio_buffer.append', audio: r.audio, event_id: r.event_id } };
    }
  }
  const parsed = clientEventSchema.safeParse(raw);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => ({ type: i.code, loc: i.path, msg: i.message }));
    return { ok: false, message: 'Invalid message', details };
  }
  return { ok: true, event: parsed.data };
}

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * event_<21 chars> like Unmute's random_id. A random per-connection prefix plus a counter keeps
 * ids unique without drawing 21 random characters for every audio frame.
 */
export class EventIds {
  private readonly prefix: string;
  private n = 0;
  constructor(random: () => number = Math.random) {
    let p = '';
    for (let i = 0; i < 13; i++) p += ID_ALPHABET[Math.floor(random() * ID_ALPHABET.length)];
    this.prefix = p;
  }
  next(): string {
    let n = this.n++;
    let s = '';
    for (let i = 0; i < 8; i++) {
      s = ID_ALPHABET[n % 62] + s;
      n = Math.floor(n / 62);
    }
    return `event_${this.prefix}${s}`;
  }
}

export type ErrorType = 'fatal' | 'warning' | 'invalid_request_error';

export interface ChatMessage {
  role: 'user' | 'assistant' | 'system';
  content: string;
}

/** Server event payloads (without event_id, added when sent). */
export type ServerEvent =
  | { type: 'error'; error: { type: ErrorType; code: null; message: string; param: null; details: unknown } }
  | { type: 'session.updated'; session: unknown }
  | { type: 'response.created'; response: { object: 'realtime.response'; status: 'in_progress'; voice: string; chat_history: ChatMessage[] } }
  | { type: 'unmute.response.text.delta.ready'; delta: string }
  | { type: 'response.text.delta'; delta: string }
  | { type: 'response.text.done'; text: string }
  | { type: 'response.audio.delta'; delta: string }
  | { type: 'response.audio.done' }
  | { type: 'conversation.item.input_audio_transcription.delta'; delta: string; start_time: number }
  | { type: 'input_audio_buffer.speech_started' }
  | { type: 'input_audio_buffer.speech_stopped' }
  | { type: 'unmute.interrupted_by_vad' }
  | { type: 'unmute.additional_outputs'; args: { chat_history: ChatMessage[]; debug_dict: Record<string, unknown>; debug_plot_data: unknown[] } };

export type ServerEventType = ServerEvent['type'];

export function errorEvent(type: ErrorType, message: string, details: unknown = null): ServerEvent {
  return { type: 'error', error: { type, code: null, message, param: null, details } };
}

/** Serialises with `type` first then `event_id`, as pydantic orders the fields. */
export function encodeServerEvent(e: ServerEvent, id: string): string {
  const { type, ...rest } = e;
  return JSON.stringify({ type, event_id: id, ...rest });
}

/** Minimal view of a server event on the client side. */
export interface IncomingServerEvent {
  type: string;
  event_id?: string;
  delta?: string;
  error?: { type?: string; message?: string };
  [k: string]: unknown;
}

/** http(s)://host:port or ws(s)://host:port[/...] -> the websocket URL of /v1/realtime. */
export function realtimeUrl(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (!u.pathname.endsWith(REALTIME_PATH)) u.pathname = u.pathname.replace(/\/+$/, '') + REALTIME_PATH;
  return u.toString();
}

/** ws(s)://host:port[/v1/realtime] -> http(s)://host:port (for /v1/health, /v1/voices). */
export function httpBaseUrl(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  u.pathname = u.pathname.endsWith(REALTIME_PATH) ? u.pathname.slice(0, -REALTIME_PATH.length) : u.pathname;
  u.search = '';
  return u.toString().replace(/\/+$/, '');
}
