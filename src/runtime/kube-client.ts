// What controllers need from the API server: get/list/watch/create/update/patch/apply/delete on any kind,
// with typed errors (KubeApiError), per-request timeouts, rest_client_* metrics, and a request counter
// by verb and kind. Objects stay raw JSON (see kube-transport.ts for why).
import type { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import type { RuntimeMetrics } from '../observability/metrics.ts';
import { sleep, systemClock, type Clock } from './clock.ts';
import type { FlowControl } from './flow-control.ts';
import { Discovery, groupVersionPath, resourcePath, apiResourceListSchema, type ResourceInfo } from './discovery.ts';
import { KubeApiError, isNotFound, statusSchema, wrapError } from './errors.ts';
import type { ListPage, ListerWatcher, WatchEvent } from './list-watch.ts';
import { kubeObjectSchema, type KubeObject, type TypeRef } from './object.ts';
import { RequestCounter, type RequestVerb } from './request-counter.ts';
import { UndiciTransport, type HttpMethod, type KubeTransport, type TransportRequest, type TransportResponse } from './kube-transport.ts';

export interface KubeClientOptions {
  metrics?: RuntimeMetrics;
  clock?: Clock;
  /** Deadline of each non-watch request. */
  requestTimeoutMs?: number;
  discovery?: { servedTtlMs?: number; notServedTtlMs?: number };
  /** Bounds requests in flight and their rate (flow-control.ts); watches are not counted. Unbounded when omitted. */
  flowControl?: FlowControl;
}

/** A 429 (or 503) with Retry-After is sent again at most this often, each wait capped (client-go: 10 tries). */
const MAX_RETRY_AFTER_RETRIES = 10;
const MAX_RETRY_AFTER_MS = 10_000;

export interface RequestOptions {
  signal?: AbortSignal;
  /** Overrides the client's default deadline for this call. */
  timeoutMs?: number;
  /** Called with the text of each `Warning` header of the answer, also when the request is rejected. */
  onWarning?: (warning: string) => void;
}

/** How the server treats unknown or duplicate fields in a written object (default: Warn). */
export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface ListOptions extends RequestOptions {
  namespace?: string;
  /** Only metadata (PartialObjectMetadata), see METADATA_ONLY. */
  metadataOnly?: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchOptions {
  namespace?: string;
  /** Only metadata (PartialObjectMetadata), see METADATA_ONLY. */
  metadataOnly?: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
}

export interface WriteOptions extends RequestOptions {
  fieldManager?: string;
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
  subresource?: 'status' | 'scale';
}

export interface ApplyOptions extends RequestOptions {
  fieldManager: string;
  /**
   * Ask for the answer as PartialObjectMetadata (metadata only, filed under the applied kind): when
   * the caller reads nothing else of it, the whole object would be parsed only to be dropped.
   */
  metadataOnly?: boolean;
  /** Take ownership of conflicting fields (default true: the operator is the source of truth). */
  force?: boolean;
  subresource?: 'status';
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface DeleteOptions extends RequestOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ObjectList<T extends KubeObject = KubeObject> extends ListPage<T> {}

/**
 * Asks the API server for objects as PartialObjectMetadata: name, labels, annotations, owners,
 * managedFields and nothing else (controller-runtime's metadata-only watches). A cache of a kind
 * whose spec the operator never reads back costs a fraction of the full objects, and so does each
 * watch event. Plain JSON stays acceptable so a server without the conversion still answers.
 */
const METADATA_ACCEPT = {
  list: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
  watch: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
  object: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
};

const patchContentTypes: Record<PatchType | 'apply', string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

const listSchema = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string().optional(), continue: z.string().optional() }).optional(),
  items: z.array(z.record(z.string(), z.unknown())).nullable().optional(),
});

const watchLineSchema = z.object({
  type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
  object: z.record(z.string(), z.unknown()),
});

const bookmarkSchema = z.looseObject({ metadata: z.looseObject({ resourceVersion: z.string() }) });

const serverVersionSchema = z.looseObject({ major: z.string(), minor: z.string(), gitVersion: z.string() });
/** `/version`: `gitVersion` is e.g. `v1.31.2-gke.100`; `minor` may carry a `+`. */
export type ServerVersion = z.infer<typeof serverVersionSchema>;

