// A minimal HTTPS client for the harness's own calls to the apiserver (readiness, CRDs, nodes).
// Raw JSON in and out: the typed client drops fields it does not know, which would corrupt CRDs.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

export interface KubeResponse {
  status: number;
  body: string;
}

export class KubeHttp {
  readonly server: string;
  readonly #agent: Agent;

  constructor(server: string, pki: { ca: string; cert: string; key: string }) {
    this.server = server;
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: 8,
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.cert),
      key: readFileSync(pki.key),
    });
  }

  request(method: string, path: string, body?: unknown, opts: { contentType?: string; timeoutMs?: number } = {}): Promise<KubeResponse> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const url = new URL(path, this.server);
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          agent: this.#agent,
          headers: {
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
          signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like request, but any non-2xx answer is an error carrying the apiserver's message. */
  async json<T = unknown>(method: string, path: string, body?: unknown, opts?: { contentType?: string; timeoutMs?: number }): Promise<T> {
    const res = await this.request(method, path, body, opts);
    if (res.status < 200 || res.status > 299) throw new KubeError(method, path, res);
    return JSON.parse(res.body) as T;
  }

  close(): void {
    this.#agent.destroy();
  }
}

export class KubeError extends Error {
  readonly status: number;
  constructor(method: string, path: string, res: KubeResponse) {
    let message = res.body.slice(0, 500);
    try {
      message = (JSON.parse(res.body) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    super(`${method} ${path}: HTTP ${res.status}: ${message}`);
    this.status = res.status;
  }
}
