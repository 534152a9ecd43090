// The generic controller loop (controller-runtime's Controller): watches map object events to keys,
// a rate-limited queue deduplicates them, N workers call reconcile(key). One loop owns retries:
// errors requeue with per-key backoff and are logged once, TerminalError stops retrying, 409 conflicts
// requeue quietly, `{ requeueAfterMs }` schedules the next look.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../observability/logger.ts';
import type { RuntimeMetrics } from '../observability/metrics.ts';
import type { RateLimiter } from './backoff.ts';
import type { ObjectHandler } from './cache.ts';
import type { Cancel, Clock, Random } from './clock.ts';
import { findTerminalError, isConflict } from './errors.ts';
import { parseObjectKey, type KubeObject } from './object.ts';
import type { KeyMapper, UpdatePredicate } from './watch-mappers.ts';
import { WorkQueue } from './workqueue.ts';

export interface ReconcileContext {
  /** `namespace/name` (or `name` for cluster-scoped kinds). */
  readonly key: string;
  readonly namespace: string | undefined;
  readonly name: string;
  /** Child logger with `controller`, the key and `reconcileId`. */
  readonly logger: Logger;
  readonly reconcileId: string;
  /** Aborts on shutdown, lost leadership, or the reconcile timeout. */
  readonly signal: AbortSignal;
  /** Consecutive failed attempts of this key before this one. */
  readonly retries: number;
}

/** `requeueAfterMs`: look again after that long (timed waits, e.g. draining); `requeue`: again with backoff. */
export type ReconcileResult = void | { requeueAfterMs?: number; requeue?: boolean };

export type Reconciler = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult>;

/** What a controller needs from an informer. */
export interface WatchSource<T extends KubeObject> {
  readonly name: string;
  addHandler(handler: ObjectHandler<T>): () => void;
  waitForSync(signal?: AbortSignal): Promise<boolean>;
  readonly cache: { list(): T[] };
}

export interface WatchOptions<T extends KubeObject> {
  /** Filters updates; all updates pass by default. */
  updatePredicate?: UpdatePredicate<T>;
  /** Include this source's objects in periodic resyncs. */
  resync?: boolean;
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  logger: Logger;
  clock: Clock;
  metrics?: RuntimeMetrics;
  /** Concurrent reconciles (distinct keys only); default 1. */
  workers?: number;
  /** Re-enqueue every object of `resync: true` sources this often (±10 %); off by default. */
  resyncPeriodMs?: number;
  /** Aborts a reconcile's signal after this long and counts a timeout; off by default. */
  reconcileTimeoutMs?: number;
  /** Log field name for the key, e.g. `unmuteDeployment`; default `key`. */
  keyLogField?: string;
  rateLimiter?: RateLimiter;
  random?: Random;
  newReconcileId?: () => string;
}

interface RegisteredWatch {
  source: WatchSource<KubeObject>;
  mapper: KeyMapper<KubeObject>;
  resync: boolean;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  readonly #o: ControllerOptions;
  readonly #logger: Logger;
  readonly #watches: RegisteredWatch[] = [];
  readonly #unsubscribe: Array<() => void> = [];
  #started = false;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.#o = options;
    this.#logger = options.logger.child({ controller: options.name });
    this.queue = new WorkQueue({ name: options.name, clock: options.clock, rateLimiter: options.rateLimiter, metrics: options.metrics });
    const m = options.metrics;
    if (m !== undefined) {
      for (const result of ['success', 'error', 'requeue', 'requeue_after']) m.reconcileTotal.inc({ controller: this.name, result }, 0);
      m.reconcileErrors.inc({ controller: this.name }, 0);
      m.terminalReconcileErrors.inc({ controller: this.name }, 0);
      m.reconcilePanics.inc({ controller: this.name }, 0);
      m.reconcileTimeouts.inc({ controller: this.name }, 0);
      m.activeWorkers.set({ controller: this.name }, 0);
      m.maxConcurrentReconciles.set({ controller: this.name }, this.#workers());
    }
  }

