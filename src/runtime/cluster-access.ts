// Where the API server is and how to authenticate, for the operator's transport. The common cases
// are read here: in-cluster (service account token and CA, the token re-read as the kubelet rotates
// it) and a kubeconfig with a client certificate, a token or basic auth. Anything else (exec plugins,
// auth providers, impersonation, several kubeconfig files to merge) goes to client-node's KubeConfig,
// imported only then: its generated API clients cost the process some 50 MiB of memory that a
// service-account operator never uses.
import type { KubeConfig } from '@kubernetes/client-node';
import type { RequestOptions } from 'node:https';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export interface TlsOptions {
  ca?: string | Buffer;
  pfx?: string | Buffer;
  passphrase?: string;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface ClusterAccess {
  /** The API server's base URL, e.g. `https://10.0.0.1:443`. */
  server: URL;
  tls: TlsOptions;
  /** Headers for the next request (a token file is re-read as it rotates). */
  authHeaders(): Promise<Record<string, string>>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** client-go re-reads a token file at most once a minute. */
const TOKEN_REREAD_MS = 60_000;

const kubeconfigSchema = z.looseObject({
  'current-context': z.string().optional(),
  clusters: z.array(z.looseObject({ name: z.string(), cluster: z.looseObject({ server: z.string() }) })).optional(),
  users: z.array(z.looseObject({ name: z.string(), user: z.looseObject({}).nullable().optional() })).optional(),
  contexts: z.array(z.looseObject({ name: z.string(), context: z.looseObject({ cluster: z.string(), user: z.string().optional() }) })).optional(),
});

const clusterSchema = z.looseObject({
  server: z.string(),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().optional(),
  'proxy-url': z.string().optional(),
});

/** User fields handled here; any other field (exec, auth-provider, as, ...) means: ask client-node. */
const SIMPLE_USER_FIELDS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'username', 'password']);
const userSchema = z.strictObject({
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
});

/**
 * Like client-node's `loadFromFile(path)` / `loadFromDefault()`: `path`, else $KUBECONFIG, else
 * ~/.kube/config, else the in-cluster service account.
 */
export async function loadClusterAccess(path?: string): Promise<ClusterAccess> {
  const candidates = path !== undefined ? [path] : (process.env['KUBECONFIG'] ?? '').split(delimiter).filter((p) => p !== '');
  if (path === undefined && candidates.length === 0) {
    const home = join(homedir(), '.kube', 'config');
    if (existsSync(home)) candidates.push(home);
  }
  if (candidates.length === 1) return (await fromKubeconfigFile(candidates[0]!)) ?? viaClientNode(candidates[0]);
  if (candidates.length > 1) return viaClientNode(undefined);
  if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined) return inCluster();
  return viaClientNode(undefined);
}

/** The service account's token and CA, as client-go's InClusterConfig reads them. */
function inCluster(): ClusterAccess {
  const host = process.env['KUBERNETES_SERVICE_HOST']!;
  const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '443';
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  return { server, tls: { ca: readFileSync(join(SERVICE_ACCOUNT_DIR, 'ca.crt')) }, authHeaders: bearerFromFile(join(SERVICE_ACCOUNT_DIR, 'token')) };
}

/** The current context of one kubeconfig file, or undefined when it needs client-node. */
async function fromKubeconfigFile(file: string): Promise<ClusterAccess | undefined> {
  const doc = kubeconfigSchema.parse(parseYaml(await readFile(file, 'utf8')));
  const contextName = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === contextName)?.context;
  if (context === undefined) return undefined;
  const clusterEntry = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  const rawUser = context.user === undefined ? {} : (doc.users?.find((u) => u.name === context.user)?.user ?? {});
  if (clusterEntry === undefined || Object.keys(rawUser).some((k) => !SIMPLE_USER_FIELDS.has(k))) return undefined;
  const cluster = clusterSchema.parse(clusterEntry);
  const user = userSchema.parse(rawUser);
  // A proxy is client-node's business too.
  if (cluster['proxy-url'] !== undefined) return undefined;
  const base = dirname(file);
  const material = (data: string | undefined, path: string | undefined): Buffer | undefined =>
    data !== undefined ? Buffer.from(data, 'base64') : path !== undefined ? readFileSync(isAbsolute(path) ? path : join(base, path)) : undefined;
  const tls: TlsOptions = {};
  const ca = material(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = material(user['client-certificate-data'], user['client-certificate']);
  const key = material(user['client-key-data'], user['client-key']);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (cluster['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false;
  if (cluster['tls-server-name'] !== undefined) tls.servername = cluster['tls-server-name'];
  let authHeaders: ClusterAccess['authHeaders'] = async () => ({});
  if (user.token !== undefined) {
    const header = { authorization: `Bearer ${user.token}` };
    authHeaders = async () => header;
  } else if (user.tokenFile !== undefined) {
    authHeaders = bearerFromFile(isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile));
  } else if (user.username !== undefined) {
    const header = { authorization: `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}` };
    authHeaders = async () => header;
  }
  return { server: new URL(cluster.server), tls, authHeaders };
}

function bearerFromFile(file: string): ClusterAccess['authHeaders'] {
  let token = '';
  let readAt = -Infinity;
  return async () => {
    if (Date.now() - readAt >= TOKEN_REREAD_MS) {
      token = (await readFile(file, 'utf8')).trim();
      readAt = Date.now();
    }
    return { authorization: `Bearer ${token}` };
  };
}

/** Everything else, through client-node's KubeConfig (exec plugins, auth providers, merged files). */
async function viaClientNode(path: string | undefined): Promise<ClusterAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  if (path !== undefined) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  return clusterAccessOf(kubeConfig);
}

/** Access through a loaded client-node KubeConfig: its TLS material once, its auth headers per request. */
export async function clusterAccessOf(kubeConfig: KubeConfig): Promise<ClusterAccess> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const tls: TlsOptions = {};
  if (server.protocol === 'https:') {
    const opts: Record<string, unknown> = {};
    await kubeConfig.applyToHTTPSOptions(opts);
    for (const key of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const) {
      if (opts[key] !== undefined) (tls as Record<string, unknown>)[key] = opts[key];
    }
  }
  return {
    server,
    tls,
    authHeaders: async () => {
      const opts: RequestOptions = {};
      await kubeConfig.applyToHTTPSOptions(opts);
      const out: Record<string, string> = {};
      for (const [key, value] of Object.entries(opts.headers ?? {})) {
        if (value !== undefined) out[key.toLowerCase()] = String(value);
      }
      if (typeof opts.auth === 'string' && out['authorization'] === undefined) out['authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
      return out;
    },
  };
}
