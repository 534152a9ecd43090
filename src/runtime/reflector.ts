// The list-then-watch loop behind every informer (client-go tools/cache/reflector.go), with the
// gaps of client-node's informer closed: paginated list, watch from the list's resourceVersion with
// bookmarks and a random server timeout, relist on 410 Expired, jittered backoff on every other
// failure, a watchdog for silent (half-open) watches, and no way to stop except the caller's signal.
import type { Logger } from '../observability/logger.ts';
import type { RuntimeMetrics } from '../observability/metrics.ts';
import { JitteredBackoff, reflectorBackoffDefaults, type BackoffOptions } from './backoff.ts';
import { sleep, type Cancel, type Clock, type Random } from './clock.ts';
import { isResourceExpired } from './errors.ts';
import type { ListerWatcher, WatchEvent } from './list-watch.ts';
import type { KubeObject } from './object.ts';

/** Where a reflector writes what it sees (the informer's cache). */
export interface ReflectorStore<T extends KubeObject> {
  /** The full state after a (re)list; the store diffs it against what it holds. */
  replace(items: T[], resourceVersion: string): void;
  /** One ADDED / MODIFIED / DELETED event (never BOOKMARK). */
  apply(event: WatchEvent<T>): void;
}

export interface ReflectorOptions<T extends KubeObject> {
  /** Names the watched resource in logs and metrics, e.g. `deployments.apps`. */
  name: string;
  listerWatcher: ListerWatcher<T>;
  store: ReflectorStore<T>;
  logger: Logger;
  clock: Clock;
  random?: Random;
  metrics?: RuntimeMetrics;
  /** Items per list page (client-go: 500). */
  pageSize?: number;
  /** Watch timeoutSeconds is drawn from [min, 2 x min) (client-go: 300 s). */
  minWatchTimeoutSeconds?: number;
  /** A watch silent for timeoutSeconds + this margin is presumed dead and restarted. */
  watchdogMarginMs?: number;
  /** A watch that ends with no event sooner than this counts as a failure (prevents a reconnect storm). */
  minHealthyWatchMs?: number;
  backoff?: BackoffOptions;
}

/** Thrown internally when the watchdog aborted a silent watch. */
class WatchSilentError extends Error {
  override name = 'WatchSilentError';
}

/** Thrown internally when the server closed a watch immediately without sending anything. */
class WatchClosedEarlyError extends Error {
  override name = 'WatchClosedEarlyError';
}

type FailureReason = 'list' | 'watch' | 'expired' | 'watchdog' | 'closed_early';

export class Reflector<T extends KubeObject> {
  readonly #o: Required<Omit<ReflectorOptions<T>, 'metrics'>> & { metrics: RuntimeMetrics | undefined };
  readonly #backoff: JitteredBackoff;
  #synced = false;
  #resourceVersion = '';
  #lastExpiredAt: number | undefined;

