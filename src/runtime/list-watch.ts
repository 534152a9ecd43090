// The list and watch calls a reflector needs, as an interface: the KubeClient provides the real one,
// unit tests a scripted fake.
import type { KubeObject } from './object.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/** A watch event after parsing; ERROR events are thrown as KubeApiError instead. */
export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: WatchEventType;
  /** For BOOKMARK only `metadata.resourceVersion` is meaningful. */
  object: T;
}

export interface ListPage<T extends KubeObject = KubeObject> {
  /** Items with `apiVersion` and `kind` filled in (the API server leaves them out of list items). */
  items: T[];
  resourceVersion: string;
  /** Token for the next page; undefined on the last one. */
  continue: string | undefined;
}

export interface ListPageOptions {
  limit: number;
  continue?: string;
}

export interface WatchStartOptions {
  resourceVersion: string;
  timeoutSeconds: number;
  allowWatchBookmarks: boolean;
}

export interface ListerWatcher<T extends KubeObject = KubeObject> {
  /** One page of a list (a consistent read when `continue` is unset). */
  list(options: ListPageOptions, signal: AbortSignal): Promise<ListPage<T>>;
  /**
   * Starts a watch. Resolves once the server accepted it (non-2xx rejects with KubeApiError); the
   * iterable ends when the server closes the stream and throws on transport errors or ERROR events.
   */
  watch(options: WatchStartOptions, signal: AbortSignal): Promise<AsyncIterable<WatchEvent<T>>>;
}
