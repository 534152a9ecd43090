// Cluster helpers of the packaging integration tests (test/integration/packaging-*.test.ts); kept
// beside the other packaging helpers. Raw HTTPS with the kubeconfig's credentials: the typed
// client hides `Warning` headers and drops fields it does not know.
import { request, type RequestOptions } from 'node:https';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse, parseAllDocuments, stringify } from 'yaml';

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; generation?: number };
  [key: string]: unknown;
}

export interface Reply {
  status: number;
  body: string;
  /** `Warning` headers (PodSecurity answers a workload that would break the profile with one). */
  warnings: string[];
}

export const FIELD_MANAGER = 'unmute-packaging-test';

export function objects(stream: string): Obj[] {
  return parseAllDocuments(stream)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors[0]!.message);
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

export const describeReply = (o: Obj, r: Reply): string => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}: HTTP ${r.status} ${r.body.slice(0, 400)}`;

export class Api {
  readonly #kc: KubeConfig;
  readonly #resources = new Map<string, { plural: string; namespaced: boolean }>();

  constructor(kc: KubeConfig) {
    this.#kc = kc;
  }

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const url = new URL(path, this.#kc.getCurrentCluster()!.server);
    const opts: RequestOptions = { method, headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } };
    await this.#kc.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(url, { ...opts, signal: AbortSignal.timeout(30_000) }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const w = res.headers['warning'];
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), warnings: w === undefined ? [] : Array.isArray(w) ? w : [w] });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like call, but a non-2xx answer throws with the API server's message. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.call(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: HTTP ${r.status} ${r.body.slice(0, 400)}`);
    return JSON.parse(r.body) as T;
  }

  /** REST path of an object (collection path when `name` is false), from API discovery. */
  async pathOf(o: Pick<Obj, 'apiVersion' | 'kind' | 'metadata'>, name = true): Promise<string> {
    const base = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
    const key = `${o.apiVersion}/${o.kind}`;
    let r = this.#resources.get(key);
    if (r === undefined) {
      const list = await this.json<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', base);
      const found = list.resources.find((x) => x.kind === o.kind && !x.name.includes('/'));
      if (found === undefined) throw new Error(`${o.apiVersion} does not serve ${o.kind}`);
      r = { plural: found.name, namespaced: found.namespaced };
      this.#resources.set(key, r);
    }
    const ns = r.namespaced ? `/namespaces/${o.metadata.namespace ?? 'default'}` : '';
    return `${base}${ns}/${r.plural}${name ? `/${o.metadata.name}` : ''}`;
  }

  /** Server-side apply; `dryRun` leaves the cluster unchanged. */
  async apply(o: Obj, opts: { dryRun: boolean; headers?: Record<string, string> }): Promise<Reply> {
    const query = `fieldManager=${FIELD_MANAGER}&force=true${opts.dryRun ? '&dryRun=All' : ''}`;
    return this.call('PATCH', `${await this.pathOf(o)}?${query}`, o, { 'content-type': 'application/apply-patch+yaml', ...opts.headers });
  }

  /** Applies for real and throws unless the API server accepted it. */
  async applyOrThrow(o: Obj): Promise<Obj> {
    const r = await this.apply(o, { dryRun: false });
    if (r.status < 200 || r.status > 299) throw new Error(describeReply(o, r));
    return JSON.parse(r.body) as Obj;
  }

  /** A bound token for a ServiceAccount (TokenRequest API). */
  async serviceAccountToken(namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
    const body = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } };
    const res = await this.json<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, body);
    return res.status.token;
  }
}

/**
 * A kubeconfig that authenticates with `token` against the cluster of `baseKubeconfig` (same
 * server and CA), written to a temp file: what the operator pod would get from its ServiceAccount.
 */
export function tokenKubeconfig(baseKubeconfig: string, token: string): string {
  const base = parse(readFileSync(baseKubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, unknown> }[]; 'current-context': string; contexts: { name: string; context: { cluster: string } }[] };
  const context = base.contexts.find((c) => c.name === base['current-context']) ?? base.contexts[0]!;
  const cluster = base.clusters.find((c) => c.name === context.context.cluster)!;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [cluster],
    users: [{ name: 'operator', user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: cluster.name, user: 'operator' } }],
    'current-context': 'operator',
  };
  const file = join(mkdtempSync(join(tmpdir(), 'unmute-sa-')), 'kubeconfig');
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

/** The container args the chart gives the operator, from its rendered Deployment. */
export function operatorArgs(rendered: Obj[]): string[] {
  const d = rendered.find((o) => o.kind === 'Deployment');
  if (d === undefined) throw new Error('the chart rendered no Deployment');
  const containers = (d['spec'] as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers;
  return containers[0]!.args;
}

/** The example CRs, each moved into `namespaceFor(name)`. */
export function exampleCrs(root: string, files: string[], namespaceFor: (file: string, cr: Obj) => string): { file: string; cr: Obj }[] {
  return files.flatMap((file) =>
    objects(readFileSync(join(root, 'examples', file), 'utf8'))
      .filter((o) => o.kind === 'UnmuteDeployment')
      .map((cr) => ({ file, cr: { ...cr, metadata: { ...cr.metadata, namespace: namespaceFor(file, cr) } } })),
  );
}

/** Secrets an example refers to, with a dummy value under the referenced key. */
export function referencedSecrets(cr: Obj): Obj[] {
  const found = new Map<string, Set<string>>();
  const walk = (v: unknown, field: string) => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, field));
    else if (v !== null && typeof v === 'object') {
      const rec = v as Record<string, unknown>;
      if (/SecretRef$/.test(field) && typeof rec['name'] === 'string' && typeof rec['key'] === 'string') {
        const keys = found.get(rec['name']) ?? new Set<string>();
        keys.add(rec['key']);
        found.set(rec['name'], keys);
      }
      for (const [k, x] of Object.entries(rec)) walk(x, k);
    }
  };
  walk(cr['spec'], 'spec');
  return [...found].map(([name, keys]) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: cr.metadata.namespace! },
    stringData: Object.fromEntries([...keys].map((k) => [k, 'test-value'])),
  }));
}

/**
 * Resolves with `wait`, or rejects as soon as `process` exits (with its output): a crashed operator
 * fails the test at once instead of after the whole timeout.
 */
export async function unlessExited<T>(wait: Promise<T>, process: { exited: Promise<unknown>; output(): string }): Promise<T> {
  const exited = process.exited.then(() => {
    throw new Error(`the operator exited; its output:\n${process.output().slice(-6000)}`);
  });
  return Promise.race([wait, exited]);
}
