// Client-side flow control of API requests, the client half of the API server's priority and
// fairness (APF). The server gives each priority level a number of seats and queues or rejects (429
// with Retry-After) what exceeds them; a client that sends more at once only fills its queues and
// slows every other client of that level. So: a cap on requests in flight (seats, not a rate, are
// what APF shares), a token bucket for the sustained rate and bursts (client-go's QPS/Burst; a bound
// on a runaway loop, not the usual limit), and waiting out a 429's Retry-After (kube-client.ts).
// Watches are not throttled: they are long-lived and APF counts them only while they start.
import type { Cancel, Clock } from './clock.ts';

export interface FlowControlOptions {
  /** Sustained requests per second; 0 or less: no rate limit. */
  qps: number;
  /** Requests that may start at once after a quiet spell (the bucket's size); at least 1. */
  burst: number;
  /** Requests in flight at most; the rest wait in order. */
  maxInFlight: number;
  clock: Clock;
}

/**
 * The operator's defaults. client-go's QPS 5 / Burst 10 (controller-runtime: 20 / 30) would stretch
 * the first reconcile of a thousand fleets (some 36 requests each) over many minutes; the seats are
 * what the server shares, and 32 in flight stays well inside one priority level's share of the
 * default 600 (400 read-only + 200 mutating). The rate is a guard against a runaway loop, set above
 * what the seats allow on a small control plane: at 200 a second it was the bound of a thousand
 * fleets' first reconcile (bench:reconcile, 2 cores: 185 s, against 121 s without a rate).
 */
export const flowControlDefaults = { qps: 1000, burst: 2000, maxInFlight: 32 } as const;

interface Waiter {
  grant: (release: () => void) => void;
}

export class FlowControl {
  readonly #o: FlowControlOptions;
  readonly #waiters: Waiter[] = [];
  #tokens: number;
  #refilledAt: number;
  #inFlight = 0;
  #timer: Cancel | undefined;

  constructor(options: FlowControlOptions) {
    this.#o = { ...options, burst: Math.max(1, options.burst), maxInFlight: Math.max(1, options.maxInFlight) };
    this.#tokens = this.#o.burst;
    this.#refilledAt = options.clock.now();
  }

  /** Requests holding a slot now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for a slot or a token. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Waits, in arrival order, for a token and a free slot; resolves with the function that gives the
   * slot back (call it once, when the answer is read). Rejects with `signal`'s reason if it aborts first.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#waiters.length > 0 && this.#inFlight < this.#o.maxInFlight) {
      if (!this.#takeToken()) {
        this.#armRefill();
        return;
      }
      const waiter = this.#waiters.shift()!;
      this.#inFlight++;
      let released = false;
      waiter.grant(() => {
        if (released) return;
        released = true;
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  #takeToken(): boolean {
    if (this.#o.qps <= 0) return true;
    const now = this.#o.clock.now();
    this.#tokens = Math.min(this.#o.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#o.qps);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Wakes the queue when the next token is due (one timer at a time). */
  #armRefill(): void {
    if (this.#timer !== undefined) return;
    const waitMs = Math.ceil(((1 - this.#tokens) / this.#o.qps) * 1000);
    this.#timer = this.#o.clock.schedule(waitMs, () => {
      this.#timer = undefined;
      this.#pump();
    });
  }
}
