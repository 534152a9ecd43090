// A simulated vLLM OpenAI-compatible server, as Unmute uses it: GET /v1/models (one model), GET
// /health (200, empty body), POST /v1/chat/completions (streamed as server-sent events when
// `stream` is true), /metrics with vLLM's names (vllm:num_requests_running / _waiting, token
// counters, TTFT / e2e / queue-time histograms, labels model_name and engine). At most
// `maxNumSeqs` requests run at once; the others wait (vllm:num_requests_waiting) in order.
// A request's reply: a number of words drawn from `replyWords`, the first after `ttftMs`, then at
// `tokensPerSecond` (one token per word here). The HTTP server only listens once the "model" is
// loaded (`startupMs`), as vLLM's does.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sample, seededRng, type Distribution, type Rng } from '../random.ts';
import { PYTHON_EXPOSITION_CONTENT_TYPE, renderPythonExposition } from '../worker/exposition.ts';
import { replyWords } from '../worker/inprocess.ts';

export interface VllmServerOptions {
  host: string;
  port: number;
  model: string;
  startupMs?: number;
  ttftMs?: Distribution;
  tokensPerSecond?: number;
  replyWords?: Distribution;
  maxNumSeqs?: number;
  maxModelLen?: number;
  seed?: number;
}

const E2E_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const TPOT_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];

interface Waiting {
  start: () => void;
  cancelled: boolean;
}

export class VllmServer {
  readonly options: Required<VllmServerOptions>;
  readonly registry = new Registry();
  readonly #created = Date.now() / 1000;
  readonly #http: Server;
  readonly #sockets = new Set<Socket>();
  readonly #rng: Rng;
  readonly #queue: Waiting[] = [];
  #running = 0;
  #port = 0;
  #stopped = false;
  readonly #labels: { model_name: string; engine: string };
  readonly #m;

