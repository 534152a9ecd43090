// HTTP to the API server. Why our own small layer instead of client-node's generated APIs or
// KubernetesObjectApi: those deserialize into typed models (dropping unknown fields, turning times
// into Date), default to strategic-merge patches, return error bodies as strings, and offer no hook
// to count or time requests. Here requests are raw JSON over undici; where the server is and how to
// authenticate comes from cluster-access.ts (client-node's KubeConfig for the cases it alone handles).
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, request, type Dispatcher } from 'undici';
import { clusterAccessOf, type ClusterAccess } from './cluster-access.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface TransportRequest {
  method: HttpMethod;
  /** Absolute API path, e.g. `/apis/apps/v1/namespaces/x/deployments`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: string;
  contentType?: string;
  /** The `Accept` header; `application/json` when unset. */
  accept?: string;
  /** Aborts the request (and, for streams, the body) when it fires. */
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  body: string;
  /** Raw values of the answer's `Warning` headers (PodSecurity, deprecated APIs, unknown fields). */
  warnings?: string[];
  /** The `Retry-After` header in seconds (a 429 from flow control), when it is a number. */
  retryAfterSeconds?: number;
}

export interface TransportStream {
  status: number;
  /** Reads the whole body (use for non-2xx answers). */
  text(): Promise<string>;
  /** The body's chunks as they arrive. */
  chunks: AsyncIterable<Uint8Array>;
}

export interface KubeTransport {
  /** `host:port` of the API server, the `host` label of rest_client metrics. */
  readonly host: string;
  request(req: TransportRequest): Promise<TransportResponse>;
  /** Like request, but hands back the body as a stream (watches). */
  stream(req: TransportRequest): Promise<TransportStream>;
  close(): Promise<void>;
}

function buildUrl(base: URL, path: string, query: TransportRequest['query']): URL {
  const url = new URL(base.toString());
  url.pathname = base.pathname.replace(/\/$/, '') + path;
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url;
}

export interface UndiciTransportOptions {
  userAgent?: string;
  /** Time to wait for response headers; the caller's signal bounds the whole request. */
  headersTimeoutMs?: number;
}

export class UndiciTransport implements KubeTransport {
  readonly host: string;
  readonly #access: ClusterAccess;
  readonly #base: URL;
  readonly #dispatcher: Dispatcher;
  readonly #userAgent: string;
  readonly #headersTimeoutMs: number;

  private constructor(access: ClusterAccess, dispatcher: Dispatcher, options: UndiciTransportOptions) {
    this.#access = access;
    this.#base = access.server;
    this.host = access.server.host;
    this.#dispatcher = dispatcher;
    this.#userAgent = options.userAgent ?? 'unmute-operator';
    this.#headersTimeoutMs = options.headersTimeoutMs ?? 30_000;
  }

  /** Reads the current context's cluster and TLS material once; auth headers are fetched per request. */
  static async fromKubeConfig(kubeConfig: KubeConfig, options: UndiciTransportOptions = {}): Promise<UndiciTransport> {
    return UndiciTransport.fromClusterAccess(await clusterAccessOf(kubeConfig), options);
  }

  static fromClusterAccess(access: ClusterAccess, options: UndiciTransportOptions = {}): UndiciTransport {
    const tls = access.server.protocol === 'https:' ? access.tls : {};
    // keepAlive probes every 30 s like client-go, so a dead peer surfaces as a socket error.
    const dispatcher = new Agent({ connect: { ...tls, keepAlive: true, keepAliveInitialDelay: 30_000 } });
    return new UndiciTransport(access, dispatcher, options);
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    const res = await this.#send(req, false);
    const body = await res.body.text();
    const warning = res.headers['warning'];
    const retryAfter = Number(res.headers['retry-after']);
    return {
      status: res.statusCode,
      body,
      warnings: warning === undefined ? [] : Array.isArray(warning) ? warning : [warning],
      ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
    };
  }

  async stream(req: TransportRequest): Promise<TransportStream> {
    const res = await this.#send(req, true);
    return { status: res.statusCode, text: () => res.body.text(), chunks: res.body };
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }

  async #send(req: TransportRequest, streaming: boolean): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {
      accept: req.accept ?? 'application/json',
      'user-agent': this.#userAgent,
      ...(await this.#access.authHeaders()),
    };
    if (req.contentType !== undefined) headers['content-type'] = req.contentType;
    return request(buildUrl(this.#base, req.path, req.query), {
      method: req.method,
      headers,
      body: req.body,
      signal: req.signal,
      dispatcher: this.#dispatcher,
      headersTimeout: this.#headersTimeoutMs,
      // A watch may be legitimately quiet for minutes; the reflector's watchdog bounds silence instead.
      bodyTimeout: streaming ? 0 : this.#headersTimeoutMs,
    });
  }
}
