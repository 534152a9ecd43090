// A small HTTP control API for a running simulated fleet, served on a unix socket: processes in
// the cluster's network namespace are unreachable over TCP from the host, but a socket file is
// reachable from both sides. Tests and the demo use it to hold conversations open through the
// backend Service, end them, and stop or restart sim-workers (metrics unreachable).
//
//   GET  /state                    workers, pod runner totals, sessions by outcome and close code
//   POST /sessions {count, durationMs?, url?}   open `count` sessions where the fleet sends them (the
//                                  Service's ready endpoints, or its fixed target, e.g. a gateway),
//                                  or at `url` (e.g. one pod's sim-worker, to fill that backend)
//   POST /sessions/end {count?, url?}     end held sessions normally (the user hangs up), oldest first
//   POST /workers/suspend {pods?}  stop these workers (all when omitted) without touching their pods
//   POST /workers/resume {pods?}
//   POST /workers/faults {pods?, faults}  sim-worker faults (stalls, services down), see /sim/faults;
//                                  without pods, for every worker, those started later included
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import { z } from 'zod';
import { runOne, LiveCounters, type SessionTemplate } from '../loadgen/runner.ts';
import type { SessionResult } from '../loadgen/session.ts';
import { staticTargets, type TargetPicker } from '../loadgen/targets.ts';
import { simFaultsPatchSchema } from '../worker/server.ts';
import type { PodRunner } from './pod-runner.ts';

const sessionsBody = z.object({ count: z.int().min(1).max(500), durationMs: z.number().positive().max(3_600_000).optional(), url: z.url({ protocol: /^(https?|wss?)$/ }).optional() });
const endBody = z.object({ count: z.int().min(1).max(500).optional(), url: z.string().optional() });
const podsBody = z.object({ pods: z.array(z.string()).max(1000).optional() });
const faultsBody = z.object({ pods: z.array(z.string()).max(1000).optional(), faults: simFaultsPatchSchema }).strict();

interface Held {
  id: number;
  url: string | undefined;
  opened: boolean;
  /** Connect attempt -> upgrade completed, once opened. */
  upgradeMs?: number;
  abort: AbortController;
}

/** One held session as the state shows it. */
export interface HeldSession {
  id: number;
  url: string | undefined;
  opened: boolean;
  upgradeMs?: number;
}

export interface FleetControlOptions {
  socketPath: string;
  runner: PodRunner;
  /** The STT/TTS/vLLM pods' runner, when the fleet runs the whole pipeline. */
  services?: PodRunner;
  /** Where new sessions go (the Service's ready endpoints, or a fixed URL); the session API answers 409 without it. */
  picker?: TargetPicker;
  /** The backend Service's ready endpoints, for the state (default: the picker's targets). */
  endpoints?: () => readonly string[];
  session?: SessionTemplate;
}

export interface FleetControlState {
  workers: ReturnType<PodRunner['workers']>;
  /** STT, TTS and vLLM pods (component, state, open channels). */
  services: ReturnType<PodRunner['workers']>;
  totals: PodRunner['totals'];
  /** The same for the STT/TTS/vLLM pods (streams cut when one stopped), when they are played. */
  servicesTotals?: PodRunner['totals'];
  /** The backend Service's ready endpoints. */
  endpoints: readonly string[];
  /** Where sessions opened without a url go. */
  targets: readonly string[];
  sessions: {
    held: number;
    open: number;
    connecting: number;
    outcomes: Record<string, number>;
    closeCodes: Record<string, number>;
    /** Close reasons of sessions the server closed, with their count ("1011 Internal server error ..."). */
    closeReasons: Record<string, number>;
    /** Open sessions per backend URL. */
    byUrl: Record<string, number>;
    /** Open or waiting for a slot, per backend URL. */
    heldByUrl: Record<string, number>;
    /** Every held session, oldest first. */
    items: HeldSession[];
  };
}

export class FleetControl {
  readonly #o: FleetControlOptions;
  readonly #server: Server;
  readonly #held = new Map<number, Held>();
  readonly #live = new LiveCounters();
  readonly #results: SessionResult[] = [];
  readonly #pending = new Set<Promise<unknown>>();
  #seq = 0;

