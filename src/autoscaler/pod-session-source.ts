// Reads worker_active_sessions from every backend pod directly (pod IP, /metrics): seconds-fresh,
// no Prometheus in the loop. Bounded concurrency and a timeout per pod.
import { request } from 'undici';
import { parseActiveSessions, type ReadTarget, type SessionReading, type SessionSource } from './session-readings.ts';

export interface PodSessionSourceOptions {
  timeoutMs: number;
  concurrency: number;
  now: () => number;
}

export class PodSessionSource implements SessionSource {
  private readonly opts: PodSessionSourceOptions;

  constructor(opts: PodSessionSourceOptions) {
    this.opts = opts;
  }

  async read(targets: ReadTarget[], signal?: AbortSignal) {
    const readings = new Map<string, SessionReading>();
    const errors = new Map<string, string>();
    const queue = [...targets];
    const worker = async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
        if (signal?.aborted) return;
        if (t.ip === undefined) {
          errors.set(t.pod, 'pod has no IP yet');
          continue;
        }
        try {
          const sessions = await this.readOne(t.ip, t.port, signal);
          if (sessions === undefined) errors.set(t.pod, 'worker_active_sessions missing from /metrics');
          else readings.set(t.pod, { sessions, observedAtMs: this.opts.now() });
        } catch (err) {
          errors.set(t.pod, (err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, targets.length) }, worker));
    return { readings, errors };
  }

  private async readOne(ip: string, port: number, signal?: AbortSignal): Promise<number | undefined> {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const res = await request(`http://${host}:${port}/metrics`, {
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      headers: { accept: 'text/plain' },
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`/metrics answered ${res.statusCode}`);
    }
    return parseActiveSessions(await res.body.text());
  }
}
