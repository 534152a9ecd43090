// The STT, TTS and LLM of a sim-worker reached over the network, the way Unmute's backend reaches
// them (KYUTAI_STT_URL, KYUTAI_TTS_URL, KYUTAI_LLM_URL, KYUTAI_LLM_MODEL):
// - STT/TTS: the URL's host resolves to every address (a headless Service: every ready endpoint;
//   the resolver stands in for cluster DNS), cached 0.5 s, shuffled; each address is one instance
//   for find_instance(); a stream is a moshi websocket with the kyutai-api-key header, msgpack
//   messages, Ready or Error as the first answer;
// - LLM: OpenAI chat completions, streamed (server-sent events), with openai's 2 retries on a
//   connection error or a 5xx; autoselect_model() is a synchronous GET /v1/models (run in a child
//   process so that this thread blocks as Python's does), retried until it first succeeds;
// - /v1/health's checks: GET /api/build_info of STT and TTS, GET /v1/models of the LLM, 2 s each.
import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import WebSocket from 'ws';
import type { AsrMessage } from '../moshi/asr-model.ts';
import { STT_PATH, TTS_PATH } from '../moshi/server.ts';
import type { TtsMessage } from '../moshi/tts-model.ts';
import { decode, encode } from '../msgpack.ts';
import type { Rng } from '../random.ts';
import { MissingServiceAtCapacity, ServiceHardError, type ChatRequest, type InstanceAttempt, type LlmClient, type ServiceName, type SttAudio, type SttLink, type TtsLink } from './links.ts';
import type { RemoteServices } from './server.ts';

/** Host name -> addresses (IPv4), as DNS would answer; [] when it has none. */
export type Resolver = (host: string) => Promise<string[]>;

export const dnsResolver: Resolver = async (host) => (await lookup(host, { all: true, family: 4 })).map((a) => a.address);

export interface RemoteServiceOptions {
  sttUrl: string;
  ttsUrl: string;
  llmUrl: string;
  llmModel: string | null;
  llmApiKey?: string;
  resolver?: Resolver;
  rng: Rng;
  /** The voice asked for in the TTS query (Unmute: the session's voice). */
  voice?: string;
}

const API_KEY_HEADER = { 'kyutai-api-key': 'public_token' };

function splitUrl(url: string): { proto: string; host: string; port: string } {
  const u = new URL(url.replace(/^http/, 'ws'));
  if (u.port === '') throw new Error(`${url}: a port is required (Unmute splits host:port)`);
  return { proto: u.protocol.replace(':', ''), host: u.hostname, port: u.port };
}

class Cached {
  readonly #resolver: Resolver;
  readonly #cache = new Map<string, { at: number; value: Promise<string[]> }>();
  constructor(resolver: Resolver) {
    this.#resolver = resolver;
  }
  /** Unmute caches each host's answer for 0.5 s. */
  resolve(host: string): Promise<string[]> {
    const now = performance.now();
    const hit = this.#cache.get(host);
    if (hit !== undefined && now - hit.at < 500) return hit.value;
    const value = this.#resolver(host);
    value.catch(() => this.#cache.delete(host));
    this.#cache.set(host, { at: now, value });
    return value;
  }
  /** The last answer, for synchronous callers. */
  last(host: string): Promise<string[]> | undefined {
    return this.#cache.get(host)?.value;
  }
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Opens a moshi websocket and waits for its first meaningful message. */
function openMoshi(service: ServiceName, url: string, signal: AbortSignal): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: API_KEY_HEADER, perMessageDeflate: false });
    ws.binaryType = 'nodebuffer';
    let answered = false;
    let skipped = 0;
    // On a timeout Unmute's start_up is cancelled and never closes the socket: the server keeps
    // the slot until its own timeout (the leak is reproduced, not fixed).
    signal.addEventListener('abort', () => ws.removeAllListeners('message'), { once: true });
    ws.on('message', (data) => {
      if (answered) return;
      let msg: { type?: string };
      try {
        msg = decode(data as Buffer) as { type?: string };
      } catch {
        msg = {};
      }
      if (msg.type === 'Ready') {
        answered = true;
        ws.removeAllListeners('message');
        resolve(ws);
      } else if (msg.type === 'Error') {
        answered = true;
        ws.close();
        reject(new MissingServiceAtCapacity(service));
      } else if (service === 'stt' || ++skipped >= 10) {
        answered = true;
        ws.close();
        reject(new ServiceHardError(`unexpected first message from ${service}: ${msg.type}`));
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      answered = true;
      res.resume();
      reject(new ServiceHardError(`server rejected WebSocket connection: HTTP ${res.statusCode}`));
    });
    ws.on('error', (err) => {
      if (!answered) {
        answered = true;
        reject(new ServiceHardError(err.message));
      }
    });
    ws.on('close', () => {
      if (!answered) {
        answered = true;
        reject(new ServiceHardError(`${service} closed before Ready`));
      }
    });
  });
}