  constructor(o: FleetControlOptions) {
    this.#o = o;
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((err: unknown) => send(res, 500, { error: (err as Error).message }));
    });
  }

  async listen(): Promise<this> {
    rmSync(this.#o.socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.socketPath, () => resolve());
    });
    return this;
  }

  state(): FleetControlState {
    const outcomes: Record<string, number> = {};
    const closeCodes: Record<string, number> = {};
    const closeReasons: Record<string, number> = {};
    for (const r of this.#results) {
      outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      if (r.closeCode !== undefined && r.closedBy === 'server') {
        closeCodes[String(r.closeCode)] = (closeCodes[String(r.closeCode)] ?? 0) + 1;
        const reason = `${r.closeCode} ${r.closeReason ?? ''}`.trim();
        closeReasons[reason] = (closeReasons[reason] ?? 0) + 1;
      }
    }
    const byUrl: Record<string, number> = {};
    const heldByUrl: Record<string, number> = {};
    for (const h of this.#held.values()) {
      if (h.url === undefined) continue;
      heldByUrl[h.url] = (heldByUrl[h.url] ?? 0) + 1;
      if (h.opened) byUrl[h.url] = (byUrl[h.url] ?? 0) + 1;
    }
    return {
      workers: this.#o.runner.workers(),
      services: this.#o.services?.workers() ?? [],
      totals: { ...this.#o.runner.totals },
      ...(this.#o.services === undefined ? {} : { servicesTotals: { ...this.#o.services.totals } }),
      endpoints: this.#o.endpoints?.() ?? this.#o.picker?.targets() ?? [],
      targets: this.#o.picker?.targets() ?? [],
      sessions: {
        held: this.#held.size,
        open: this.#live.open,
        connecting: this.#live.connecting,
        outcomes,
        closeCodes,
        closeReasons,
        byUrl,
        heldByUrl,
        items: [...this.#held.values()].map((h) => ({ id: h.id, url: h.url, opened: h.opened, ...(h.upgradeMs !== undefined ? { upgradeMs: h.upgradeMs } : {}) })),
      },
    };
  }

  /**
   * Opens `count` sessions (at `url` when given); each ends after durationMs, when ended through
   * the API, or when the server closes it.
   */
  openSessions(count: number, durationMs?: number, url?: string): number[] {
    const picker = url !== undefined ? staticTargets([url]) : this.#o.picker;
    if (picker === undefined) throw new Error('no Service to send sessions to (start with --service or --target-url)');
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = ++this.#seq;
      const abort = new AbortController();
      const held: Held = { id, url: undefined, opened: false, abort };
      this.#held.set(id, held);
      ids.push(id);
      // Learn which backend the picker chose through a wrapping picker.
      const tracking: TargetPicker = {
        pick: () => {
          const lease = picker.pick();
          held.url = lease?.url;
          return lease;
        },
        targets: () => picker.targets(),
        close: () => {},
      };
      const options = {
        ...this.#o.session,
        durationMs: durationMs ?? 3_600_000,
        signal: abort.signal,
        onOpen: (ms: number) => {
          held.opened = true;
          held.upgradeMs = ms;
        },
      };
      const p = runOne(tracking, options, this.#live).then((r) => {
        this.#results.push(r);
        this.#held.delete(id);
      });
      this.#pending.add(p);
      void p.finally(() => this.#pending.delete(p));
    }
    return ids;
  }

  /** Ends held sessions from the client side (close 1000), oldest first; only those on `url` if given. */
  endSessions(count: number | undefined, url?: string): number {
    let n = 0;
    for (const h of this.#held.values()) {
      if (count !== undefined && n >= count) break;
      if (url !== undefined && h.url !== url) continue;
      h.abort.abort();
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    this.endSessions(undefined);
    await Promise.race([Promise.all([...this.#pending]), new Promise((r) => setTimeout(r, 5000))]);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    rmSync(this.#o.socketPath, { force: true });
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/state') return send(res, 200, this.state());
    if (method !== 'POST') return send(res, 404, { error: 'not found' });
    const body = await readJson(req);
    if (path === '/sessions') {
      const b = sessionsBody.safeParse(body);
      if (!b.success) return send(res, 400, { error: b.error.message });
      if (this.#o.picker === undefined && b.data.url === undefined) return send(res, 409, { error: 'no Service or target configured, and no url given' });
      return send(res, 200, { ids: this.openSessions(b.data.count, b.data.durationMs, b.data.url) });
    }
    if (path === '/sessions/end') {
      const b = endBody.safeParse(body);
      if (!b.success) return send(res, 400, { error: b.error.message });
      return send(res, 200, { ended: this.endSessions(b.data.count, b.data.url) });
    }
    if (path === '/workers/faults') {
      const b = faultsBody.safeParse(body);
      if (!b.success) return send(res, 400, { error: b.error.message });
      return send(res, 200, { workers: this.#o.runner.setFaults(b.data.faults, b.data.pods) });
    }
    if (path === '/workers/suspend' || path === '/workers/resume') {
      const b = podsBody.safeParse(body);
      if (!b.success) return send(res, 400, { error: b.error.message });
      if (path === '/workers/suspend') await this.#o.runner.suspend(b.data.pods);
      else this.#o.runner.resume(b.data.pods);
      return send(res, 200, { workers: this.#o.runner.workers() });
    }
    send(res, 404, { error: 'not found' });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as unknown);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
