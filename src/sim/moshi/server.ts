// A simulated moshi-server (kyutai-labs/moshi rust/moshi-server) with one module: Unmute's STT
// (BatchedAsr at /api/asr-streaming) or TTS (Py at /api/tts_streaming). Seen from outside as the
// real one:
// - `batchSize` channels; the websocket upgrade is always accepted (after the kyutai-api-key
//   check: 401 before the upgrade otherwise), then a stream beyond the slots gets
//   {"type":"Error","message":"no free channels"} and is closed; a stream with a slot gets Ready;
// - msgpack messages (Audio/Step/Word/EndWord for the STT; Text/Eos/Audio/Text for the TTS);
// - one model loop per server: every `stepMs`, each channel with work does one step (batched);
// - /api/build_info, /api/modules_info (used_slots/total_slots as strings), /metrics with
//   moshi's own names (asr_* or py_*), registered lazily;
// - start-up takes `startupMs` before it listens (models load first);
// - no graceful shutdown: stop() cuts every socket without a close frame (clients see 1006).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { F32, decode, encode, type MsgValue } from '../msgpack.ts';
import { seededRng, type Rng } from '../random.ts';
import { AsrChannel, DEFAULT_ASR_MODEL, type AsrModelConfig } from './asr-model.ts';
import { ASR_CONN_STEPS_BUCKETS, ASR_STEP_BUCKETS, MOSHI_METRICS_CONTENT_TYPE, MoshiMetrics, PY_CONN_STEPS_BUCKETS, PY_STEP_BUCKETS } from './metrics.ts';
import { TtsChannel, TTS_FRAME_SAMPLES } from './tts-model.ts';

export type MoshiKind = 'stt' | 'tts';

export interface MoshiServerOptions {
  kind: MoshiKind;
  host: string;
  port: number;
  /** The module's batch_size: concurrent streams (Unmute's prod configs: STT 64, TTS 16). */
  batchSize: number;
  /** Model loading before the server listens (real ones: minutes). */
  startupMs?: number;
  /** Duration of one batched model step. */
  stepMs?: number;
  asr?: Partial<AsrModelConfig>;
  /** TTS: spoken length of one word, and text-to-first-audio delay. */
  ttsMsPerWord?: number;
  ttsTtftMs?: number;
  authorizedIds?: string[];
  seed?: number;
}

export const STT_PATH = '/api/asr-streaming';
export const TTS_PATH = '/api/tts_streaming';

interface Channel {
  ws: WebSocket;
  asr?: AsrChannel;
  tts?: TtsChannel;
  steps: number;
  ttsReadyAt?: number;
  closed: boolean;
}

const BUILD_INFO = {
  build_timestamp: '2025-06-05T00:00:00Z',
  build_date: '2025-06-05',
  git_branch: 'main',
  git_timestamp: '2025-06-05T00:00:00Z',
  git_date: '2025-06-05',
  git_hash: 'simulated',
  git_describe: 'v0.6.4-sim',
  rustc_host_triple: 'x86_64-unknown-linux-gnu',
  rustc_version: '1.86.0',
  cargo_target_triple: 'x86_64-unknown-linux-gnu',
};

export class MoshiServer {
  readonly options: Required<Omit<MoshiServerOptions, 'asr'>> & { asr: AsrModelConfig };
  readonly metrics = new MoshiMetrics();
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #slots: Array<Channel | undefined>;
  readonly #sockets = new Set<Socket>();
  readonly #rng: Rng;
  #loop: NodeJS.Timeout | undefined;
  #globalStep = 0;
  #port = 0;
  #stopped = false;
  /** A pre-encoded Audio message: the TTS's PCM content does not matter to anyone downstream. */
  readonly #audioMessage: Uint8Array;

