// Reads each pod's load (worker_active_sessions of a backend, asr_open_channels of STT,
// py_open_channels of TTS, running + waiting requests of vLLM) from the pod itself (pod IP,
// /metrics): seconds-fresh, no Prometheus in the loop. Built for thousands of pods per operator:
//   - one limit on reads in flight for the whole source, whichever fleets' passes ask at once
//     (each pass used to get its own `concurrency`, so N workers meant N × that many sockets);
//   - keep-alive connections per pod, held longer than an autoscaling interval, so a pod whose
//     server keeps idle connections is read without a new TCP handshake each pass; a kept socket
//     the pod closed just as it was reused is retried once on a new one (a GET of /metrics is
//     idempotent);
//   - only the lines of the wanted metric are decoded (exposition.ts), the rest are skipped as bytes.
// The passes themselves are spread over the interval (plan.ts: nextPassDelayMs), so the pods of a
// thousand fleets are not all read in the same millisecond.
// A deadline per pod covers the whole body, and a size cap: a pod's answer can neither stall the
// pass nor fill the operator's memory. A pod that cannot be read has no reading (unknown), never 0.
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { SessionReadMetrics } from '../observability/metrics.ts';
import { GaugeScanner } from './exposition.ts';
import type { LoadMetric, LoadReading, LoadSource, ReadTarget } from './readings.ts';

/** Unmute's exposition is about 30 KB; anything far beyond is not a /metrics of this pipeline. */
export const MAX_EXPOSITION_BYTES = 1024 * 1024;

/**
 * How long an idle connection to a pod is kept: longer than the default 5 s interval (and the
 * rotation fast path's 0.5 s), so the next pass finds it open, unless the pod closes it first
 * (a server's own idle timeout wins; undici honours its Keep-Alive hint).
 */
export const KEEP_ALIVE_MS = 30_000;

export interface PodLoadSourceOptions {
  timeoutMs: number;
  /** Reads in flight over every caller of this source at once. */
  concurrency: number;
  now: () => number;
  maxBytes?: number;
  /** Where requests go; default: an Agent of this source with KEEP_ALIVE_MS idle connections. */
  dispatcher?: Dispatcher;
  /** Read durations and results (unmute_operator_session_read_*). */
  metrics?: SessionReadMetrics;
}

/** A counting semaphore: first come, first served. */
class Limiter {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(slots: number) {
    this.#free = slots;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    }
  }
}

/** The error of a kept-alive socket the server closed as it was reused: nothing was answered. */
function isStaleSocket(err: unknown): boolean {
  if (err instanceof undiciErrors.SocketError) return true;
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

export class PodLoadSource implements LoadSource {
  readonly #opts: PodLoadSourceOptions;
  readonly #limiter: Limiter;
  readonly #dispatcher: Dispatcher;
  readonly #ownDispatcher: Agent | undefined;

  constructor(opts: PodLoadSourceOptions) {
    this.#opts = opts;
    this.#limiter = new Limiter(opts.concurrency);
    // One connection per pod is enough: a pod is read once per pass, and passes of one fleet do not overlap.
    this.#ownDispatcher = opts.dispatcher === undefined ? new Agent({ keepAliveTimeout: KEEP_ALIVE_MS, keepAliveMaxTimeout: KEEP_ALIVE_MS, connections: 1 }) : undefined;
    this.#dispatcher = opts.dispatcher ?? this.#ownDispatcher!;
  }

  async read(targets: ReadTarget[], signal?: AbortSignal) {
    const readings = new Map<string, LoadReading>();
    const errors = new Map<string, string>();
    await Promise.all(
      targets.map(async (t) => {
        if (t.ip === undefined) {
          errors.set(t.pod, 'pod has no IP yet');
          return;
        }
        const ip = t.ip;
        await this.#limiter.run(async () => {
          if (signal?.aborted) return;
          const started = performance.now();
          try {
            const load = await this.#readOne(ip, t.port, t.metric, signal);
            readings.set(t.pod, { load, observedAtMs: this.#opts.now() });
            this.#opts.metrics?.readDuration.observe({ result: 'ok' }, (performance.now() - started) / 1000);
          } catch (err) {
            errors.set(t.pod, (err as Error).message);
            if (signal?.aborted !== true) this.#opts.metrics?.readDuration.observe({ result: 'error' }, (performance.now() - started) / 1000);
          }
        });
      }),
    );
    return { readings, errors };
  }

  /** Closes the kept connections (an operator that stops, a test). */
  async close(): Promise<void> {
    await this.#ownDispatcher?.close();
  }

  async #readOne(ip: string, port: number, metric: LoadMetric, signal?: AbortSignal): Promise<number> {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    const timeout = AbortSignal.timeout(this.#opts.timeoutMs);
    const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      try {
        return await this.#attempt(`http://${host}:${port}/metrics`, metric, both);
      } catch (err) {
        if (both.aborted || !isStaleSocket(err)) throw err;
        this.#opts.metrics?.staleRetries.inc();
        return await this.#attempt(`http://${host}:${port}/metrics`, metric, both);
      }
    } catch (err) {
      // The deadline covers the headers and the whole body: a stalled pod is slow, say so.
      if (timeout.aborted && signal?.aborted !== true) throw new Error(`/metrics did not answer within ${this.#opts.timeoutMs} ms`);
      throw err;
    }
  }

  async #attempt(url: string, metric: LoadMetric, signal: AbortSignal): Promise<number> {
    const res = await request(url, { signal, dispatcher: this.#dispatcher, headers: { accept: 'text/plain' } });
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
