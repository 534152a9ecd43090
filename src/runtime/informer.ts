// An informer = a Reflector feeding an ObjectCache: the local, always-current view of one kind
// (in one namespace or all, optionally label-filtered) that controllers read instead of the API.
import type { Logger } from '../observability/logger.ts';
import type { RuntimeMetrics } from '../observability/metrics.ts';
import type { Clock, Random } from './clock.ts';
import { ObjectCache, type ObjectHandler } from './cache.ts';
import type { KubeClient } from './kube-client.ts';
import type { ListerWatcher } from './list-watch.ts';
import type { KubeObject, TypeRef } from './object.ts';
import { Reflector, type ReflectorOptions } from './reflector.ts';
import type { CacheTransform } from './transform.ts';

export interface InformerOptions<T extends KubeObject> {
  name: string;
  listerWatcher: ListerWatcher<T>;
  logger: Logger;
  clock: Clock;
  random?: Random;
  metrics?: RuntimeMetrics;
  /** A label the cache indexes (with the namespace) for lists that ask for one value of it. */
  indexLabel?: string;
  /** What the cache keeps of each object (e.g. without managedFields); identity when omitted. */
  transform?: CacheTransform<T>;
  /** Reflector tuning (page size, watch timeout, backoff, watchdog margin). */
  tuning?: Partial<Pick<ReflectorOptions<T>, 'pageSize' | 'minWatchTimeoutSeconds' | 'watchdogMarginMs' | 'minHealthyWatchMs' | 'backoff'>>;
}

export class Informer<T extends KubeObject = KubeObject> {
  readonly name: string;
  readonly cache: ObjectCache<T>;
  readonly #reflector: Reflector<T>;
  #running: Promise<void> | undefined;

  constructor(options: InformerOptions<T>) {
    this.name = options.name;
    const logger = options.logger.child({ informer: options.name });
    this.cache = new ObjectCache<T>({ logger, ...(options.indexLabel === undefined ? {} : { indexLabel: options.indexLabel }) });
    this.#reflector = new Reflector<T>({
      ...options.tuning,
      name: options.name,
      listerWatcher: options.transform === undefined ? options.listerWatcher : transformingListerWatcher(options.listerWatcher, options.transform),
      store: this.cache,
      logger,
      clock: options.clock,
      random: options.random ?? Math.random,
      metrics: options.metrics,
    });
  }

  /** Starts listing and watching until `signal` aborts. Idempotent; returns the run loop's promise. */
  start(signal: AbortSignal): Promise<void> {
    this.#running ??= this.#reflector.run(signal);
    return this.#running;
  }

  hasSynced(): boolean {
    return this.cache.hasSynced();
  }

  waitForSync(signal?: AbortSignal): Promise<boolean> {
    return this.cache.waitForSync(signal);
  }

  addHandler(handler: ObjectHandler<T>): () => void {
    return this.cache.addHandler(handler);
  }

  lastSyncResourceVersion(): string {
    return this.#reflector.lastSyncResourceVersion();
  }
}

/**
 * Transforms each list page as it arrives, and each watch event: a relist of thousands of objects
 * then never holds more than one page of them whole (the reflector keeps every page until the
 * list is complete).
 */
function transformingListerWatcher<T extends KubeObject>(inner: ListerWatcher<T>, transform: CacheTransform<T>): ListerWatcher<T> {
  return {
    list: async (options, signal) => {
      const page = await inner.list(options, signal);
      return { ...page, items: page.items.map(transform) };
    },
    watch: async (options, signal) => {
      const events = await inner.watch(options, signal);
      return (async function* () {
        for await (const event of events) yield event.type === 'BOOKMARK' ? event : { ...event, object: transform(event.object) };
      })();
    },
  };
}

export interface InformerScope {
  /** One namespace; all namespaces when omitted. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Cache PartialObjectMetadata only: for kinds whose objects are read for their metadata alone. */
  metadataOnly?: boolean;
}

/** An informer for `ref` through `client`, named `<kind>` (plus scope) in logs and metrics. */
export function createInformer<T extends KubeObject = KubeObject>(
  client: KubeClient,
  ref: TypeRef,
  scope: InformerScope,
  deps: Omit<InformerOptions<T>, 'name' | 'listerWatcher'> & { name?: string },
): Informer<T> {
  const name = deps.name ?? [ref.kind.toLowerCase(), scope.namespace, scope.labelSelector].filter((p) => p !== undefined && p !== '').join(':');
  return new Informer<T>({ ...deps, name, listerWatcher: client.listerWatcher<T>(ref, scope) });
}
