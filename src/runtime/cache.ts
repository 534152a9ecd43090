// The informer's store: objects by `namespace/name`, kept current by a Reflector, with handlers that
// receive (old, new) on updates and tombstones for deletes that a relist discovered.
import type { Logger } from '../observability/logger.ts';
import { matchesLabels, parseLabelSelector, type Requirement } from './label-selector.ts';
import type { WatchEvent } from './list-watch.ts';
import { objectKey, type KubeObject } from './object.ts';
import type { ReflectorStore } from './reflector.ts';

export interface DeleteInfo {
  /**
   * True when the delete was inferred by a relist (the watch missed it): the object is the last
   * state the cache knew, not the final one (client-go's DeletedFinalStateUnknown).
   */
  finalStateUnknown: boolean;
}

/** Callbacks run synchronously, in event order; they should only map objects to keys and enqueue. */
export interface ObjectHandler<T extends KubeObject> {
  onAdd?(obj: T): void;
  onUpdate?(oldObj: T, newObj: T): void;
  onDelete?(obj: T, info: DeleteInfo): void;
}

export interface CacheQuery {
  namespace?: string;
  /** Selector string (`app=x,tier in (a,b)`) or parsed requirements. */
  labelSelector?: string | readonly Requirement[];
}

export interface ObjectCacheOptions {
  logger: Logger;
  /**
   * A label whose value, with the namespace, indexes the objects (e.g. the fleet's instance label):
   * a list asking for one value of it reads only those objects, not every pod of the cluster.
   */
  indexLabel?: string;
}

/** Objects handed out are shared with the cache and other handlers: never mutate them. */
export class ObjectCache<T extends KubeObject> implements ReflectorStore<T> {
  readonly #objects = new Map<string, T>();
  // Keys by namespace (client-go's namespace index) and by namespace + indexLabel value.
  readonly #byNamespace = new Map<string, Set<string>>();
  readonly #byLabel = new Map<string, Set<string>>();
  readonly #indexLabel: string | undefined;
  readonly #handlers = new Set<ObjectHandler<T>>();
  readonly #logger: Logger;
  readonly #syncWaiters: Array<() => void> = [];
  #synced = false;

  constructor(options: ObjectCacheOptions) {
    this.#logger = options.logger;
    this.#indexLabel = options.indexLabel;
  }

  get(key: string): T | undefined {
    return this.#objects.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.#objects.get(namespace === undefined || namespace === '' ? name : `${namespace}/${name}`);
  }

  list(query: CacheQuery = {}): T[] {
    const requirements =
      query.labelSelector === undefined
        ? undefined
        : typeof query.labelSelector === 'string'
          ? parseLabelSelector(query.labelSelector)
          : query.labelSelector;
    const out: T[] = [];
    for (const obj of this.#candidates(query.namespace, requirements)) {
      if (query.namespace !== undefined && obj.metadata.namespace !== query.namespace) continue;
      if (requirements !== undefined && !matchesLabels(requirements, obj.metadata.labels)) continue;
      out.push(obj);
    }
    return out;
  }

  /** The objects a query can match, from the narrowest index that applies; the query still filters them. */
  *#candidates(namespace: string | undefined, requirements: readonly Requirement[] | undefined): Iterable<T> {
    let keys: Set<string> | undefined;
    const indexed = this.#indexLabel === undefined ? undefined : requirements?.find((r) => r.key === this.#indexLabel && (r.operator === 'Equals' || r.operator === 'In') && r.values.length === 1);
    if (namespace !== undefined && indexed !== undefined) keys = this.#byLabel.get(labelIndexKey(namespace, indexed.values[0]!)) ?? new Set();
    else if (namespace !== undefined) keys = this.#byNamespace.get(namespace) ?? new Set();
    if (keys === undefined) {
      yield* this.#objects.values();
      return;
    }
    for (const key of keys) {
      const obj = this.#objects.get(key);
      if (obj !== undefined) yield obj;
    }
  }

  #set(key: string, obj: T, old: T | undefined): void {
    if (old !== undefined) this.#unindex(key, old);
    this.#objects.set(key, obj);
    addTo(this.#byNamespace, obj.metadata.namespace ?? '', key);
    const value = this.#indexLabel === undefined ? undefined : obj.metadata.labels?.[this.#indexLabel];
    if (value !== undefined) addTo(this.#byLabel, labelIndexKey(obj.metadata.namespace ?? '', value), key);
  }

  #delete(key: string, old: T): void {
    this.#objects.delete(key);
    this.#unindex(key, old);
  }

  #unindex(key: string, old: T): void {
    removeFrom(this.#byNamespace, old.metadata.namespace ?? '', key);
    const value = this.#indexLabel === undefined ? undefined : old.metadata.labels?.[this.#indexLabel];
    if (value !== undefined) removeFrom(this.#byLabel, labelIndexKey(old.metadata.namespace ?? '', value), key);
  }

  keys(): string[] {
    return [...this.#objects.keys()];
  }

  get size(): number {
    return this.#objects.size;
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true once the first list arrived, false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => resolve(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  /**
   * Subscribes `handler`; objects already cached are replayed to it as adds (as client-go does for
   * handlers added to a running informer). Returns an unsubscribe function.
   */
  addHandler(handler: ObjectHandler<T>): () => void {
    this.#handlers.add(handler);
    if (handler.onAdd !== undefined) {
      for (const obj of this.#objects.values()) this.#call('onAdd', () => handler.onAdd?.(obj));
    }
    return () => this.#handlers.delete(handler);
  }

  replace(items: T[], _resourceVersion: string): void {
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.#objects.get(key);
      this.#set(key, item, old);
      if (old === undefined) this.#emitAdd(item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.#emitUpdate(old, item);
    }
    for (const [key, old] of [...this.#objects]) {
      if (seen.has(key)) continue;
      this.#delete(key, old);
      this.#emitDelete(old, { finalStateUnknown: true });
    }
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
    }
  }

  apply(event: WatchEvent<T>): void {
    const obj = event.object;
    const key = objectKey(obj);
    const old = this.#objects.get(key);
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#set(key, obj, old);
        if (old === undefined) this.#emitAdd(obj);
        else this.#emitUpdate(old, obj);
        break;
      case 'DELETED':
        if (old !== undefined) this.#delete(key, old);
        this.#emitDelete(obj, { finalStateUnknown: false });
        break;
      case 'BOOKMARK':
        break;
    }
  }

  #emitAdd(obj: T): void {
    for (const h of this.#handlers) if (h.onAdd !== undefined) this.#call('onAdd', () => h.onAdd?.(obj));
  }

  #emitUpdate(old: T, obj: T): void {
    for (const h of this.#handlers) if (h.onUpdate !== undefined) this.#call('onUpdate', () => h.onUpdate?.(old, obj));
  }

  #emitDelete(obj: T, info: DeleteInfo): void {
    for (const h of this.#handlers) if (h.onDelete !== undefined) this.#call('onDelete', () => h.onDelete?.(obj, info));
  }

  /** A throwing handler must not break the cache or the other handlers. */
  #call(callback: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#logger.error({ err, callback }, 'informer event handler threw');
    }
  }
}

const labelIndexKey = (namespace: string, value: string) => `${namespace}\u0000${value}`;

function addTo(index: Map<string, Set<string>>, at: string, key: string): void {
  let keys = index.get(at);
  if (keys === undefined) index.set(at, (keys = new Set()));
  keys.add(key);
}

function removeFrom(index: Map<string, Set<string>>, at: string, key: string): void {
  const keys = index.get(at);
  if (keys === undefined) return;
  keys.delete(key);
  if (keys.size === 0) index.delete(at);
}
