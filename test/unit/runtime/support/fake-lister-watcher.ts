// A scripted stand-in for the API server's list and watch endpoints, for reflector unit tests.
// (Integration tests use the real API server; this only drives the reflector's retry logic.)
import type { ListPage, ListPageOptions, ListerWatcher, WatchEvent, WatchStartOptions } from '../../../../src/runtime/list-watch.ts';
import type { KubeObject } from '../../../../src/runtime/object.ts';

export function aPod(name: string, resourceVersion: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', resourceVersion, labels } };
}

/** One watch stream the test feeds by hand. */
export class ScriptedWatch {
  readonly options: WatchStartOptions;
  readonly signal: AbortSignal;
  #queue: Array<{ event?: WatchEvent; end?: true; error?: unknown }> = [];
  #wake: (() => void) | undefined;

  constructor(options: WatchStartOptions, signal: AbortSignal) {
    this.options = options;
    this.signal = signal;
    signal.addEventListener('abort', () => this.#wake?.());
  }

  send(type: WatchEvent['type'], object: KubeObject): void {
    this.#push({ event: { type, object } });
  }

  end(): void {
    this.#push({ end: true });
  }

  fail(error: unknown): void {
    this.#push({ error });
  }

  get aborted(): boolean {
    return this.signal.aborted;
  }

  async *events(): AsyncGenerator<WatchEvent> {
    for (;;) {
      if (this.signal.aborted) throw this.signal.reason;
      const next = this.#queue.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      if (next.end) return;
      if (next.error !== undefined) throw next.error;
      if (next.event !== undefined) yield next.event;
    }
  }

  #push(item: { event?: WatchEvent; end?: true; error?: unknown }): void {
    this.#queue.push(item);
    this.#wake?.();
  }
}

type ListResponder = (options: ListPageOptions) => ListPage | Error;
type WatchResponder = ((options: WatchStartOptions) => Error | undefined) | undefined;

export class FakeListerWatcher implements ListerWatcher {
  readonly listCalls: ListPageOptions[] = [];
  readonly watches: ScriptedWatch[] = [];
  /** Next list answers, first in first out; when empty, `defaultList` answers. */
  readonly listResponders: ListResponder[] = [];
  /** Next watch-start answers (an Error rejects the start); when empty, the watch starts. */
  readonly watchResponders: WatchResponder[] = [];
  defaultList: ListResponder;

  constructor(items: KubeObject[] = [], resourceVersion = '100') {
    this.defaultList = () => ({ items, resourceVersion, continue: undefined });
  }

  async list(options: ListPageOptions, _signal: AbortSignal): Promise<ListPage> {
    this.listCalls.push(options);
    const answer = (this.listResponders.shift() ?? this.defaultList)(options);
    if (answer instanceof Error) throw answer;
    return answer;
  }

  async watch(options: WatchStartOptions, signal: AbortSignal): Promise<AsyncIterable<WatchEvent>> {
    const responder = this.watchResponders.shift();
    const failure = responder?.(options);
    if (failure !== undefined) throw failure;
    const watch = new ScriptedWatch(options, signal);
    this.watches.push(watch);
    return watch.events();
  }

  get currentWatch(): ScriptedWatch | undefined {
    return this.watches.at(-1);
  }
}
