// A work queue with client-go semantics (util/workqueue): pending keys collapse to one, a key is never
// handed to two workers at once, and a key re-added while being processed is processed again after done().
// Plus delayed adds (earliest wins) and per-key exponential retry delays.
import type { RuntimeMetrics } from '../observability/metrics.ts';
import { ItemExponentialRateLimiter, type RateLimiter } from './backoff.ts';
import type { Cancel, Clock } from './clock.ts';

export interface WorkQueueOptions {
  /** Metric label `name`. */
  name: string;
  /** Metric label `controller`; defaults to `name` as in controller-runtime. */
  controller?: string;
  clock: Clock;
  rateLimiter?: RateLimiter;
  metrics?: RuntimeMetrics;
}

export class WorkQueue {
  readonly #clock: Clock;
  readonly #rateLimiter: RateLimiter;
  readonly #metrics: RuntimeMetrics | undefined;
  readonly #labels: { name: string; controller: string };
  /** Keys ready for a worker, FIFO. Every key here is also in #dirty. */
  readonly #queue: string[] = [];
  /** Keys that need processing (queued, or re-added while processing). */
  readonly #dirty = new Set<string>();
  /** Keys a worker holds, with the time it took them. */
  readonly #processing = new Map<string, number>();
  /** First time a still-pending key was added, for queue_duration. */
  readonly #addedAt = new Map<string, number>();
  readonly #delayed = new Map<string, { readyAt: number; cancel: Cancel }>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];
  readonly #drainWaiters: Array<() => void> = [];
  readonly #scrapeHook: () => void;
  #shuttingDown = false;

  constructor(options: WorkQueueOptions) {
    this.#clock = options.clock;
    this.#rateLimiter = options.rateLimiter ?? new ItemExponentialRateLimiter();
    this.#metrics = options.metrics;
    this.#labels = { name: options.name, controller: options.controller ?? options.name };
    this.#scrapeHook = () => this.#reportInFlight();
    if (this.#metrics !== undefined) {
      this.#metrics.workqueueDepth.set(this.#labels, 0);
      this.#metrics.workqueueAdds.inc(this.#labels, 0);
      this.#metrics.workqueueRetries.inc(this.#labels, 0);
      this.#metrics.scrapeHooks.add(this.#scrapeHook);
    }
  }

  /** Marks `key` as needing processing. No-op when already pending or after shutdown. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, this.#clock.now());
    this.#metrics?.workqueueAdds.inc(this.#labels);
    this.#metrics?.workqueueDepth.set(this.#labels, this.#dirty.size);
    // A key being processed goes back to the queue in done(), never to a second worker.
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds `key` after `delayMs`. If a delayed add of `key` is already due earlier, that one wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.#clock.now() + delayMs;
    const existing = this.#delayed.get(key);
    if (existing !== undefined) {
      if (existing.readyAt <= readyAt) return;
      existing.cancel();
    }
    const cancel = this.#clock.schedule(delayMs, () => {
      this.#delayed.delete(key);
      this.add(key);
    });
    this.#delayed.set(key, { readyAt, cancel });
  }

  /** Re-adds `key` after its per-key backoff (5 ms, 10 ms, 20 ms ... 1000 s). Returns the delay used. */
  addRateLimited(key: string): number {
    const delayMs = this.#rateLimiter.when(key);
    this.#metrics?.workqueueRetries.inc(this.#labels);
    this.addAfter(key, delayMs);
    return delayMs;
  }

  /** Resets `key`'s backoff, after a success or when giving up on it. */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /** Waits for the next key; `undefined` once the queue is shut down. Call done(key) when finished. */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) return Promise.resolve(this.#take(key));
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Ends processing of `key`; if it was re-added meanwhile it is queued again. */
  done(key: string): void {
    const startedAt = this.#processing.get(key);
    if (startedAt === undefined) return;
    this.#processing.delete(key);
    this.#metrics?.workqueueWorkDuration.observe(this.#labels, (this.#clock.now() - startedAt) / 1000);
    if (this.#shuttingDown) {
      if (this.#processing.size === 0) this.#releaseDrainWaiters();
      return;
    }
    if (this.#dirty.has(key)) this.#push(key);
  }

  /** Keys waiting for a worker (not counting those being processed). */
  len(): number {
    return this.#queue.length;
  }

  /** Keys waiting for a delayed add. */
  delayedLen(): number {
    return this.#delayed.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Stops the queue: adds are ignored, delayed adds are cancelled, pending keys are dropped (the next
   * leader or restart relists and reconciles everything anyway) and waiting get() calls return undefined.
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { cancel } of this.#delayed.values()) cancel();
    this.#delayed.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    this.#addedAt.clear();
    this.#metrics?.workqueueDepth.set(this.#labels, 0);
    for (const resolve of this.#waiters.splice(0)) resolve(undefined);
    if (this.#processing.size === 0) this.#releaseDrainWaiters();
  }

  /** shutDown(), then waits until every key a worker holds is done(). */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) {
      this.#metrics?.scrapeHooks.delete(this.#scrapeHook);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #push(key: string): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(this.#take(key));
    else this.#queue.push(key);
  }

  #take(key: string): string {
    const now = this.#clock.now();
    this.#dirty.delete(key);
    this.#processing.set(key, now);
    const addedAt = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (this.#metrics !== undefined) {
      this.#metrics.workqueueDepth.set(this.#labels, this.#dirty.size);
      if (addedAt !== undefined) this.#metrics.workqueueQueueDuration.observe(this.#labels, (now - addedAt) / 1000);
    }
    return key;
  }

  #releaseDrainWaiters(): void {
    this.#metrics?.scrapeHooks.delete(this.#scrapeHook);
    this.#reportInFlight();
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  #reportInFlight(): void {
    if (this.#metrics === undefined) return;
    const now = this.#clock.now();
    let total = 0;
    let longest = 0;
    for (const startedAt of this.#processing.values()) {
      const seconds = (now - startedAt) / 1000;
      total += seconds;
      longest = Math.max(longest, seconds);
    }
    this.#metrics.workqueueUnfinishedWork.set(this.#labels, total);
    this.#metrics.workqueueLongestRunningProcessor.set(this.#labels, longest);
  }
}
