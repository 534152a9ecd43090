// A process that looks like one Unmute backend from outside: /v1/realtime (websocket, subprotocol
// `realtime`), /v1/health, /v1/voices, /metrics, plus /sim/* admin endpoints that Unmute does not
// have (fault injection, state). Capacity follows Unmute's semaphore: at most `maxSessions`
// conversations run; later connections wait with their websocket upgrade not completed, and
// worker_active_sessions counts running + waiting.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { speechClips } from '../audio/clips.ts';
import { noisePacket } from '../audio/opus.ts';
import { CLOSE_SERVICE_RESTART, REALTIME_PATH, REALTIME_SUBPROTOCOL } from '../protocol.ts';
import { seededRng, type Rng } from '../random.ts';
import { resolveSimWorkerConfig, type HealthFlags, type SimWorkerConfig, type SimWorkerConfigInput } from './config.ts';
import { UNMATCHED_HANDLER } from './http-metrics.ts';
import { WorkerMetrics } from './metrics.ts';
import { InProcessLlm, inProcessStt, inProcessTts } from './inprocess.ts';
import type { InstanceAttempt, LlmClient, SttLink, TtsLink } from './links.ts';
import { ServicePool } from './service-pool.ts';
import { SimSession, type HealthStatus } from './session.ts';
import { Staller } from './stall.ts';
import { SIM_VOICES } from './voices.ts';

/**
 * Where the worker finds its STT, TTS and LLM when they are real servers (simulated moshi-server
 * and vLLM processes): without it, they are simulated in-process.
 */
export interface RemoteServices {
  /** The instances to try, resolved and shuffled as Unmute's get_instances() does. */
  stt(): Promise<readonly InstanceAttempt<SttLink>[]>;
  tts(): Promise<readonly InstanceAttempt<TtsLink>[]>;
  llm(): LlmClient;
  /** GET /v1/health's checks of the configured URLs (each up = HTTP 200 within 2 s). */
  health(): Promise<{ stt_up: boolean; tts_up: boolean; llm_up: boolean }>;
  close(): void;
}

export interface SimWorkerOptions extends SimWorkerConfigInput {
  /** Share STT/TTS slots between in-process workers (one STT server behind several backends). */
  sttPool?: ServicePool;
  ttsPool?: ServicePool;
  /** Real STT/TTS/LLM servers instead of the in-process ones. */
  remote?: RemoteServices;
  rng?: Rng;
}

export interface SimWorkerStats {
  /** Sessions past the upgrade (holding a slot). */
  running: number;
  /** Connections waiting for a slot, upgrade not completed. */
  queued: number;
  /** What worker_active_sessions reports: running + queued. */
  activeSessions: number;
  /** Connections seen since start (worker_sessions_total). */
  sessionsTotal: number;
  shuttingDown: boolean;
}

export interface SimFaults extends HealthFlags {
  stt_at_capacity: boolean;
  tts_at_capacity: boolean;
  /** Event-loop stalls (ms): at each new session, and `stall_ms` every `stall_every_ms` (0 = none). */
  stall_per_session_ms: number;
  stall_every_ms: number;
  stall_ms: number;
}

export const simFaultsPatchSchema = z
  .object({
    stt_up: z.boolean(),
    tts_up: z.boolean(),
    llm_up: z.boolean(),
    voice_cloning_up: z.boolean(),
    stt_at_capacity: z.boolean(),
    tts_at_capacity: z.boolean(),
    stall_per_session_ms: z.number().nonnegative().max(600_000),
    stall_every_ms: z.number().nonnegative().max(3_600_000),
    stall_ms: z.number().nonnegative().max(600_000),
  })
  .partial()
  .strict();

interface Waiting {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  arrivedAt: number;
}

const SHUTDOWN_GRACE_MS = 1000;

/** The backend's HTTP routes the simulator serves (GET); the instrumentator's `handler` label. */
const APP_ROUTES = new Set(['/', '/v1/health', '/v1/voices', '/metrics']);

export class SimWorker {
  readonly config: SimWorkerConfig;
  readonly metrics = new WorkerMetrics();
  readonly sttPool: ServicePool;
  readonly ttsPool: ServicePool;
  private readonly rng: Rng;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly queue: Waiting[] = [];
  private readonly sessions = new Set<SimSession>();
  /** The websockets of live sessions, frozen together during a worker-scoped stall. */
  private readonly sockets = new Set<WebSocket>();
  readonly staller: Staller;
  private readonly voicePackets: Uint8Array[];
  private readonly remote: RemoteServices | undefined;
  private remoteHealth: { at: number; value: Promise<{ stt_up: boolean; tts_up: boolean; llm_up: boolean }> } | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  /** A periodic stall is due as soon as the current one ends. */
  private periodicDue = false;
  private running = 0;
  private sessionsTotal = 0;
  private shuttingDown = false;
  private boundPort = 0;

