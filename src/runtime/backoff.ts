// Two retry clocks: the reflector's jittered exponential backoff (client-go's backoff manager)
// and the work queue's per-key exponential rate limiter (client-go's ItemExponentialFailureRateLimiter).
import type { Clock, Random } from './clock.ts';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** The wait is `d * (1 + random * jitter)`, capped at `maxMs`. */
  jitter: number;
  /** A failure this long after the previous one starts again from `initialMs` (the source was healthy meanwhile). */
  resetAfterMs: number;
}

/** client-go reflector defaults: 800 ms, x2, 30 s cap, jitter 1.0, reset after 2 min. */
export const reflectorBackoffDefaults: BackoffOptions = {
  initialMs: 800,
  maxMs: 30_000,
  factor: 2,
  jitter: 1,
  resetAfterMs: 120_000,
};

export class JitteredBackoff {
  readonly #options: BackoffOptions;
  readonly #clock: Clock;
  readonly #random: Random;
  #currentMs: number;
  #lastFailureAt: number | undefined;

  constructor(options: BackoffOptions, clock: Clock, random: Random = Math.random) {
    this.#options = options;
    this.#clock = clock;
    this.#random = random;
    this.#currentMs = options.initialMs;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  next(): number {
    const now = this.#clock.now();
    if (this.#lastFailureAt !== undefined && now - this.#lastFailureAt > this.#options.resetAfterMs) {
      this.#currentMs = this.#options.initialMs;
    }
    this.#lastFailureAt = now;
    const base = this.#currentMs;
    this.#currentMs = Math.min(this.#options.maxMs, this.#currentMs * this.#options.factor);
    const jittered = base * (1 + this.#random() * this.#options.jitter);
    return Math.min(this.#options.maxMs, Math.round(jittered));
  }

  reset(): void {
    this.#currentMs = this.#options.initialMs;
    this.#lastFailureAt = undefined;
  }
}

export interface RateLimiter {
  /** Records a failure of `key` and returns how long to wait before retrying it. */
  when(key: string): number;
  /** Clears the failure history of `key` (after a success). */
  forget(key: string): void;
  /** Failures of `key` since the last `forget`. */
  numRequeues(key: string): number;
}

export interface ItemExponentialOptions {
  baseMs: number;
  maxMs: number;
}

/** controller-runtime's default: 5 ms, doubling per failure of the same key, capped at 1000 s. */
const itemExponentialDefaults: ItemExponentialOptions = { baseMs: 5, maxMs: 1_000_000 };

export class ItemExponentialRateLimiter implements RateLimiter {
  readonly #options: ItemExponentialOptions;
  readonly #failures = new Map<string, number>();

  constructor(options: ItemExponentialOptions = itemExponentialDefaults) {
    this.#options = options;
  }

  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    // 2^failures overflows quickly; past 60 doublings every sane cap is reached.
    if (failures > 60) return this.#options.maxMs;
    return Math.min(this.#options.maxMs, this.#options.baseMs * 2 ** failures);
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.#failures.get(key) ?? 0;
  }
}