  /** Enqueues the keys `mapper` derives from every add, (filtered) update and delete of `source`. */
  watch<T extends KubeObject>(source: WatchSource<T>, mapper: KeyMapper<T>, options: WatchOptions<T> = {}): void {
    if (this.#started) throw new Error(`controller ${this.name}: watch() after run()`);
    const enqueue = (obj: T): void => {
      for (const key of mapper(obj)) this.queue.add(key);
    };
    const predicate = options.updatePredicate;
    const unsubscribe = source.addHandler({
      onAdd: enqueue,
      onUpdate: (oldObj, newObj) => {
        if (predicate !== undefined && !predicate(oldObj, newObj)) return;
        // Both: an object whose owner changed must wake the old owner too.
        for (const key of new Set([...mapper(oldObj), ...mapper(newObj)])) this.queue.add(key);
      },
      onDelete: enqueue,
    });
    this.#unsubscribe.push(unsubscribe);
    this.#watches.push({
      source: source as unknown as WatchSource<KubeObject>,
      mapper: mapper as unknown as KeyMapper<KubeObject>,
      resync: options.resync ?? false,
    });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  /**
   * Waits for every watched source to sync, then runs the workers until `signal` aborts; resolves after
   * in-flight reconciles finished (their signal is aborted too).
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`controller ${this.name} already started`);
    this.#started = true;
    const onAbort = (): void => this.queue.shutDown();
    signal.addEventListener('abort', onAbort, { once: true });
    let cancelResync: Cancel = () => {};
    try {
      this.#logger.info({ sources: this.#watches.map((w) => w.source.name) }, 'waiting for caches to sync');
      const synced = await Promise.all(this.#watches.map((w) => w.source.waitForSync(signal)));
      if (signal.aborted || synced.includes(false)) return;
      const workers = this.#workers();
      this.#logger.info({ workers }, 'starting workers');
      cancelResync = this.#scheduleResync();
      await Promise.all(Array.from({ length: workers }, () => this.#worker(signal)));
    } finally {
      signal.removeEventListener('abort', onAbort);
      cancelResync();
      await this.queue.shutDownWithDrain();
      for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
      this.#logger.info('controller stopped');
    }
  }

  #workers(): number {
    return Math.max(1, this.#o.workers ?? 1);
  }

  async #worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        await this.#reconcileKey(key, signal);
      } finally {
        this.queue.done(key);
      }
    }
  }

  async #reconcileKey(key: string, stop: AbortSignal): Promise<void> {
    const { clock, metrics } = this.#o;
    const labels = { controller: this.name };
    const reconcileId = (this.#o.newReconcileId ?? randomUUID)();
    const logger = this.#logger.child({ [this.#o.keyLogField ?? 'key']: key, reconcileId });
    const timeout = new AbortController();
    let timedOut = false;
    const cancelTimeout =
      this.#o.reconcileTimeoutMs === undefined
        ? () => {}
        : clock.schedule(this.#o.reconcileTimeoutMs, () => {
            timedOut = true;
            timeout.abort(new Error(`reconcile exceeded ${this.#o.reconcileTimeoutMs} ms`));
          });
    const { namespace, name } = parseObjectKey(key);
    const ctx: ReconcileContext = {
      key,
      namespace,
      name,
      logger,
      reconcileId,
      signal: AbortSignal.any([stop, timeout.signal]),
      retries: this.queue.numRequeues(key),
    };
    const startedAt = clock.now();
    metrics?.activeWorkers.inc(labels);
    try {
      const result = await this.#o.reconcile(key, ctx);
      if (result?.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfterMs);
        metrics?.reconcileTotal.inc({ ...labels, result: 'requeue_after' });
        logger.debug({ requeueAfterMs: result.requeueAfterMs }, 'reconciled; looking again later');
      } else if (result?.requeue === true) {
        const retryInMs = this.queue.addRateLimited(key);
        metrics?.reconcileTotal.inc({ ...labels, result: 'requeue' });
        logger.debug({ retryInMs }, 'reconciled; requeued');
      } else {
        this.queue.forget(key);
        metrics?.reconcileTotal.inc({ ...labels, result: 'success' });
        logger.debug({ durationMs: clock.now() - startedAt }, 'reconciled');
      }
    } catch (err) {
      if (timedOut) metrics?.reconcileTimeouts.inc(labels);
      if (stop.aborted && !timedOut) {
        logger.debug({ err }, 'reconcile interrupted by shutdown');
        return;
      }
      this.#handleError(key, err, logger);
    } finally {
      cancelTimeout();
      metrics?.activeWorkers.dec(labels);
      metrics?.reconcileTime.observe(labels, (clock.now() - startedAt) / 1000);
    }
  }

  #handleError(key: string, err: unknown, logger: Logger): void {
    const metrics = this.#o.metrics;
    const labels = { controller: this.name };
    const terminal = findTerminalError(err);
    if (terminal !== undefined) {
      this.queue.forget(key);
      metrics?.reconcileErrors.inc(labels);
      metrics?.terminalReconcileErrors.inc(labels);
      metrics?.reconcileTotal.inc({ ...labels, result: 'error' });
      logger.error({ err, reason: terminal.reason }, 'reconcile failed permanently; not retrying');
      return;
    }
    const retries = this.queue.numRequeues(key);
    if (isConflict(err)) {
      const retryInMs = this.queue.addRateLimited(key);
      metrics?.reconcileTotal.inc({ ...labels, result: 'requeue' });
      logger.debug({ err, retryInMs }, 'conflict; requeueing');
      return;
    }
    const retryInMs = this.queue.addRateLimited(key);
    metrics?.reconcileErrors.inc(labels);
    metrics?.reconcileTotal.inc({ ...labels, result: 'error' });
    if (isProgrammingError(err)) metrics?.reconcilePanics.inc(labels);
    logger.error({ err, retryInMs, retries }, 'reconcile failed; retrying');
  }

  #scheduleResync(): Cancel {
    const period = this.#o.resyncPeriodMs;
    const sources = this.#watches.filter((w) => w.resync);
    if (period === undefined || period <= 0 || sources.length === 0) return () => {};
    const random = this.#o.random ?? Math.random;
    let cancel: Cancel = () => {};
    const arm = (): void => {
      cancel = this.#o.clock.schedule(period * (0.9 + 0.2 * random()), () => {
        let keys = 0;
        for (const w of sources) {
          for (const obj of w.source.cache.list()) {
            for (const key of w.mapper(obj)) {
              this.queue.add(key);
              keys++;
            }
          }
        }
        this.#logger.debug({ keys }, 'periodic resync');
        arm();
      });
    };
    arm();
    return () => cancel();
  }
}

/**
 * A bug rather than a failed API call (the JS analogue of a Go panic): counted in
 * controller_runtime_reconcile_panics_total, still retried with backoff.
 */
function isProgrammingError(err: unknown): boolean {
  if (!(err instanceof Error)) return true;
  return err instanceof TypeError || err instanceof ReferenceError || err instanceof RangeError || err instanceof SyntaxError;
}