  constructor(options: SimWorkerOptions = {}) {
    const { sttPool, ttsPool, rng, remote, ...config } = options;
    this.config = resolveSimWorkerConfig(config);
    this.rng = rng ?? seededRng(this.config.seed);
    this.sttPool = sttPool ?? new ServicePool('stt', this.config.sttSlots);
    this.ttsPool = ttsPool ?? new ServicePool('tts', this.config.ttsSlots);
    this.remote = remote;
    this.staller = new Staller(this.config.stallScope, { freeze: () => this.freeze(), thaw: () => this.thaw() });
    // The assistant's voice: real Opus (a synthesised clip, encoded once per process) in the full
    // mode; stand-in CELT frames of a plausible size in the cheap mode.
    this.voicePackets = this.config.decodeAudio ? speechClips().flatMap((c) => c.packets) : Array.from({ length: 16 }, () => noisePacket(60, this.rng));
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: this.config.perMessageDeflate,
      skipUTF8Validation: true,
      // Starlette's accept(subprotocol="realtime") answers `realtime` whatever the client offered.
      handleProtocols: () => REALTIME_SUBPROTOCOL,
    });
    this.http = createServer((req, res) => {
      const handle = (): void => {
        this.instrument(req, res);
        this.route(req, res).catch((err: unknown) => {
          if (!res.headersSent) sendJson(res, 500, { detail: 'Internal server error' });
          else res.destroy(err as Error);
        });
      };
      // The simulator's own /sim/* endpoints stay reachable during a stall: they are how a test lifts it.
      if ((req.url ?? '').startsWith('/sim/')) handle();
      else this.whenRunning(handle);
    });
    this.http.on('upgrade', (req, socket, head) => this.whenRunning(() => this.onUpgrade(req, socket, head)));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.config.port, this.config.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const addr = this.http.address();
    if (addr === null || typeof addr === 'string') throw new Error('sim-worker: no TCP address');
    this.boundPort = addr.port;
    this.armPeriodicStall();
    return this;
  }

  get port(): number {
    return this.boundPort;
  }

  /** http://host:port, the base URL a client is given (it derives ws:// itself). */
  get url(): string {
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `http://${host}:${this.boundPort}`;
  }

  stats(): SimWorkerStats {
    return {
      running: this.running,
      queued: this.queue.length,
      activeSessions: this.running + this.queue.length,
      sessionsTotal: this.sessionsTotal,
      shuttingDown: this.shuttingDown,
    };
  }

  faults(): SimFaults {
    const c = this.config;
    return {
      ...c.health,
      stt_at_capacity: this.sttPool.atCapacity,
      tts_at_capacity: this.ttsPool.atCapacity,
      stall_per_session_ms: c.stallPerSessionMs,
      stall_every_ms: c.stallEveryMs,
      stall_ms: c.stallMs,
    };
  }

  setFaults(patch: Partial<SimFaults>): SimFaults {
    const { stt_at_capacity, tts_at_capacity, stall_per_session_ms, stall_every_ms, stall_ms, ...health } = patch;
    Object.assign(this.config.health, health);
    if (stt_at_capacity !== undefined) this.sttPool.atCapacity = stt_at_capacity;
    if (tts_at_capacity !== undefined) this.ttsPool.atCapacity = tts_at_capacity;
    if (stall_per_session_ms !== undefined) this.config.stallPerSessionMs = stall_per_session_ms;
    if (stall_every_ms !== undefined || stall_ms !== undefined) {
      if (stall_every_ms !== undefined) this.config.stallEveryMs = stall_every_ms;
      if (stall_ms !== undefined) this.config.stallMs = stall_ms;
      if (this.boundPort !== 0) this.armPeriodicStall();
    }
    return this.faults();
  }

  /**
   * GET /v1/health's body; every evaluation is observed in worker_health_ok, as in Unmute. With
   * real servers, their checks (cached 0.5 s, as Unmute caches them) and the fault flags must both say up.
   */
  health(): HealthStatus {
    const h = this.config.health;
    const r = this.remoteUp;
    const status = { tts_up: h.tts_up && r.tts_up, stt_up: h.stt_up && r.stt_up, llm_up: h.llm_up && r.llm_up, voice_cloning_up: h.voice_cloning_up, ok: false };
    status.ok = status.tts_up && status.stt_up && status.llm_up;
    this.metrics.healthOk.observe(status.ok ? 1 : 0);
    return status;
  }

  /** The last completed check of the real servers (all up until one completed). */
  private remoteUp = { stt_up: true, tts_up: true, llm_up: true };

  /** Refreshes the real servers' check when older than 0.5 s; resolves with the fresh value. */
  private async checkRemote(): Promise<void> {
    if (this.remote === undefined) return;
    const now = performance.now();
    if (this.remoteHealth === undefined || now - this.remoteHealth.at > 500) this.remoteHealth = { at: now, value: this.remote.health() };
    this.remoteUp = await this.remoteHealth.value;
  }

  private armPeriodicStall(): void {
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
    const every = this.config.stallEveryMs;
    if (every <= 0 || this.config.stallMs <= 0 || this.shuttingDown) return;
    this.stallTimer = setInterval(() => this.periodicStall(), every);
    this.stallTimer.unref();
  }

  /**
   * One periodic stall. When the previous one still lasts (a stall longer than its period), this
   * one begins right after it, once what waited for it has run: a late timer on a blocked loop
   * fires after the loop has served the I/O that queued up, so a stalled backend still answers,
   * late, between stalls.
   */
  private periodicStall(): void {
    const running = this.staller.whenRunning();
    if (running === undefined) {
      this.staller.stall(this.config.stallMs);
      return;
    }
    if (this.periodicDue) return;
    this.periodicDue = true;
    void running.then(() =>
      setImmediate(() => {
        this.periodicDue = false;
        if (this.stallTimer !== undefined) this.periodicStall();
      }),
    );
  }

  /** Runs `fn` now, or once a stall of this worker is over (again if another began meanwhile). */
  private whenRunning(fn: () => void): void {
    const running = this.staller.whenRunning();
    if (running === undefined) fn();
    else void running.then(() => this.whenRunning(fn));
  }

  // A worker-scoped stall: nothing read from or sent to the sessions' sockets. ws keeps its own
  // socket private; corking it holds every frame the session writes meanwhile (ws corks and
  // uncorks in pairs itself, so ours is the one that holds).
  private freeze(): void {
    for (const ws of this.sockets) {
      ws.pause();
      socketOf(ws)?.cork();
    }
  }

  private thaw(): void {
    for (const ws of this.sockets) {
      socketOf(ws)?.uncork();
      ws.resume();
    }
    this.admit();
  }

  /**
   * What uvicorn does on SIGTERM: stop listening, answer connections still waiting for their
   * upgrade with HTTP 500, close every live websocket with 1012 at once, then return.
   */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
    this.staller.stop();
    this.remote?.close();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const w of this.queue.splice(0)) {
      if (!w.socket.destroyed) {
        w.socket.end('HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 21\r\nconnection: close\r\n\r\nInternal Server Error');
      }
      this.endWaiting(w);
    }
    const sessions = [...this.sessions];
    for (const s of sessions) s.terminate(CLOSE_SERVICE_RESTART);
    const all = Promise.all(sessions.map((s) => s.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, SHUTDOWN_GRACE_MS)))]);
    clearTimeout(timer);
    this.http.closeAllConnections();
    await closed;
  }

  // ---- websocket admission (Unmute's semaphore) ----

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== REALTIME_PATH) {
      // Starlette refuses websockets on unknown routes before accepting them.
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    if (this.shuttingDown) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    // Counted on arrival, before waiting for a slot.
    this.sessionsTotal++;
    this.metrics.sessions.inc();
    this.metrics.activeSessions.inc();
    this.queue.push({ req, socket, head, arrivedAt: performance.now() });
    this.admit();
  }

  private admit(): void {
    // A stalled worker admits nobody: the slot's next owner is let in when the stall ends.
    if (this.staller.frozen) return;
    while (this.running < this.config.maxSessions && this.queue.length > 0 && !this.shuttingDown) {
      const w = this.queue.shift()!;
      if (w.socket.destroyed) {
        // The client gave up while waiting; Unmute only notices when the slot comes (as here).
        this.endWaiting(w);
        continue;
      }
      this.running++;
      let upgraded = false;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.running--;
        this.endWaiting(w);
        this.admit();
      };
      // ws rejects malformed handshakes itself without calling back: the socket closes, free the slot.
      w.socket.once('close', () => {
        if (!upgraded) release();
      });
      this.wss.handleUpgrade(w.req, w.socket, w.head, (ws) => {
        upgraded = true;
        this.startSession(ws, release);
      });
    }
  }

  private startSession(ws: WebSocket, release: () => void): void {
    const remote = this.remote;
    const session = new SimSession(ws, {
      config: this.config,
      metrics: this.metrics,
      rng: this.rng,
      sttInstances: async () => (remote !== undefined ? remote.stt() : [inProcessStt(this.config, this.rng, this.sttPool)]),
      ttsInstances: async () => (remote !== undefined ? remote.tts() : [inProcessTts(this.config, this.rng, this.ttsPool)]),
      llm: () => remote?.llm() ?? new InProcessLlm(this.config, this.rng, (ms) => this.staller.stall(ms)),
      health: async () => {
        await this.checkRemote();
        return this.health();
      },
      voicePackets: this.voicePackets,
      stallPerSessionMs: () => this.config.stallPerSessionMs,
      stall: (ms) => this.staller.stall(ms),
    });
    this.sessions.add(session);
    this.sockets.add(ws);
    if (this.staller.frozen) {
      ws.pause();
      socketOf(ws)?.cork();
    }
    void session.done.then(() => {
      this.sessions.delete(session);
      this.sockets.delete(ws);
      release();
    });
    if (this.shuttingDown) {
      session.terminate(CLOSE_SERVICE_RESTART);
      return;
    }
    session.start();
  }

  private endWaiting(w: Waiting): void {
    this.metrics.activeSessions.dec();
    this.metrics.sessionDuration.observe((performance.now() - w.arrivedAt) / 1000);
  }

  // ---- HTTP routes ----

  /**
   * Counts the request in the http_* families once its response is done, as Unmute's
   * instrumentator middleware does; the simulator's own /sim/* endpoints do not exist in Unmute
   * and are left out, so a test driving faults does not show in the backend's metrics.
   */
  private instrument(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.startsWith('/sim/')) return;
    const t0 = performance.now();
    res.once('finish', () => {
      this.metrics.http.observe({
        handler: APP_ROUTES.has(path) ? path : UNMATCHED_HANDLER,
        method: req.method ?? 'GET',
        status: res.statusCode,
        requestBytes: Number(req.headers['content-length'] ?? 0) || 0,
        responseBytes: Number(res.getHeader('content-length') ?? 0) || 0,
        seconds: (performance.now() - t0) / 1000,
      });
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    // Starlette's GET routes answer HEAD too; another method on a route's path is a 405.
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (APP_ROUTES.has(path) && method !== 'GET') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    if (path === '/') return sendJson(res, 200, { message: "You've reached the Unmute backend server." });
    if (path === '/v1/health') {
      await this.checkRemote();
      return sendJson(res, 200, this.health()); // 200 even when not ok, as Unmute
    }
    if (path === '/v1/voices') return sendJson(res, 200, SIM_VOICES);
    if (path === '/metrics') {
      return sendBody(res, 200, this.metrics.contentType, await this.metrics.exposition());
    }
    if (path === '/sim/state' && method === 'GET') {
      return sendJson(res, 200, { ...this.stats(), faults: this.faults(), sttSlotsInUse: this.sttPool.inUse, ttsSlotsInUse: this.ttsPool.inUse, process: processStats() });
    }
    if (path === '/sim/faults') {
      if (method === 'GET') return sendJson(res, 200, this.faults());
      if (method === 'POST') {
        const body = await readBody(req, 64 * 1024);
        let json: unknown;
        try {
          json = JSON.parse(body === '' ? '{}' : body);
        } catch {
          return sendJson(res, 400, { detail: 'body is not JSON' });
        }
        const parsed = simFaultsPatchSchema.safeParse(json);
        if (!parsed.success) return sendJson(res, 400, { detail: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`) });
        return sendJson(res, 200, this.setFaults(parsed.data));
      }
      return sendJson(res, 405, { detail: 'Method Not Allowed' });
    }
    sendJson(res, 404, { detail: 'Not Found' });
  }
}

function socketOf(ws: WebSocket): { cork(): void; uncork(): void } | undefined {
  const socket = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
  return socket ?? undefined;
}

let loopDelay: ReturnType<typeof monitorEventLoopDelay> | undefined;

/** The process' own figures, for benchmarks (CPU in microseconds since start, like process.cpuUsage()). */
function processStats(): { cpuUserUs: number; cpuSystemUs: number; rssBytes: number; eventLoopDelayP99Ms: number | null } {
  if (loopDelay === undefined) {
    loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
  }
  const cpu = process.cpuUsage();
  const p99 = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : null;
  loopDelay.reset();
  return { cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rssBytes: process.memoryUsage().rss, eventLoopDelayP99Ms: p99 };
}

/** Headers set with setHeader (not writeHead's argument) so the instrumentation can read Content-Length. */
function sendBody(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(text));
  res.writeHead(status);
  res.end(text);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendBody(res, status, 'application/json', JSON.stringify(body));
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Creates and starts a simulated worker. */
export async function startSimWorker(options: SimWorkerOptions = {}): Promise<SimWorker> {
  return new SimWorker(options).listen();
}
