// What a session holds on the STT, TTS and LLM, whether they are simulated in-process (standalone
// sim-worker) or reached over the network as Unmute does (moshi-server STT/TTS over websockets
// and msgpack, vLLM over HTTP): the session logic is the same either way. Also Unmute's
// find_instance() (unmute/service_discovery.py): the instance search, its metrics and the errors
// that decide how a session is closed.
import { performance } from 'node:perf_hooks';
import type { AsrMessage } from '../moshi/asr-model.ts';
import type { TtsMessage } from '../moshi/tts-model.ts';
import type { Histogram, Counter } from 'prom-client';
import type { WorkerMetrics } from './metrics.ts';

/** Audio for the STT: decoded PCM, or (cheap mode) per packet a length and a level standing for it. */
export type SttAudio = { pcm: Float32Array } | { packets: ReadonlyArray<{ samples: number; level: number }> };

/** An open STT stream (Unmute's SpeechToText after start_up). */
export interface SttLink {
  /** Throws when the stream is gone (Unmute's send on a closed websocket). */
  sendAudio(audio: SttAudio): void;
  /** Set by the session; messages in order. */
  onMessage: (m: AsrMessage) => void;
  /** The stream ended (the server closed it or died). */
  onClosed: () => void;
  close(): void;
}

/** An open TTS stream of one assistant turn, messages as the server sends them (not paced). */
export interface TtsLink {
  send(text: string): void;
  eos(): void;
  onMessage: (m: TtsMessage) => void;
  /** The server closed the stream; `error` when it did not close cleanly. */
  onClosed: (error: boolean) => void;
  close(): void;
}

export interface ChatRequest {
  messages: Array<{ role: string; content: string }>;
  temperature: number;
  signal: AbortSignal;
}

/** The LLM: a stream of text pieces (vLLM deltas); rejects on a failed request. */
export interface LlmClient {
  chat(req: ChatRequest): AsyncIterable<string>;
  /** Unmute's autoselect_model(): a synchronous models.list() until it first succeeds (it blocks the event loop). Throws on failure. */
  autoselectModel(): string | Promise<string>;
}

export type ServiceName = 'stt' | 'tts';

/** The instance answered {"type":"Error"} to the handshake: no free slot. */
export class MissingServiceAtCapacity extends Error {
  readonly service: ServiceName;
  constructor(service: ServiceName) {
    super(`Too many people are connected to service '${service}'. Please try again later.`);
    this.service = service;
  }
}

/** No instance answered within the trial's 0.5 s. */
export class MissingServiceTimeout extends Error {
  readonly service: ServiceName;
  constructor(service: ServiceName) {
    super(`Service '${service}' timed out. Please try again later.`);
    this.service = service;
  }
}

/** Anything else (connection refused, HTTP 401/5xx on the upgrade, a dead stream): Unmute's generic failure. */
export class ServiceHardError extends Error {}

/** One instance to try: resolves with an open link, or rejects (capacity, refused, ...). */
export type InstanceAttempt<L> = (signal: AbortSignal) => Promise<L>;

export const FIND_TIMEOUT_MS = 500;
export const FIND_MAX_TRIALS = 3;

function missMetrics(m: WorkerMetrics, service: ServiceName): { misses: Counter; hard: Counter; ping: Histogram; find: Histogram } {
  return service === 'stt'
    ? { misses: m.sttMisses, hard: m.sttHardMisses, ping: m.sttPingTime, find: m.sttFindTime }
    : { misses: m.ttsMisses, hard: m.ttsHardMisses, ping: m.ttsPingTime, find: m.ttsFindTime };
}

/**
 * Unmute's find_instance(): the instances in the given (already shuffled) order, at most 3 tried,
 * 0.5 s each (connection and waiting for Ready alike). Metrics as Unmute counts them: a capacity
 * answer observes the ping time, any other failure is a hard miss; the last failure is a service
 * miss and is rethrown (a timeout as MissingServiceTimeout).
 */
export async function findInstance<L>(service: ServiceName, instances: readonly InstanceAttempt<L>[], metrics: WorkerMetrics): Promise<L> {
  const m = missMetrics(metrics, service);
  const t0 = performance.now();
  let trials = Math.min(instances.length, FIND_MAX_TRIALS);
  for (const attempt of instances) {
    const started = performance.now();
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      const link = await Promise.race([
        attempt(ctl.signal),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            ctl.abort();
            reject(new MissingServiceTimeout(service));
          }, FIND_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      const elapsed = (performance.now() - started) / 1000;
      m.ping.observe(elapsed);
      m.find.observe((performance.now() - t0) / 1000);
      return link;
    } catch (err) {
      clearTimeout(timer);
      trials--;
      if (err instanceof MissingServiceAtCapacity) m.ping.observe((performance.now() - started) / 1000);
      else {
        metrics.hardServiceMisses.inc();
        m.hard.inc();
      }
      if (trials > 0) continue;
      metrics.serviceMisses.inc();
      m.misses.inc();
      throw err;
    }
  }
  // DNS gave no address: Unmute's `raise AssertionError("Should not be reached.")`.
  throw new ServiceHardError(`no instance of ${service}`);
}