/** A review (SubjectAccessReview, SelfSubjectAccessReview, ...): evaluated by the server, never stored. */
export interface ReviewRequest {
  apiVersion: string;
  kind: string;
  metadata?: { namespace?: string };
  spec: Record<string, unknown>;
}

export class KubeClient {
  /** Requests issued by this client, by verb and kind. */
  readonly requests = new RequestCounter();
  readonly #transport: KubeTransport;
  readonly #metrics: RuntimeMetrics | undefined;
  readonly #timeoutMs: number;
  readonly #discovery: Discovery;
  readonly #flow: FlowControl | undefined;
  readonly #clock: Clock;

  constructor(transport: KubeTransport, options: KubeClientOptions = {}) {
    this.#transport = transport;
    this.#flow = options.flowControl;
    this.#clock = options.clock ?? systemClock();
    this.#metrics = options.metrics;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#discovery = new Discovery((apiVersion) => this.#fetchGroupVersion(apiVersion), {
      clock: options.clock ?? systemClock(),
      ...options.discovery,
    });
  }

  static async fromKubeConfig(kubeConfig: KubeConfig, options: KubeClientOptions = {}): Promise<KubeClient> {
    return new KubeClient(await UndiciTransport.fromKubeConfig(kubeConfig), options);
  }

  /** The REST resource of a kind (static table for built-ins, discovery otherwise). */
  resolve(ref: TypeRef): Promise<ResourceInfo> {
    return this.#discovery.resolve(ref);
  }

  /** Whether the server serves `apiVersion` (and `kind`), e.g. `isServed('monitoring.coreos.com/v1', 'ServiceMonitor')`. */
  isServed(apiVersion: string, kind?: string): Promise<boolean> {
    return this.#discovery.isServed(apiVersion, kind);
  }

  /** Drops cached discovery answers (after installing a CRD). */
  invalidateDiscovery(apiVersion?: string): void {
    this.#discovery.invalidate(apiVersion);
  }

  async get<T extends KubeObject = KubeObject>(ref: TypeRef, name: string, namespace?: string, options: RequestOptions = {}): Promise<T> {
    const info = await this.resolve(ref);
    const body = await this.#call('get', ref.kind, { method: 'GET', path: resourcePath(info, namespace, name) }, options);
    return parseObject<T>(body);
  }

  /** get(), but undefined instead of a NotFound error. */
  async getIfExists<T extends KubeObject = KubeObject>(ref: TypeRef, name: string, namespace?: string, options: RequestOptions = {}): Promise<T | undefined> {
    try {
      return await this.get<T>(ref, name, namespace, options);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One page (or the whole list when `limit` is unset); items get `apiVersion`/`kind` filled in. */
  async list<T extends KubeObject = KubeObject>(ref: TypeRef, options: ListOptions = {}): Promise<ObjectList<T>> {
    const info = await this.resolve(ref);
    const query = {
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      limit: options.limit,
      continue: options.continue,
      resourceVersion: options.resourceVersion,
    };
    const accept = options.metadataOnly === true ? METADATA_ACCEPT.list : undefined;
    const body = await this.#call('list', ref.kind, { method: 'GET', path: resourcePath(info, options.namespace), query, ...(accept === undefined ? {} : { accept }) }, options);
    const list = listSchema.parse(JSON.parse(body));
    const items = (list.items ?? []).map((item) => normalizeItem<T>(item, ref));
    const next = list.metadata?.continue;
    return {
      items,
      resourceVersion: list.metadata?.resourceVersion ?? '',
      continue: next === undefined || next === '' ? undefined : next,
    };
  }

  /** All pages of a list, `pageSize` items per request. */
  async listAll<T extends KubeObject = KubeObject>(ref: TypeRef, options: ListOptions & { pageSize?: number } = {}): Promise<ObjectList<T>> {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.list<T>(ref, { ...options, limit: options.pageSize ?? 500, continue: token });
      items.push(...page.items);
      resourceVersion = page.resourceVersion;
      token = page.continue;
    } while (token !== undefined);
    return { items, resourceVersion, continue: undefined };
  }

  /**
   * Starts a watch; resolves once the server accepted it. The iterable ends when the server closes the
   * stream; ERROR events are thrown as KubeApiError (410 Expired means: relist).
   */
  async watch<T extends KubeObject = KubeObject>(ref: TypeRef, options: WatchOptions, signal: AbortSignal): Promise<AsyncIterable<WatchEvent<T>>> {
    const info = await this.resolve(ref);
    const req: TransportRequest = {
      method: 'GET',
      path: resourcePath(info, options.namespace),
      query: {
        watch: 'true',
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: options.allowWatchBookmarks,
        timeoutSeconds: options.timeoutSeconds,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
      ...(options.metadataOnly === true ? { accept: METADATA_ACCEPT.watch } : {}),
      signal,
    };
    this.requests.record('watch', ref.kind);
    const label = `GET ${req.path}`;
    const started = performance.now();
    let stream;
    try {
      stream = await this.#transport.stream(req);
    } catch (err) {
      this.#observe('GET', '<error>', started);
      throw wrapError(`kube request failed: ${label}`, err);
    }
    this.#observe('GET', String(stream.status), started);
    if (stream.status >= 300) throw KubeApiError.fromResponse(stream.status, await stream.text(), label);
    return parseWatchStream<T>(stream.chunks, label, ref);
  }

  async create<T extends KubeObject>(obj: T, options: WriteOptions = {}): Promise<T> {
    const info = await this.resolve(obj);
    const req: TransportRequest = {
      method: 'POST',
      path: resourcePath(info, obj.metadata.namespace, undefined, options.subresource),
      query: writeQuery(options),
      body: JSON.stringify(obj),
      contentType: 'application/json',
    };
    return parseObject<T>(await this.#call('create', obj.kind, req, options));
  }

  /** PUT: replaces the object; `metadata.resourceVersion` makes it an optimistic-concurrency update (409 on a stale one). */
  async update<T extends KubeObject>(obj: T, options: WriteOptions = {}): Promise<T> {
    const info = await this.resolve(obj);
    const req: TransportRequest = {
      method: 'PUT',
      path: resourcePath(info, obj.metadata.namespace, requireName(obj), options.subresource),
      query: writeQuery(options),
      body: JSON.stringify(obj),
      contentType: 'application/json',
    };
    return parseObject<T>(await this.#call('update', obj.kind, req, options));
  }

  /** Merge or JSON patch (strategic only for built-in kinds). */
  async patch<T extends KubeObject = KubeObject>(
    ref: TypeRef,
    name: string,
    namespace: string | undefined,
    patch: unknown,
    type: PatchType,
    options: WriteOptions = {},
  ): Promise<T> {
    const info = await this.resolve(ref);
    const req: TransportRequest = {
      method: 'PATCH',
      path: resourcePath(info, namespace, name, options.subresource),
      query: writeQuery(options),
      body: JSON.stringify(patch),
      contentType: patchContentTypes[type],
    };
    return parseObject<T>(await this.#call('patch', ref.kind, req, options));
  }

  /**
   * Server-side apply (`application/apply-patch+yaml`; JSON is YAML). `obj` holds only the fields the
   * field manager owns; with `subresource: 'status'` only its status is applied.
   */
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, options: ApplyOptions): Promise<T> {
    const info = await this.resolve(obj);
    const req: TransportRequest = {
      method: 'PATCH',
      path: resourcePath(info, obj.metadata.namespace, requireName(obj), options.subresource),
      query: { ...writeQuery(options), force: options.force ?? true },
      body: JSON.stringify(obj),
      contentType: patchContentTypes.apply,
      ...(options.metadataOnly === true ? { accept: METADATA_ACCEPT.object } : {}),
    };
    const answer = await this.#call('apply', obj.kind, req, options);
    return options.metadataOnly === true ? normalizeItem<T>(JSON.parse(answer) as Record<string, unknown>, obj) : parseObject<T>(answer);
  }

  async delete(ref: TypeRef, name: string, namespace?: string, options: DeleteOptions = {}): Promise<void> {
    const info = await this.resolve(ref);
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: options.propagationPolicy,
      gracePeriodSeconds: options.gracePeriodSeconds,
      preconditions: options.preconditions,
    };
    const req: TransportRequest = {
      method: 'DELETE',
      path: resourcePath(info, namespace, name),
      body: JSON.stringify(body),
      contentType: 'application/json',
    };
    await this.#call('delete', ref.kind, req, options);
  }

  /**
   * GET or POST of a path outside the object model: `/readyz`, `/version`, a ServiceAccount's `token`
   * subresource, a SubjectAccessReview (answers that are not stored objects). Same deadline, metrics
   * and errors as every other call; returns the body as text.
   */
  async raw(method: 'GET' | 'POST', path: string, options: RequestOptions & { body?: unknown } = {}): Promise<string> {
    const req: TransportRequest =
      options.body === undefined ? { method, path } : { method, path, body: JSON.stringify(options.body), contentType: 'application/json' };
    return this.#call(method === 'GET' ? 'get' : 'create', '', req, options);
  }

  /** The server's build version (`GET /version`). */
  async serverVersion(options: RequestOptions = {}): Promise<ServerVersion> {
    return serverVersionSchema.parse(JSON.parse(await this.raw('GET', '/version', options)));
  }

  /**
   * POSTs a review and returns the answered object (its `status`). Reviews have no name and are not
   * persisted, so create()'s object parse (which requires metadata.name) does not fit them.
   */
  async review(obj: ReviewRequest, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    const info = await this.resolve(obj);
    const req: TransportRequest = {
      method: 'POST',
      path: resourcePath(info, obj.metadata?.namespace),
      body: JSON.stringify(obj),
      contentType: 'application/json',
    };
    return z.record(z.string(), z.unknown()).parse(JSON.parse(await this.#call('create', obj.kind, req, options)));
  }

  /** List+watch of one kind (one namespace or all, optional selectors), for a Reflector. */
  listerWatcher<T extends KubeObject = KubeObject>(
    ref: TypeRef,
    scope: { namespace?: string; labelSelector?: string; fieldSelector?: string; metadataOnly?: boolean } = {},
  ): ListerWatcher<T> {
    return {
      list: (options, signal) => this.list<T>(ref, { ...scope, limit: options.limit, continue: options.continue, signal }),
      watch: (options, signal) => this.watch<T>(ref, { ...scope, ...options }, signal),
    };
  }

  close(): Promise<void> {
    return this.#transport.close();
  }

  async #fetchGroupVersion(apiVersion: string) {
    try {
      const body = await this.#call('discovery', '', { method: 'GET', path: groupVersionPath(apiVersion) }, {});
      return apiResourceListSchema.parse(JSON.parse(body));
    } catch (err) {
      if (err instanceof KubeApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** Sends a buffered request: counts it, times it, applies the deadline, turns non-2xx into KubeApiError. */
  async #call(verb: RequestVerb, kind: string, req: TransportRequest, options: RequestOptions): Promise<string> {
    this.requests.record(verb, kind);
    const deadline = requestDeadline(options.signal, options.timeoutMs ?? this.#timeoutMs);
    const signal = deadline.signal;
    const label = `${req.method} ${req.path}`;
    let res;
    try {
      for (let attempt = 0; ; attempt++) {
        res = await this.#send(req, signal, label);
        // Priority and fairness turned it away before handling it: safe to send again, when it says.
        const retryable = (res.status === 429 || res.status === 503) && res.retryAfterSeconds !== undefined;
        if (!retryable || attempt >= MAX_RETRY_AFTER_RETRIES) break;
        if (!(await sleep(this.#clock, Math.min(MAX_RETRY_AFTER_MS, res.retryAfterSeconds! * 1000), signal))) break;
      }
    } finally {
      deadline.dispose();
    }
    if (options.onWarning !== undefined) for (const warning of res.warnings ?? []) options.onWarning(warningText(warning));
    if (res.status >= 300) throw KubeApiError.fromResponse(res.status, res.body, label);
    return res.body;
  }

  /** One attempt, holding a flow-control slot until the answer is read. */
  async #send(req: TransportRequest, signal: AbortSignal, label: string): Promise<TransportResponse> {
    let release: (() => void) | undefined;
    try {
      release = await this.#flow?.acquire(signal);
    } catch (err) {
      throw wrapError(`kube request failed: ${label}`, err);
    }
    const started = performance.now();
    try {
      const res = await this.#transport.request({ ...req, signal });
      this.#observe(req.method, String(res.status), started);
      return res;
    } catch (err) {
      this.#observe(req.method, '<error>', started);
      throw wrapError(`kube request failed: ${label}`, err);
    } finally {
      release?.();
    }
  }

  #observe(method: HttpMethod, code: string, startedAt: number): void {
    if (this.#metrics === undefined) return;
    const host = this.#transport.host;
    this.#metrics.restClientRequests.inc({ code, method, host });
    this.#metrics.restClientRequestDuration.observe({ verb: method, host }, (performance.now() - startedAt) / 1000);
  }
}

/**
 * The signal of one request: aborted by `parent` or, with a TimeoutError, after `ms`. Unlike
 * AbortSignal.timeout and AbortSignal.any, it lets go of its timer and of the parent the moment the
 * request ends (`dispose`): at a thousand fleets a reconcile storm sends some 25,000 requests in a
 * minute and a half, and each left-over timer held its signals until it fired, 30 s later.
 */
export function requestDeadline(parent: AbortSignal | undefined, ms: number): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent!.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new DOMException(`request timed out after ${ms} ms`, 'TimeoutError')), ms);
  timer.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}

/** The text of a `Warning: 299 - "text"` header (RFC 7234 quoted string); the whole value if it has another shape. */
export function warningText(header: string): string {
  const m = /^\d{3} \S+ "((?:[^"\\]|\\.)*)"/.exec(header);
  return m === null ? header : m[1]!.replace(/\\(.)/g, '$1');
}

function writeQuery(options: WriteOptions | ApplyOptions): TransportRequest['query'] {
  return { fieldManager: options.fieldManager, dryRun: options.dryRun === true ? 'All' : undefined, fieldValidation: options.fieldValidation };
}

function requireName(obj: KubeObject): string {
  const name = obj.metadata.name;
  if (name === undefined || name === '') throw new Error(`${obj.kind} has no metadata.name`);
  return name;
}

function parseObject<T extends KubeObject>(body: string): T {
  return kubeObjectSchema.parse(JSON.parse(body)) as unknown as T;
}

/**
 * List items lack apiVersion/kind; add them so cached objects look like watched ones. Metadata-only
 * answers say `meta.k8s.io/v1 PartialObjectMetadata`: they get the kind they stand for, so a cache
 * of them is keyed and read like one of full objects (they just have no spec).
 */
function normalizeItem<T extends KubeObject>(item: Record<string, unknown>, ref: TypeRef): T {
  const partial = item.kind === PARTIAL_OBJECT_METADATA;
  const withType = { ...item, apiVersion: partial ? ref.apiVersion : (item.apiVersion ?? ref.apiVersion), kind: partial ? ref.kind : (item.kind ?? ref.kind) };
  return kubeObjectSchema.parse(withType) as unknown as T;
}

const PARTIAL_OBJECT_METADATA = 'PartialObjectMetadata';

async function* parseWatchStream<T extends KubeObject>(chunks: AsyncIterable<Uint8Array>, label: string, ref?: TypeRef): AsyncGenerator<WatchEvent<T>> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line !== '') yield parseWatchLine<T>(line, label, ref);
      newline = buffer.indexOf('\n');
    }
  }
  buffer += decoder.decode();
  if (buffer.trim() !== '') yield parseWatchLine<T>(buffer.trim(), label, ref);
}

/** One JSON line of a watch stream (a PartialObjectMetadata one takes `ref`'s kind); exported for tests. */
export function parseWatchLine<T extends KubeObject>(line: string, label = 'watch', ref?: TypeRef): WatchEvent<T> {
  const event = watchLineSchema.parse(JSON.parse(line));
  if (event.type === 'ERROR') throw KubeApiError.fromStatus(statusSchema.parse(event.object), label);
  if (event.type === 'BOOKMARK') return { type: 'BOOKMARK', object: bookmarkSchema.parse(event.object) as unknown as T };
  const object = ref !== undefined && event.object['kind'] === PARTIAL_OBJECT_METADATA ? { ...event.object, apiVersion: ref.apiVersion, kind: ref.kind } : event.object;
  return { type: event.type, object: kubeObjectSchema.parse(object) as unknown as T };
}
