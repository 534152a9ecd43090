// Test helpers: a scripted realtime client that streams real Ogg/Opus and records server events.
import WebSocket from 'ws';
import { OPUS_SILENCE_20MS, noisePacket } from '../../../src/sim/audio/opus.ts';
import { OggOpusWriter } from '../../../src/sim/audio/stream.ts';
import { seededRng } from '../../../src/sim/random.ts';
import type { SimWorkerConfigInput } from '../../../src/sim/worker/config.ts';

export interface Received {
  type: string;
  at: number;
  [k: string]: unknown;
}

const NOISE = Array.from({ length: 8 }, (_, i) => noisePacket(60, seededRng(i + 1)));

/** Fast, deterministic latencies for conformance tests. */
export const FAST: SimWorkerConfigInput = {
  sttDelayMs: { kind: 'constant', value: 150 },
  llmTtftMs: { kind: 'constant', value: 100 },
  ttsTtftMs: { kind: 'constant', value: 120 },
  replyWords: { kind: 'constant', value: 3 },
  ttsMsPerWord: 100,
  userWordMs: 200,
  vadSilenceMs: 240,
  llmWordsPerSecond: 100,
};

export class TestClient {
  readonly ws: WebSocket;
  readonly events: Received[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly writer = new OggOpusWriter(99);
  private timer: NodeJS.Timeout | undefined;
  private speechLeft = 0;
  private waiters: Array<{ pred: (e: Received) => boolean; resolve: (e: Received) => void }> = [];

  constructor(baseUrl: string) {
    this.ws = new WebSocket(`${baseUrl.replace('http://', 'ws://')}/v1/realtime`, ['realtime']);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    void this.closed.then(() => this.stopAudio());
    this.ws.on('message', (data) => {
      const e = { ...(JSON.parse(data.toString()) as Record<string, unknown>), at: performance.now() } as Received;
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(e)) return true;
        w.resolve(e);
        return false;
      });
    });
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  update(): void {
    this.send({ type: 'session.update', session: { instructions: { type: 'smalltalk' }, voice: 'v', allow_recording: false } });
  }

  /**
   * Streams 80 ms chunks in real time: silence, or speech while speaking. Default: the stand-in
   * packets (3-byte digital silence, noise frames); or given packets (e.g. a real encoder's).
   */
  startAudio(audio: { silence?: readonly Uint8Array[]; speech?: readonly Uint8Array[] } = {}): void {
    let s = 0;
    let v = 0;
    const tick = (): void => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      const packets: Uint8Array[] = [];
      for (let i = 0; i < 4; i++) {
        if (this.speechLeft > 0) {
          packets.push(audio.speech ? audio.speech[v++ % audio.speech.length]! : NOISE[i]!);
          this.speechLeft -= 20;
        } else packets.push(audio.silence ? audio.silence[s++ % audio.silence.length]! : OPUS_SILENCE_20MS);
      }
      this.send({ type: 'input_audio_buffer.append', audio: Buffer.from(this.writer.write(packets)).toString('base64') });
      this.timer = setTimeout(tick, 80);
    };
    tick();
  }

  speak(ms: number): void {
    this.speechLeft = ms;
  }

  stopAudio(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  waitFor(pred: (e: Received) => boolean, timeoutMs = 5000): Promise<Received> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out; got ${this.events.map((e) => e.type).join(', ')}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }

  /** Waits for the n-th (1-based) event of a type. */
  waitForNth(type: string, n: number, timeoutMs = 5000): Promise<Received> {
    const ofType = (): Received[] => this.events.filter((e) => e.type === type);
    if (ofType().length >= n) return Promise.resolve(ofType()[n - 1]!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${type} #${n}; got ${this.events.map((e) => e.type).join(', ')}`)), timeoutMs);
      // Events are recorded before waiters run, so the count includes the new one.
      this.waiters.push({ pred: (e) => e.type === type && ofType().length >= n, resolve: (e) => (clearTimeout(t), resolve(e)) });
    });
  }

  close(): void {
    this.stopAudio();
    this.ws.close(1000);
  }
}

export async function scrape(baseUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