class RemoteStt implements SttLink {
  onMessage: (m: AsrMessage) => void = () => {};
  onClosed: () => void = () => {};
  readonly #ws: WebSocket;
  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      try {
        this.onMessage(decode(data as Buffer) as unknown as AsrMessage);
      } catch {
        // not msgpack: ignored
      }
    });
    ws.on('close', () => this.onClosed());
    ws.on('error', () => undefined);
  }
  sendAudio(audio: SttAudio): void {
    if (this.#ws.readyState !== WebSocket.OPEN) throw new ServiceHardError('received 1006 (abnormal closure); then sent 1006');
    let pcm: Float32Array;
    if ('pcm' in audio) pcm = audio.pcm;
    else {
      // Cheap mode: PCM with the packets' levels (a constant is enough for the STT's energy).
      let n = 0;
      for (const p of audio.packets) n += p.samples;
      pcm = new Float32Array(n);
      let o = 0;
      for (const p of audio.packets) {
        if (p.level !== 0) pcm.fill(p.level, o, o + p.samples);
        o += p.samples;
      }
    }
    this.#ws.send(encode({ type: 'Audio', pcm }));
  }
  close(): void {
    this.#ws.removeAllListeners('message');
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close();
  }
}

class RemoteTts implements TtsLink {
  onMessage: (m: TtsMessage) => void = () => {};
  onClosed: (error: boolean) => void = () => {};
  readonly #ws: WebSocket;
  #closedWithError = false;
  constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      let msg: { type?: string; pcm?: Float32Array; text?: string; start_s?: number; stop_s?: number };
      try {
        msg = decode(data as Buffer) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'Audio') this.onMessage({ type: 'Audio', samples: msg.pcm?.length ?? 0 });
      else if (msg.type === 'Text') this.onMessage({ type: 'Text', text: String(msg.text), start_s: Number(msg.start_s), stop_s: Number(msg.stop_s) });
    });
    ws.on('close', (code) => {
      this.#closedWithError = code !== 1000;
      this.onClosed(this.#closedWithError);
    });
    ws.on('error', () => undefined);
  }
  #send(obj: { type: string; text?: string }): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.send(encode(obj));
    // A stream cut abnormally raises on send (websockets' ConnectionClosedError); a clean close
    // only logs "Can't send" in Unmute.
    else if (this.#closedWithError) throw new ServiceHardError('TTS connection closed with an error');
  }
  send(text: string): void {
    const clean = text.replace(/[*_`]/g, '').replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"').replace(/ : /g, ' ').trim();
    if (clean !== '') this.#send({ type: 'Text', text: clean });
  }
  eos(): void {
    this.#send({ type: 'Eos' });
  }
  close(): void {
    this.#ws.removeAllListeners('message');
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close();
  }
}

/** openai's retry policy: 2 retries on connection errors, 408/409/429 and 5xx; 0.5 s * 2^n, jittered. */
function retryable(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

class RemoteLlm implements LlmClient {
  readonly #o: RemoteServiceOptions;
  readonly #dns: Cached;
  static #model: string | undefined;

  constructor(o: RemoteServiceOptions, dns: Cached) {
    this.#o = o;
    this.#dns = dns;
  }

  async #base(): Promise<string> {
    const { host, port } = splitUrl(this.#o.llmUrl);
    const ips = await this.#dns.resolve(host).catch(() => [] as string[]);
    // A ClusterIP Service: kube-proxy sends each connection to one ready endpoint.
    const ip = ips.length === 0 ? host : ips[Math.floor(this.#o.rng() * ips.length)]!;
    return `${new URL(this.#o.llmUrl).protocol}//${ip}:${port}`;
  }

  async autoselectModel(): Promise<string> {
    if (this.#o.llmModel !== null) return this.#o.llmModel;
    if (RemoteLlm.#model !== undefined) return RemoteLlm.#model;
    // Resolved first (our stand-in for DNS is asynchronous); the request itself blocks the thread.
    const url = `${await this.#base()}/v1/models`;
    const script = `
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      (async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            const res = await fetch(process.argv[1], { signal: AbortSignal.timeout(5000) });
            if (res.status >= 500 && attempt < 2) throw new Error('HTTP ' + res.status);
            const body = await res.json();
            if (!Array.isArray(body.data) || body.data.length !== 1) { console.log(JSON.stringify({ error: 'There are multiple models available. Please specify one.' })); return; }
            console.log(JSON.stringify({ model: body.data[0].id })); return;
          } catch (err) {
            if (attempt >= 2) { console.log(JSON.stringify({ error: 'Connection error.' })); return; }
            await sleep(500 * 2 ** attempt * (0.75 + Math.random() / 4));
          }
        }
      })();`;
    let out: { model?: string; error?: string };
    try {
      out = JSON.parse(execFileSync(process.execPath, ['-e', script, url], { encoding: 'utf8', timeout: 30_000 })) as typeof out;
    } catch {
      out = { error: 'Connection error.' };
    }
    if (out.model === undefined) throw new ServiceHardError(out.error ?? 'Connection error.');
    RemoteLlm.#model = out.model;
    return out.model;
  }

  async *chat(req: ChatRequest): AsyncIterable<string> {
    const model = await this.autoselectModel();
    const body = JSON.stringify({ messages: req.messages, model, stream: true, temperature: req.temperature });
    let res: Response | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetch(`${await this.#base()}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#o.llmApiKey ?? 'EMPTY'}` },
          body,
          signal: req.signal,
        });
        if (!retryable(res.status) || attempt >= 2) break;
      } catch (err) {
        if (req.signal.aborted || attempt >= 2) throw req.signal.aborted ? err : new ServiceHardError('Connection error.');
      }
      await new Promise((r) => setTimeout(r, 500 * 2 ** attempt * (0.75 + this.#o.rng() / 4)));
    }
    if (res === undefined || res.status !== 200 || res.body === null) throw new ServiceHardError(`Error code: ${res?.status ?? 'none'}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const data = event.startsWith('data: ') ? event.slice(6) : '';
        if (data === '' || data === '[DONE]') continue;
        const parsed = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string | null } }> };
        const content = parsed.choices?.[0]?.delta?.content;
        if (typeof content === 'string' && content !== '') yield content;
      }
    }
  }
}

async function upWithin(url: string, headers: Record<string, string> = {}): Promise<boolean> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** STT, TTS and LLM of a worker behind the given URLs. */
export function remoteServices(o: RemoteServiceOptions): RemoteServices {
  const dns = new Cached(o.resolver ?? dnsResolver);
  const stt = splitUrl(o.sttUrl);
  const tts = splitUrl(o.ttsUrl);
  const instances = async <L>(service: ServiceName, where: { proto: string; host: string; port: string }, path: string, make: (ws: WebSocket) => L): Promise<InstanceAttempt<L>[]> => {
    const ips = shuffle([...(await dns.resolve(where.host))], o.rng);
    return ips.map((ip) => async (signal: AbortSignal) => make(await openMoshi(service, `${where.proto}://${ip}:${where.port}${path}`, signal)));
  };
  const ttsPath = (): string => `${TTS_PATH}?format=PcmMessagePack&voice=${encodeURIComponent(o.voice ?? 'unmute-prod-website/p329_022.wav')}&cfg_alpha=1.5`;
  return {
    stt: () => instances('stt', stt, STT_PATH, (ws) => new RemoteStt(ws)),
    tts: () => instances('tts', tts, ttsPath(), (ws) => new RemoteTts(ws)),
    llm: () => new RemoteLlm(o, dns),
    async health() {
      const http = (w: { proto: string; host: string; port: string }) => `${w.proto.replace('ws', 'http')}://${w.host}:${w.port}`;
      const first = async (w: { proto: string; host: string; port: string }): Promise<string> => {
        const ips = await dns.resolve(w.host).catch(() => [] as string[]);
        return ips.length === 0 ? http(w) : `${w.proto.replace('ws', 'http')}://${ips[Math.floor(o.rng() * ips.length)]!}:${w.port}`;
      };
      const llm = splitUrl(o.llmUrl);
      const [stt_up, tts_up, llm_up] = await Promise.all([
        first(stt).then((b) => upWithin(`${b}/api/build_info`)),
        first(tts).then((b) => upWithin(`${b}/api/build_info`)),
        first(llm).then((b) => upWithin(`${b}/v1/models`, { authorization: `Bearer ${o.llmApiKey ?? 'None'}` })),
      ]);
      return { stt_up, tts_up, llm_up };
    },
    close() {},
  };
}
