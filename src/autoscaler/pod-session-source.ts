// Reads worker_active_sessions from every backend pod directly (pod IP, /metrics): seconds-fresh,
// no Prometheus in the loop. Bounded concurrency, a deadline per pod covering the whole body, and a
// size cap: a pod's answer can neither stall the pass nor fill the operator's memory.
import { request } from 'undici';
import { GaugeScanner } from './exposition.ts';
import type { ReadTarget, SessionReading, SessionSource } from './session-readings.ts';

/** Unmute's exposition is about 30 KB; anything far beyond is not a backend's /metrics. */
export const MAX_EXPOSITION_BYTES = 1024 * 1024;
const SESSIONS_METRIC = 'worker_active_sessions';

export interface PodSessionSourceOptions {
  timeoutMs: number;
  concurrency: number;
  now: () => number;
  maxBytes?: number;
}

export class PodSessionSource implements SessionSource {
  readonly #opts: PodSessionSourceOptions;

  constructor(opts: PodSessionSourceOptions) {
    this.#opts = opts;
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
          const sessions = await this.#readOne(t.ip, t.port, signal);
          readings.set(t.pod, { sessions, observedAtMs: this.#opts.now() });
        } catch (err) {
          errors.set(t.pod, (err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency, targets.length) }, worker));
    return { readings, errors };
  }

  async #readOne(ip: string, port: number, signal?: AbortSignal): Promise<number> {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const timeout = AbortSignal.timeout(this.#opts.timeoutMs);
    try {
      const res = await request(`http://${host}:${port}/metrics`, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        headers: { accept: 'text/plain' },
      });
      if (res.statusCode !== 200) {
        await res.body.dump().catch(() => undefined);
        throw new Error(`/metrics answered ${res.statusCode}`);
      }
      return await this.#scan(res.body);
    } catch (err) {
      // The deadline covers the headers and the whole body: a stalled pod is slow, say so.
      if (timeout.aborted && signal?.aborted !== true) throw new Error(`/metrics did not answer within ${this.#opts.timeoutMs} ms`);
      throw err;
    }
  }

  /** Leaving the loop early (over the cap) returns the iterator, which closes the body. */
  async #scan(body: AsyncIterable<Buffer>): Promise<number> {
    const maxBytes = this.#opts.maxBytes ?? MAX_EXPOSITION_BYTES;
    const scanner = new GaugeScanner(SESSIONS_METRIC);
    const decoder = new TextDecoder();
    let bytes = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw new Error(`/metrics body is larger than ${maxBytes} bytes`);
      scanner.push(decoder.decode(chunk, { stream: true }));
    }
    scanner.push(decoder.decode());
    const reading = scanner.end();
    if (!reading.ok) throw new Error(reading.problem);
    return reading.value;
  }
}
