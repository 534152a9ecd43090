// Reads each pod's load (worker_active_sessions of a backend, asr_open_channels of STT,
// py_open_channels of TTS, running + waiting requests of vLLM) from the pod itself (pod IP,
// /metrics): seconds-fresh, no Prometheus in the loop. Bounded concurrency, a deadline per pod
// covering the whole body, and a size cap: a pod's answer can neither stall the pass nor fill the
// operator's memory.
import { request } from 'undici';
import { GaugeScanner } from './exposition.ts';
import type { LoadMetric, LoadReading, LoadSource, ReadTarget } from './readings.ts';

/** Unmute's exposition is about 30 KB; anything far beyond is not a /metrics of this pipeline. */
export const MAX_EXPOSITION_BYTES = 1024 * 1024;

export interface PodLoadSourceOptions {
  timeoutMs: number;
  concurrency: number;
  now: () => number;
  maxBytes?: number;
}

export class PodLoadSource implements LoadSource {
  readonly #opts: PodLoadSourceOptions;

  constructor(opts: PodLoadSourceOptions) {
    this.#opts = opts;
  }

  async read(targets: ReadTarget[], signal?: AbortSignal) {
    const readings = new Map<string, LoadReading>();
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
          const load = await this.#readOne(t.ip, t.port, t.metric, signal);
          readings.set(t.pod, { load, observedAtMs: this.#opts.now() });
        } catch (err) {
          errors.set(t.pod, (err as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency, targets.length) }, worker));
    return { readings, errors };
  }

  async #readOne(ip: string, port: number, metric: LoadMetric, signal?: AbortSignal): Promise<number> {
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
      // A declared size over the cap is refused before a byte of the body is read.
      const declared = Number(res.headers['content-length']);
      const maxBytes = this.#opts.maxBytes ?? MAX_EXPOSITION_BYTES;
      if (Number.isFinite(declared) && declared > maxBytes) {
        res.body.destroy();
        throw new Error(`/metrics body is larger than ${maxBytes} bytes (Content-Length ${declared})`);
      }
      return await this.#scan(res.body, metric);
    } catch (err) {
      // The deadline covers the headers and the whole body: a stalled pod is slow, say so.
      if (timeout.aborted && signal?.aborted !== true) throw new Error(`/metrics did not answer within ${this.#opts.timeoutMs} ms`);
      throw err;
    }
  }

  /** Leaving the loop early (over the cap) returns the iterator, which closes the body. */
  async #scan(body: AsyncIterable<Buffer>, metric: LoadMetric): Promise<number> {
    const maxBytes = this.#opts.maxBytes ?? MAX_EXPOSITION_BYTES;
    const opts = { absentIsZero: metric.absentIsZero };
    const scanners = [new GaugeScanner(metric.name, metric.series, opts), ...(metric.plus === undefined ? [] : [new GaugeScanner(metric.plus, metric.series, opts)])];
    let bytes = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw new Error(`/metrics body is larger than ${maxBytes} bytes`);
      for (const s of scanners) s.push(chunk);
    }
    let total = 0;
    for (const s of scanners) {
      const reading = s.end();
      if (!reading.ok) throw new Error(reading.problem);
      total += reading.value;
    }
    return total;
  }
}