  constructor(o: VllmServerOptions) {
    this.options = {
      startupMs: 0,
      ttftMs: { kind: 'lognormal', median: 250, sigma: 0.3 },
      tokensPerSecond: 40,
      replyWords: { kind: 'uniform', min: 8, max: 30 },
      maxNumSeqs: 256,
      maxModelLen: 8192,
      seed: 1,
      ...o,
    };
    this.#rng = seededRng(this.options.seed);
    this.#labels = { model_name: this.options.model, engine: '0' };
    const labelNames = ['model_name', 'engine'];
    const r = [this.registry];
    this.#m = {
      running: new Gauge({ name: 'vllm:num_requests_running', help: 'Number of requests in model execution batches.', labelNames, registers: r }),
      waiting: new Gauge({ name: 'vllm:num_requests_waiting', help: 'Number of requests waiting to be processed.', labelNames, registers: r }),
      kvCache: new Gauge({ name: 'vllm:kv_cache_usage_perc', help: 'KV-cache usage. 1 means 100 percent usage.', labelNames, registers: r }),
      prompt: new Counter({ name: 'vllm:prompt_tokens_total', help: 'Number of prefill tokens processed.', labelNames, registers: r }),
      generation: new Counter({ name: 'vllm:generation_tokens_total', help: 'Number of generation tokens processed.', labelNames, registers: r }),
      success: new Counter({ name: 'vllm:request_success_total', help: 'Count of successfully processed requests.', labelNames: [...labelNames, 'finished_reason'], registers: r }),
      ttft: new Histogram({ name: 'vllm:time_to_first_token_seconds', help: 'Histogram of time to first token in seconds.', labelNames, buckets: TTFT_BUCKETS, registers: r }),
      tpot: new Histogram({ name: 'vllm:time_per_output_token_seconds', help: 'Histogram of time per output token in seconds.', labelNames, buckets: TPOT_BUCKETS, registers: r }),
      e2e: new Histogram({ name: 'vllm:e2e_request_latency_seconds', help: 'Histogram of e2e request latency in seconds.', labelNames, buckets: E2E_BUCKETS, registers: r }),
      queue: new Histogram({ name: 'vllm:request_queue_time_seconds', help: 'Histogram of time spent in WAITING phase for request.', labelNames, buckets: E2E_BUCKETS, registers: r }),
    };
    this.#m.running.set(this.#labels, 0);
    this.#m.waiting.set(this.#labels, 0);
    this.#m.kvCache.set(this.#labels, 0);
    this.#http = createServer((req, res) => {
      this.#route(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    this.#http.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://${this.options.host}:${this.#port}`;
  }

  stats(): { running: number; waiting: number } {
    return { running: this.#running, waiting: this.#queue.length };
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

  /** SIGTERM: vLLM stops; requests in flight are cut. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#http.listening ? this.#http.close(() => resolve()) : resolve()));
  }

  #gauges(): void {
    this.#m.running.set(this.#labels, this.#running);
    this.#m.waiting.set(this.#labels, this.#queue.length);
    this.#m.kvCache.set(this.#labels, Math.min(1, this.#running / this.options.maxNumSeqs));
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'GET' && path === '/health') return void res.writeHead(200, { 'content-length': 0 }).end();
    if (req.method === 'GET' && path === '/v1/models') {
      const created = Math.floor(this.#created);
      return json(200, {
        object: 'list',
        data: [
          {
            id: this.options.model,
            object: 'model',
            created,
            owned_by: 'vllm',
            root: this.options.model,
            parent: null,
            max_model_len: this.options.maxModelLen,
            permission: [{ id: `modelperm-sim${created}`, object: 'model_permission', created, allow_create_engine: false, allow_sampling: true, allow_logprobs: true, allow_search_indices: false, allow_view: true, allow_fine_tuning: false, organization: '*', group: null, is_blocking: false }],
          },
        ],
      });
    }
    if (req.method === 'GET' && path === '/metrics') {
      const body = renderPythonExposition(await this.registry.getMetricsAsJSON(), this.#created, { help: true });
      res.writeHead(200, { 'content-type': PYTHON_EXPOSITION_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') return this.#chat(req, res);
    json(404, { detail: 'Not Found' });
  }

  async #chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: { model?: string; messages?: Array<{ content?: string }>; stream?: boolean };
    try {
      let text = '';
      for await (const c of req) text += String(c);
      body = JSON.parse(text) as typeof body;
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'error', message: 'invalid JSON', type: 'BadRequestError', code: 400 }));
      return;
    }
    if (body.model !== this.options.model) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'error', message: `The model \`${body.model}\` does not exist.`, type: 'NotFoundError', code: 404 }));
      return;
    }
    const promptTokens = (body.messages ?? []).reduce((n, m) => n + String(m.content ?? '').split(/\s+/).filter((w) => w !== '').length, 0);
    const arrived = performance.now();
    const w: Waiting = { start: () => undefined, cancelled: false };
    res.on('close', () => (w.cancelled = true));
    await new Promise<void>((resolve) => {
      w.start = resolve;
      if (this.#running < this.options.maxNumSeqs && this.#queue.length === 0) resolve();
      else {
        this.#queue.push(w);
        this.#gauges();
      }
    });
    this.#running++;
    this.#gauges();
    const started = performance.now();
    this.#m.queue.observe(this.#labels, (started - arrived) / 1000);
    this.#m.prompt.inc(this.#labels, promptTokens);
    const words = replyWords(Math.max(1, Math.round(sample(this.options.replyWords, this.#rng))), this.#rng, false);
    const id = `chatcmpl-sim${Math.floor(this.#rng() * 1e12)}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: Record<string, unknown>, finish: string | null): string =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: this.options.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    let sent = 0;
    try {
      if (body.stream === true) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
        res.write(chunk({ role: 'assistant', content: '' }, null));
      }
      await sleep(sample(this.options.ttftMs, this.#rng));
      for (let i = 0; i < words.length && !w.cancelled; i++) {
        if (i === 0) this.#m.ttft.observe(this.#labels, (performance.now() - arrived) / 1000);
        else await sleep(1000 / this.options.tokensPerSecond);
        if (w.cancelled) break;
        this.#m.generation.inc(this.#labels, 1);
        sent++;
        if (body.stream === true) res.write(chunk({ content: words[i] }, null));
      }
      if (w.cancelled) this.#m.success.inc({ ...this.#labels, finished_reason: 'abort' });
      else {
        this.#m.success.inc({ ...this.#labels, finished_reason: 'stop' });
        if (body.stream === true) {
          res.write(chunk({}, 'stop'));
          res.end('data: [DONE]\n\n');
        } else {
          const text = JSON.stringify({ id, object: 'chat.completion', created, model: this.options.model, choices: [{ index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' }], usage: { prompt_tokens: promptTokens, completion_tokens: sent, total_tokens: promptTokens + sent } });
          res.writeHead(200, { 'content-type': 'application/json' }).end(text);
        }
      }
    } finally {
      const now = performance.now();
      this.#m.e2e.observe(this.#labels, (now - arrived) / 1000);
      if (sent > 1) this.#m.tpot.observe(this.#labels, (now - started) / 1000 / sent);
      this.#running--;
      while (this.#queue.length > 0 && this.#running < this.options.maxNumSeqs) {
        const next = this.#queue.shift()!;
        if (!next.cancelled) {
          next.start();
          break;
        }
      }
      this.#gauges();
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startVllmServer(o: VllmServerOptions): Promise<VllmServer> {
  return new VllmServer(o).listen();
}
