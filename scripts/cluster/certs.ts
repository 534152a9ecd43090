// A private CA per cluster and the certificates signed by it, made with the openssl CLI
// (node:crypto cannot issue X.509 certificates). ECDSA P-256 keeps generation fast.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KUBERNETES_SERVICE_IP } from './config.ts';

const run = promisify(execFile);

export interface CertPair {
  cert: string;
  key: string;
}
export interface ClusterPki {
  dir: string;
  ca: CertPair;
  apiserver: CertPair;
  admin: CertPair;
  controllerManager: CertPair;
  scheduler: CertPair;
  kwok: CertPair;
  /** Service-account token signing key pair (apiserver signs and verifies, controller-manager signs). */
  saKey: string;
  saPub: string;
  /** With the aggregation layer only: the front-proxy CA and the client certificate kube-apiserver proxies with. */
  frontProxy?: FrontProxyPki;
}

/**
 * The aggregation layer's own trust chain, as kubeadm makes it: a separate CA whose client
 * certificate (CN front-proxy-client) kube-apiserver presents when it proxies a request to an
 * extension API server, which trusts the X-Remote-User/Group headers only from that certificate.
 */
export interface FrontProxyPki {
  ca: CertPair;
  client: CertPair;
  /** The CN extension servers accept (--requestheader-allowed-names). */
  clientName: string;
}

export interface CertSpec {
  cn: string;
  org?: string;
  /** 'server-client': one certificate for both ends of a mutual-TLS link (KEDA's operator/adapter gRPC). */
  usage: 'server' | 'client' | 'server-client';
  sans?: string[];
}
type Spec = CertSpec;

const EXTENDED_USAGE = { server: 'serverAuth', client: 'clientAuth', 'server-client': 'serverAuth,clientAuth' } as const;

/** openssl's default config adds CA extensions to `req -x509`; a minimal config per cert avoids that. */
function opensslConfig(s: Spec): string {
  const lines = ['[req]', 'distinguished_name = dn', 'prompt = no', 'x509_extensions = ext', '[dn]', `CN = ${s.cn}`];
  if (s.org) lines.push(`O = ${s.org}`);
  lines.push(
    '[ext]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    `extendedKeyUsage = ${EXTENDED_USAGE[s.usage]}`,
  );
  if (s.sans) lines.push(`subjectAltName = ${s.sans.join(',')}`);
  return lines.join('\n') + '\n';
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A certificate signed by `ca`, written to <dir>/<id>.crt and .key. */
export async function issue(dir: string, id: string, s: Spec, ca: CertPair): Promise<CertPair> {
  const cnf = join(dir, `${id}.cnf`);
  writeFileSync(cnf, opensslConfig(s));
  const pair = { cert: join(dir, `${id}.crt`), key: join(dir, `${id}.key`) };
  const serial = `0x${randomBytes(8).toString('hex')}`;
  await run('openssl', ['req', '-x509', '-config', cnf, ...ecKey, '-keyout', pair.key, '-out', pair.cert,
    '-days', '365', '-set_serial', serial, '-CA', ca.cert, '-CAkey', ca.key]);
  return pair;
}

/** A self-signed CA at <dir>/<id>.crt and .key. */
export async function createCa(dir: string, id: string, cn: string): Promise<CertPair> {
  mkdirSync(dir, { recursive: true });
  const ca = { cert: join(dir, `${id}.crt`), key: join(dir, `${id}.key`) };
  try {
    await run('openssl', ['req', '-x509', ...ecKey, '-keyout', ca.key, '-out', ca.cert, '-days', '3650',
      '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature']);
  } catch (e) {
    throw new Error(`openssl failed to create the CA ${cn} (is openssl >= 3.0 installed?): ${(e as Error).message}`);
  }
  return ca;
}

export const FRONT_PROXY_CLIENT_NAME = 'front-proxy-client';

export async function createFrontProxyPki(dir: string): Promise<FrontProxyPki> {
  const ca = await createCa(dir, 'front-proxy-ca', 'unmute-local-front-proxy-ca');
  const client = await issue(dir, 'front-proxy-client', { cn: FRONT_PROXY_CLIENT_NAME, usage: 'client' }, ca);
  return { ca, client, clientName: FRONT_PROXY_CLIENT_NAME };
}

export async function createPki(dir: string, opts: { aggregation?: boolean } = {}): Promise<ClusterPki> {
  const frontProxy = opts.aggregation ? createFrontProxyPki(dir) : undefined;
  frontProxy?.catch(() => {}); // awaited below; a failure surfaces there, not as an unhandled rejection
  const ca = await createCa(dir, 'ca', 'unmute-local-cluster-ca');
  const serverSans = ['DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local', 'IP:127.0.0.1', `IP:${KUBERNETES_SERVICE_IP}`];
  const [apiserver, admin, controllerManager, scheduler, kwok] = await Promise.all([
    issue(dir, 'apiserver', { cn: 'kube-apiserver', usage: 'server', sans: serverSans }, ca),
    issue(dir, 'admin', { cn: 'admin', org: 'system:masters', usage: 'client' }, ca),
    // Built-in RBAC bindings exist for these two user names: least privilege, as in a real cluster.
    issue(dir, 'controller-manager', { cn: 'system:kube-controller-manager', usage: 'client' }, ca),
    issue(dir, 'scheduler', { cn: 'system:kube-scheduler', usage: 'client' }, ca),
    // KWOK plays every kubelet (node status, leases, pod status, deletes): admin rights, like kwokctl gives it.
    issue(dir, 'kwok', { cn: 'kwok-controller', org: 'system:masters', usage: 'client' }, ca),
  ]);
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  writeFileSync(saKey, sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(saPub, sa.publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    dir, ca, apiserver: apiserver!, admin: admin!, controllerManager: controllerManager!, scheduler: scheduler!, kwok: kwok!, saKey, saPub,
    ...(frontProxy ? { frontProxy: await frontProxy } : {}),
  };
}

const b64 = (file: string): string => readFileSync(file).toString('base64');

/** A self-contained kubeconfig (certificates embedded), valid wherever `server` is reachable. */
export function kubeconfigYaml(server: string, caCert: string, user: string, client: CertPair): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: unmute-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caCert)}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate-data: ${b64(client.cert)}`,
    `    client-key-data: ${b64(client.key)}`,
    'contexts:',
    '- name: unmute-local',
    '  context:',
    '    cluster: unmute-local',
    `    user: ${user}`,
    'current-context: unmute-local',
    '',
  ].join('\n');
}
