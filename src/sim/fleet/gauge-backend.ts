// The cheapest stand-in for an Unmute backend a pod runner can run: an HTTP server on the pod's IP
// that answers GET /metrics with worker_active_sessions (a value set from outside) and nothing
// else it has to compute, so one process can play hundreds of pods when what is measured is the
// reader (bench:scale), not the sessions. Optional padding (other metrics' lines, as a real
// exposition has around the gauge) makes each answer the size of Unmute's. The body is rebuilt
// only when the value changes.
import { createServer, type Server } from 'node:http';
import type { PodProcess, PodProcessStats } from './pod-runner.ts';

export interface GaugeBackendOptions {
  host: string;
  port: number;
  /** Sessions reported at start. */
  sessions?: number;
  /** Bytes of other metrics' lines around the gauge (0: the gauge alone). */
  paddingBytes?: number;
  /** How long the server keeps an idle connection (Node's default is 5 s, as uvicorn's). */
  keepAliveTimeoutMs?: number;
}

/** Lines of a counter family, repeated to about `bytes`: what a scanner must skip. */
export function paddingLines(bytes: number): string {
  if (bytes <= 0) return '';
  const lines: string[] = ['# HELP worker_padding_total Stand-in for the rest of an exposition.', '# TYPE worker_padding_total counter'];
  let size = lines.join('\n').length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `worker_padding_total{route="/v1/route/${i}",method="GET",status="200"} ${i * 7}`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

export class GaugeBackend implements PodProcess {
  readonly #o: GaugeBackendOptions;
  readonly #server: Server;
  readonly #padding: string;
  #sessions: number;
  #body: Buffer;
  #reads = 0;

  constructor(o: GaugeBackendOptions) {
    this.#o = o;
    this.#sessions = o.sessions ?? 0;
    this.#padding = paddingLines(o.paddingBytes ?? 0);
    this.#body = this.#render();
    this.#server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.statusCode = 404;
        res.end();
        return;
      }
      this.#reads++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': this.#body.length });
      res.end(this.#body);
    });
    if (o.keepAliveTimeoutMs !== undefined) this.#server.keepAliveTimeout = o.keepAliveTimeoutMs;
  }

  #render(): Buffer {
    return Buffer.from(`${this.#padding}# HELP worker_active_sessions Sessions.\n# TYPE worker_active_sessions gauge\nworker_active_sessions ${this.#sessions}\n`);
  }

  setSessions(n: number): void {
    if (n === this.#sessions) return;
    this.#sessions = n;
    this.#body = this.#render();
  }

  /** The port it listens on (the one asked, or the kernel's pick for 0). */
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : this.#o.port;
  }

  /** GET /metrics answered so far. */
  get reads(): number {
    return this.#reads;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  async shutdown(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  stats(): PodProcessStats {
    return { running: this.#sessions, queued: 0, activeSessions: this.#sessions, sessionsTotal: 0, shuttingDown: false };
  }
}