  constructor(options: ReflectorOptions<T>) {
    this.#o = {
      ...options,
      random: options.random ?? Math.random,
      pageSize: options.pageSize ?? 500,
      minWatchTimeoutSeconds: options.minWatchTimeoutSeconds ?? 300,
      watchdogMarginMs: options.watchdogMarginMs ?? 30_000,
      minHealthyWatchMs: options.minHealthyWatchMs ?? 1_000,
      backoff: options.backoff ?? reflectorBackoffDefaults,
      metrics: options.metrics,
    };
    this.#backoff = new JitteredBackoff(this.#o.backoff, this.#o.clock, this.#o.random);
    this.#o.metrics?.reflectorSynced.set({ name: this.#o.name }, 0);
  }

  /** True once the first list reached the store. */
  hasSynced(): boolean {
    return this.#synced;
  }

  /** The newest resourceVersion seen (list, event or bookmark). */
  lastSyncResourceVersion(): string {
    return this.#resourceVersion;
  }

  /** Lists and watches until `signal` aborts; every failure is logged, counted and retried. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger, name, clock } = this.#o;
    let needsList = true;
    while (!signal.aborted) {
      let phase: 'list' | 'watch' = 'list';
      try {
        if (needsList) {
          await this.#list(signal);
          needsList = false;
        }
        phase = 'watch';
        await this.#watch(signal);
      } catch (err) {
        if (signal.aborted) break;
        const reason = failureReason(err, phase);
        this.#o.metrics?.reflectorErrors.inc({ name, reason });
        if (reason === 'expired') {
          needsList = true;
          const now = clock.now();
          const repeated = this.#lastExpiredAt !== undefined && now - this.#lastExpiredAt < this.#o.minHealthyWatchMs;
          this.#lastExpiredAt = now;
          if (!repeated) {
            logger.info({ resource: name, resourceVersion: this.#resourceVersion }, 'resource version expired; relisting');
            continue;
          }
        }
        const retryInMs = this.#backoff.next();
        logger.warn({ err, resource: name, reason, retryInMs }, 'list/watch failed; retrying');
        await sleep(clock, retryInMs, signal);
      }
    }
    logger.debug({ resource: name }, 'reflector stopped');
  }

  async #list(signal: AbortSignal): Promise<void> {
    const { listerWatcher, pageSize, name } = this.#o;
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const page = await listerWatcher.list({ limit: pageSize, continue: token }, signal);
      items.push(...page.items);
      resourceVersion = page.resourceVersion;
      token = page.continue;
    } while (token !== undefined);
    if (signal.aborted) return;
    this.#o.store.replace(items, resourceVersion);
    this.#resourceVersion = resourceVersion;
    this.#o.metrics?.reflectorLists.inc({ name });
    if (!this.#synced) {
      this.#synced = true;
      this.#o.metrics?.reflectorSynced.set({ name }, 1);
      this.#o.logger.debug({ resource: name, items: items.length, resourceVersion }, 'initial list done');
    }
  }

  /** One watch request, from the current resourceVersion until the server closes it. */
  async #watch(signal: AbortSignal): Promise<void> {
    const { clock, random, minWatchTimeoutSeconds, watchdogMarginMs, listerWatcher, store, name } = this.#o;
    const timeoutSeconds = Math.floor(minWatchTimeoutSeconds * (1 + random()));
    const silenceLimitMs = timeoutSeconds * 1000 + watchdogMarginMs;
    const watchdog = new AbortController();
    let silent = false;
    const arm = (): Cancel =>
      clock.schedule(silenceLimitMs, () => {
        silent = true;
        watchdog.abort(new WatchSilentError(`no watch event or close for ${silenceLimitMs} ms`));
      });
    let disarm = arm();
    const startedAt = clock.now();
    let events = 0;
    this.#o.metrics?.reflectorWatches.inc({ name });
    try {
      const stream = await listerWatcher.watch(
        { resourceVersion: this.#resourceVersion, timeoutSeconds, allowWatchBookmarks: true },
        AbortSignal.any([signal, watchdog.signal]),
      );
      for await (const event of stream) {
        disarm();
        disarm = arm();
        events++;
        if (event.type !== 'BOOKMARK') store.apply(event);
        const rv = event.object.metadata.resourceVersion;
        if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
      }
    } catch (err) {
      if (silent && !signal.aborted) throw new WatchSilentError(`watch silent for ${silenceLimitMs} ms`, { cause: err });
      throw err;
    } finally {
      disarm();
    }
    if (silent && !signal.aborted) throw new WatchSilentError(`watch silent for ${silenceLimitMs} ms`);
    if (events === 0 && clock.now() - startedAt < this.#o.minHealthyWatchMs && !signal.aborted) {
      throw new WatchClosedEarlyError('watch closed by the server without any event');
    }
  }
}

function failureReason(err: unknown, phase: 'list' | 'watch'): FailureReason {
  if (isResourceExpired(err)) return 'expired';
  if (err instanceof WatchSilentError) return 'watchdog';
  if (err instanceof WatchClosedEarlyError) return 'closed_early';
  return phase;
}