  constructor(o: MoshiServerOptions) {
    this.options = {
      startupMs: 0,
      stepMs: o.kind === 'stt' ? 30 : 40,
      ttsMsPerWord: 350,
      ttsTtftMs: 300,
      authorizedIds: ['public_token'],
      seed: 1,
      ...o,
      asr: { ...DEFAULT_ASR_MODEL, ...o.asr },
    };
    this.#rng = seededRng(this.options.seed);
    this.#slots = new Array<Channel | undefined>(o.batchSize).fill(undefined);
    const pcm = new Float32Array(TTS_FRAME_SAMPLES);
    for (let i = 0; i < pcm.length; i++) pcm[i] = 0.1 * Math.sin(i / 10);
    this.#audioMessage = encode({ type: 'Audio', pcm });
    this.#wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
    this.#http = createServer((req, res) => this.#route(req, res));
    this.#http.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    this.#http.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
  }

  get path(): string {
    return this.options.kind === 'stt' ? STT_PATH : TTS_PATH;
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `ws://${this.options.host}:${this.#port}`;
  }

  get usedSlots(): number {
    return this.#slots.filter((c) => c !== undefined).length;
  }

  async listen(): Promise<this> {
    if (this.options.startupMs > 0) await new Promise((r) => setTimeout(r, this.options.startupMs));
    if (this.#stopped) return this;
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.options.port, this.options.host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    const a = this.#http.address();
    if (a !== null && typeof a === 'object') this.#port = a.port;
    return this;
  }

  /** The process dies: every connection is cut, no close frame (moshi-server has no graceful shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#loop !== undefined) clearTimeout(this.#loop);
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#http.listening ? this.#http.close(() => resolve()) : resolve()));
  }

  #prefix(): 'asr' | 'py' {
    return this.options.kind === 'stt' ? 'asr' : 'py';
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'GET' && path === '/api/build_info') return json(200, BUILD_INFO);
    if (req.method === 'GET' && path === '/api/modules_info') {
      const used = String(this.usedSlots);
      const total = String(this.options.batchSize);
      return json(200, [
        this.options.kind === 'stt'
          ? { type: 'batched_asr', path: STT_PATH, lm: 'hf://kyutai/stt-1b-en_fr-candle/model.safetensors', audio_tokenizer: 'hf://kyutai/stt-1b-en_fr-candle/mimi-pytorch-e351c8d8@125.safetensors', used_slots: used, total_slots: total }
          : { type: 'py', path: TTS_PATH, script: 'tts.py', used_slots: used, total_slots: total },
      ]);
    }
    if (req.method === 'GET' && path === '/metrics') {
      const body = this.metrics.text();
      res.writeHead(200, { 'content-type': MOSHI_METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'content-length': 0 });
    res.end();
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== this.path) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    const key = req.headers['kyutai-api-key'] ?? url.searchParams.get('auth_id') ?? '';
    if (!this.options.authorizedIds.includes(String(key))) {
      socket.end('HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
  }

  #accept(ws: WebSocket): void {
    const p = this.#prefix();
    this.metrics.inc(`${p}_connect`, `${p === 'asr' ? 'asr' : 'py'} connections`);
    const slot = this.#slots.findIndex((c) => c === undefined);
    if (slot < 0) {
      ws.send(encode({ type: 'Error', message: 'no free channels' }));
      ws.close();
      return;
    }
    const ch: Channel = { ws, steps: 0, closed: false };
    if (this.options.kind === 'stt') ch.asr = new AsrChannel(this.options.asr, this.#rng);
    else ch.tts = new TtsChannel({ msPerWord: this.options.ttsMsPerWord });
    this.#slots[slot] = ch;
    this.metrics.gauge(`${p}_open_channels`, 'open channels', 1);
    const free = (): void => {
      if (ch.closed) return;
      ch.closed = true;
      this.#slots[slot] = undefined;
      this.metrics.gauge(`${p}_open_channels`, 'open channels', -1);
      if (p === 'asr') this.metrics.observe('asr_connection_num_steps', 'steps per connection', ASR_CONN_STEPS_BUCKETS, ch.steps);
      else this.metrics.observe('py_model_connection_num_steps', 'steps per connection', PY_CONN_STEPS_BUCKETS, ch.steps);
    };
    ws.on('close', free);
    ws.on('error', free);
    // A stream that sends nothing for 20 s ends (moshi's recv loop timeout).
    let idle = setTimeout(() => ws.terminate(), 20_000);
    ws.on('message', (data, isBinary) => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.terminate(), 20_000);
      if (!isBinary || ch.closed) return;
      let msg: MsgValue;
      try {
        msg = decode(data as Buffer);
      } catch {
        return;
      }
      this.#onMessage(ch, msg as { type?: string; pcm?: unknown; text?: unknown });
    });
    ws.on('close', () => clearTimeout(idle));
    // Ready comes from the model loop's next iteration.
    setImmediate(() => {
      if (!ch.closed) ws.send(encode({ type: 'Ready' }));
    });
  }

  #onMessage(ch: Channel, msg: { type?: string; pcm?: unknown; text?: unknown }): void {
    if (ch.asr !== undefined && msg.type === 'Audio' && msg.pcm instanceof Float32Array) ch.asr.push(msg.pcm);
    else if (ch.tts !== undefined && msg.type === 'Text' && typeof msg.text === 'string') {
      const now = performance.now();
      ch.tts.text(msg.text, now);
      if (ch.tts.firstTextAt !== undefined) ch.ttsReadyAt ??= ch.tts.firstTextAt + this.options.ttsTtftMs;
    } else if (ch.tts !== undefined && msg.type === 'Eos') {
      ch.tts.eos();
      ch.ttsReadyAt ??= performance.now();
    } else return;
    this.#arm();
  }

  #arm(): void {
    if (this.#loop !== undefined || this.#stopped) return;
    this.#loop = setTimeout(() => {
      this.#loop = undefined;
      this.#step();
    }, this.options.stepMs);
  }

  /** One batched model step over every channel that has work. */
  #step(): void {
    const p = this.#prefix();
    let active = false;
    let more = false;
    const now = performance.now();
    for (const ch of this.#slots) {
      if (ch === undefined || ch.closed) continue;
      if (ch.asr !== undefined && ch.asr.framesReady > 0) {
        active = true;
        ch.steps++;
        for (const m of ch.asr.step(this.#globalStep)) {
          ch.ws.send(m.type === 'Step' ? encode({ ...m, prs: m.prs.map((x) => new F32(x)) }) : encode(m));
        }
        if (ch.asr.framesReady > 0) more = true;
      } else if (ch.tts !== undefined) {
        if (ch.ttsReadyAt === undefined) continue;
        if (now < ch.ttsReadyAt) {
          more = true;
          continue;
        }
        const out = ch.tts.generate(1);
        if (out.length > 0) {
          active = true;
          ch.steps++;
          for (const m of out) ch.ws.send(m.type === 'Audio' ? this.#audioMessage : encode(m));
        } else this.metrics.inc('py_missing_words_steps', 'steps a channel lacked words');
        if (ch.tts.done) ch.ws.close(1000);
        else more = true;
      }
    }
    if (active) {
      this.#globalStep++;
      if (p === 'asr') this.metrics.observe('asr_model_step_duration', 'model step duration', ASR_STEP_BUCKETS, this.options.stepMs / 1000);
      else {
        this.metrics.inc('py_total_steps', 'model loop iterations');
        this.metrics.inc('py_active_steps', 'iterations with a step');
        this.metrics.observe('py_model_step_duration', 'model step duration', PY_STEP_BUCKETS, this.options.stepMs / 1000);
      }
    }
    if (more) this.#arm();
  }
}

export async function startMoshiServer(o: MoshiServerOptions): Promise<MoshiServer> {
  return new MoshiServer(o).listen();
}
