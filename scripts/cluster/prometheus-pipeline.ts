// The monitoring pipeline a kube-prometheus-stack user has, on a full-mode cluster: the pinned
// prometheus-operator (build-extras.sh) watching the cluster from the network namespace, a
// `Prometheus` resource, and upstream Prometheus (build-extras.sh, Kubernetes discovery built in)
// running the configuration prometheus-operator generates for it.
//
// prometheus-operator renders a `Prometheus` into a StatefulSet (KWOK runs its pods: nothing real in
// them), a Secret `prometheus-<name>` holding prometheus.yaml.gz, and ConfigMaps
// `prometheus-<name>-rulefiles-<n>` holding the selected PrometheusRules. In a real pod the
// config-reloader sidecar unpacks the Secret, expands $(POD_NAME) and asks Prometheus to reload;
// the mounted ConfigMaps appear under /etc/prometheus/rules. startGeneratedPrometheus does that job
// with the real Prometheus binary as a process of the netns. It changes the generated configuration
// in exactly these places (rewriteGeneratedConfig), and nowhere else:
//   - every kubernetes_sd_configs entry without an api_server of its own (= in-cluster config) gets
//     the API server address (api_server: https://127.0.0.1:6443, its address in the netns) and
//     the credentials a pod would have mounted: tls_config.ca_file (the cluster CA) and
//     authorization.credentials_file (a token of the Prometheus' ServiceAccount, TokenRequest API);
//   - rule_files: /etc/prometheus/rules/<configmap>/*.yaml -> <state>/prometheus/<ns>-<name>/rules/<configmap>/*.yaml;
//   - $(POD_NAME) -> prometheus-<name>-0 and $(SHARD) -> 0, the environment variables the
//     config-reloader expands in the whole file (prometheus-operator sets exactly these two).
// Everything else (jobs, relabelings, intervals, selectors, rule groups) runs as generated.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import {
  ADDON_ADDRESSES,
  addonAddress,
  adminClient,
  applyAll,
  clusterRef,
  exposeToHost,
  extraBinary,
  startAddonProcess,
  waitUntil,
  type AddonProcess,
  type ClusterRef,
  type HostRelay,
} from './addons.ts';
import { cacheDir, readVersions } from './config.ts';
import { installCrds } from './crds.ts';
import type { Cluster } from './harness.ts';

const PROMETHEUS_KIND = { apiVersion: 'monitoring.coreos.com/v1', kind: 'Prometheus' } as const;
const SECRET = { apiVersion: 'v1', kind: 'Secret' } as const;
const CONFIG_MAP = { apiVersion: 'v1', kind: 'ConfigMap' } as const;
/** Where prometheus-operator mounts rule ConfigMaps in its pods (pkg/prometheus RulesDir). */
export const OPERATOR_RULES_DIR = '/etc/prometheus/rules';
const OPERATOR_WEB_PORT = 18090;
const PROMETHEUS_PORT = 9090;

// ---------------------------------------------------------------------------------------------
// prometheus-operator
// ---------------------------------------------------------------------------------------------

export interface PrometheusOperator {
  process: AddonProcess;
  stop(): Promise<void>;
}

const CRD = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' } as const;
const PROMETHEUS_CRD_NAME = 'prometheuses.monitoring.coreos.com';

/** CRDs the operator needs beyond what every cluster has (ServiceMonitor, PodMonitor, PrometheusRule, Probe). */
export function prometheusOperatorExtraCrds(): string[] {
  return [join(cacheDir(), 'crds', `prometheus-operator-${readVersions().PROMETHEUS_OPERATOR_VERSION}`, 'monitoring.coreos.com_prometheuses.yaml')];
}

/**
 * Installs the Prometheus CRD and starts prometheus-operator in the netns (admin kubeconfig, all
 * namespaces). Resolves once it runs its Prometheus controller.
 */
export async function startPrometheusOperator(cluster: Cluster | ClusterRef, opts: { log?: (m: string) => void; timeoutMs?: number; logLevel?: 'debug' | 'info' | 'warn' } = {}): Promise<PrometheusOperator> {
  const t0 = Date.now();
  const ref = 'caCert' in cluster ? cluster : clusterRef(cluster);
  const bin = extraBinary('prometheus-operator', (v) => v.PROMETHEUS_OPERATOR_VERSION);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const client = await adminClient(ref);
  let installed = false;
  try {
    // Removed again on stop when this installed it: the cluster is left as it was found (a later
    // test may rely on the kind Prometheus not being served).
    installed = (await client.getIfExists(CRD, PROMETHEUS_CRD_NAME)) === undefined;
    await installCrds(client, prometheusOperatorExtraCrds(), timeoutMs);
    // prometheus-operator reads discovery once at start and gives up ("no controller can be
    // started") on a kind it does not find there: an Established CRD reaches discovery a moment later.
    await waitUntil('the Prometheus kind in discovery', [], timeoutMs, async () => {
      const list = z.object({ resources: z.array(z.object({ name: z.string() })) }).parse(JSON.parse(await client.raw('GET', '/apis/monitoring.coreos.com/v1')));
      return list.resources.some((r) => r.name === 'prometheuses') ? true : undefined;
    });
  } finally {
    await client.close();
  }
  const removeCrd = async () => {
    if (!installed) return;
    const c = await adminClient(ref);
    try {
      await c.delete(CRD, PROMETHEUS_CRD_NAME).catch(() => undefined);
    } finally {
      await c.close();
    }
  };
  const p = startAddonProcess(ref, 'prometheus-operator', bin, [
    // Its default :8080 would take that port on every pod IP of the netns.
    `--web.listen-address=127.0.0.1:${OPERATOR_WEB_PORT}`,
    `--log-level=${opts.logLevel ?? 'info'}`,
  ], { env: { KUBECONFIG: ref.kubeconfigInNetnsPath } });
  try {
    await waitUntil('prometheus-operator to start its Prometheus controller', [p], timeoutMs, async () => (/msg="successfully synced all caches" component=prometheus-controller/.test(p.tail(400)) ? true : undefined));
  } catch (e) {
    await p.stop();
    await removeCrd();
    throw e;
  }
  opts.log?.(`prometheus-operator ${readVersions().PROMETHEUS_OPERATOR_VERSION}: running (${Date.now() - t0} ms)`);
  return {
    process: p,
    stop: async () => {
      await p.stop();
      await removeCrd();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The Prometheus resource and what it needs
// ---------------------------------------------------------------------------------------------

/**
 * A ServiceAccount for Prometheus and what kube-prometheus grants it: read pods, services,
 * endpoints, EndpointSlices and nodes in every namespace (its discovery), /metrics.
 */
export function prometheusRbac(namespace: string, serviceAccount: string): KubeObject[] {
  const role = `unmute-harness-prometheus-${namespace}-${serviceAccount}`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: serviceAccount, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: role },
      rules: [
        { apiGroups: [''], resources: ['nodes', 'nodes/metrics', 'services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
    },
  ] as KubeObject[];
}

export interface PrometheusResourceOptions {
  namespace: string;
  name: string;
  serviceAccountName: string;
  /** Labels a ServiceMonitor/PodMonitor/PrometheusRule must carry to be selected ({} = all). */
  selector: Record<string, string>;
  /** Default scrape interval of monitors that set none; the fleet's monitors set their own. */
  scrapeInterval?: string;
  evaluationInterval?: string;
  /** Prometheus version the configuration is generated for (default: the one build-extras.sh builds). */
  version?: string;
}

/** A `Prometheus` selecting monitors and rules by label in every namespace. */
export function prometheusResource(o: PrometheusResourceOptions): KubeObject {
  const selector = { matchLabels: o.selector };
  return {
    ...PROMETHEUS_KIND,
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      version: o.version ?? readVersions().PROMETHEUS_VERSION,
      replicas: 1,
      serviceAccountName: o.serviceAccountName,
      scrapeInterval: o.scrapeInterval ?? '5s',
      evaluationInterval: o.evaluationInterval ?? '5s',
      serviceMonitorSelector: selector,
      serviceMonitorNamespaceSelector: {},
      podMonitorSelector: selector,
      podMonitorNamespaceSelector: {},
      ruleSelector: selector,
      ruleNamespaceSelector: {},
    },
  } as KubeObject;
}

/** Applies the ServiceAccount, its RBAC and the Prometheus resource. */
export async function applyPrometheus(client: KubeClient, o: PrometheusResourceOptions): Promise<void> {
  await applyAll(client, [...prometheusRbac(o.namespace, o.serviceAccountName), prometheusResource(o)]);
}

// ---------------------------------------------------------------------------------------------
// The generated configuration, rewritten for a process of the netns
// ---------------------------------------------------------------------------------------------

export interface RewriteOptions {
  /** kube-apiserver as the process sees it. */
  apiServer: string;
  caFile: string;
  tokenFile: string;
  /** Local directory standing in for /etc/prometheus/rules. */
  rulesDir: string;
  /** $(VAR) values the config-reloader would expand: POD_NAME and SHARD. */
  env: { POD_NAME: string; SHARD: string };
}

export interface Rewritten {
  yaml: string;
  /** One line per change, for logs and docs ("scrape job X: kubernetes_sd_configs[0] api_server, ca_file, token"). */
  changes: string[];
}

const SdConfigSchema = z.looseObject({ api_server: z.string().optional(), kubeconfig_file: z.string().optional() });
const ConfigSchema = z.looseObject({
  global: z.looseObject({ external_labels: z.record(z.string(), z.string()).optional() }).optional(),
  rule_files: z.array(z.string()).optional(),
  scrape_configs: z.array(z.looseObject({ job_name: z.string(), kubernetes_sd_configs: z.array(SdConfigSchema).optional() })).optional(),
  alerting: z.looseObject({ alertmanagers: z.array(z.looseObject({ kubernetes_sd_configs: z.array(SdConfigSchema).optional() })).optional() }).optional(),
});

/** Paths of a pod's mounts that have no counterpart here: a configuration using them is refused. */
const POD_ONLY_PATHS = ['/etc/prometheus/secrets/', '/etc/prometheus/configmaps/', '/etc/prometheus/certs/', '/var/run/secrets/'];

/**
 * The generated prometheus.yaml with only the API server address, credentials, rule file paths
 * and $(POD_NAME) changed (see the header). Pure.
 */
export function rewriteGeneratedConfig(yamlText: string, o: RewriteOptions): Rewritten {
  const changes: string[] = [];
  // As the config-reloader: $(VAR) of its environment, everywhere; anything else stays an error below.
  let expanded = yamlText;
  for (const [k, v] of Object.entries(o.env)) {
    const n = expanded.split(`$(${k})`).length - 1;
    if (n === 0) continue;
    expanded = expanded.replaceAll(`$(${k})`, v);
    changes.push(`$(${k}) -> ${v} (${n}x, config-reloader expansion)`);
  }
  // Edited as a YAML document, so every node not named below keeps its text: a diff of the
  // generated and the rewritten file shows the rewrites and nothing else.
  const doc = parseDocument(expanded);
  if (doc.errors.length > 0) throw new Error(`generated prometheus.yaml does not parse: ${doc.errors[0]!.message}`);
  const parsed = ConfigSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new Error(`generated prometheus.yaml has an unexpected shape: ${z.prettifyError(parsed.error)}`);
  const cfg = parsed.data;
  const inCluster = (sd: z.infer<typeof SdConfigSchema>, path: Array<string | number>, where: string) => {
    if (sd.api_server !== undefined || sd.kubeconfig_file !== undefined) return; // set explicitly (spec.apiserverConfig): leave it
    doc.setIn([...path, 'api_server'], o.apiServer);
    if (sd['tls_config'] === undefined) doc.setIn([...path, 'tls_config'], { ca_file: o.caFile });
    else doc.setIn([...path, 'tls_config', 'ca_file'], o.caFile);
    doc.setIn([...path, 'authorization'], { type: 'Bearer', credentials_file: o.tokenFile });
    changes.push(`${where}: api_server ${o.apiServer}, tls_config.ca_file, authorization.credentials_file (in-cluster config)`);
  };
  cfg.scrape_configs?.forEach((job, i) =>
    job.kubernetes_sd_configs?.forEach((sd, j) => inCluster(sd, ['scrape_configs', i, 'kubernetes_sd_configs', j], `scrape job ${job.job_name} kubernetes_sd_configs[${j}]`)),
  );
  cfg.alerting?.alertmanagers?.forEach((am, i) =>
    am.kubernetes_sd_configs?.forEach((sd, j) => inCluster(sd, ['alerting', 'alertmanagers', i, 'kubernetes_sd_configs', j], `alertmanagers[${i}] kubernetes_sd_configs[${j}]`)),
  );
  cfg.rule_files?.forEach((f, i) => {
    if (!f.startsWith(`${OPERATOR_RULES_DIR}/`)) throw new Error(`rule file ${f} is outside ${OPERATOR_RULES_DIR}`);
    const local = join(o.rulesDir, f.slice(OPERATOR_RULES_DIR.length + 1));
    doc.setIn(['rule_files', i], local);
    changes.push(`rule_files: ${f} -> ${local}`);
  });
  // Sequences unindented, as Go's YAML writes them.
  const out = doc.toString({ lineWidth: 0, indentSeq: false });
  const unexpanded = /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/.exec(out);
  if (unexpanded) throw new Error(`generated configuration uses $(${unexpanded[1]}), which only the config-reloader of a pod expands`);
  const podPath = POD_ONLY_PATHS.find((p) => out.includes(p));
  if (podPath) throw new Error(`generated configuration refers to ${podPath}... (a pod's mounted Secret/ConfigMap): not supported by the harness`);
  return { yaml: out, changes };
}

// ---------------------------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------------------------

export interface InstantVector {
  metric: Record<string, string>;
  value: [number, string];
}

export interface ScrapeTarget {
  labels: Record<string, string>;
  discoveredLabels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface FiringAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  activeAt?: string;
}

export interface GeneratedPrometheus {
  namespace: string;
  name: string;
  /** From the host (through a relay). */
  url: string;
  /** From inside the netns (KEDA's serverAddress, sim processes). */
  urlInNetns: string;
  dir: string;
  process: AddonProcess;
  /** The changes the last rewrite made (see rewriteGeneratedConfig). */
  changes(): string[];
  /** Configurations loaded so far (the first start counts 1). */
  loads(): number;
  /** The last error of the sync loop (secret missing, reload refused), or undefined. */
  lastError(): string | undefined;
  /** Syncs now (reads the Secret and ConfigMaps, rewrites, reloads when changed). */
  sync(): Promise<boolean>;
  query(expr: string): Promise<InstantVector[]>;
  targets(): Promise<ScrapeTarget[]>;
  alerts(): Promise<FiringAlert[]>;
  /** GET /api/v1/<path>, the `data` of the answer. */
  api<T = unknown>(path: string): Promise<T>;
  stop(): Promise<void>;
}

export interface GeneratedPrometheusOptions {
  namespace: string;
  name: string;
  /** Index of this instance among the cluster's generated Prometheuses: its address is 10.250.253.(20+index). */
  index?: number;
  /** How often the Secret and ConfigMaps are read (the config-reloader watches; default 1000 ms). */
  syncIntervalMs?: number;
  timeoutMs?: number;
  retention?: string;
  log?: (m: string) => void;
}

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}
interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}
interface PrometheusObject extends KubeObject {
  spec?: { serviceAccountName?: string };
}

async function fetchJson<T>(url: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let body: { status?: string; error?: string; data?: T };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${url}: ${res.status} ${text.slice(0, 200)}`);
  }
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? res.status}`);
  return body.data as T;
}

/**
 * Runs upstream Prometheus on the configuration prometheus-operator generated for the `Prometheus`
 * namespace/name (the resource must exist; the operator must run). Keeps it in step like the
 * config-reloader: every `syncIntervalMs` the Secret and rule ConfigMaps are read and, when they
 * changed, rewritten and reloaded (POST /-/reload).
 */
export async function startGeneratedPrometheus(cluster: Cluster | ClusterRef, o: GeneratedPrometheusOptions): Promise<GeneratedPrometheus> {
  const t0 = Date.now();
  const ref = 'caCert' in cluster ? cluster : clusterRef(cluster);
  const bin = extraBinary('prometheus', (v) => v.PROMETHEUS_VERSION);
  const log = o.log ?? (() => {});
  const timeoutMs = o.timeoutMs ?? 60_000;
  const address = addonAddress(ADDON_ADDRESSES.prometheusBase, o.index ?? 0);
  const role = `prometheus-${o.namespace}-${o.name}`;
  const dir = join(ref.stateDir, 'prometheus', `${o.namespace}-${o.name}`);
  const rulesDir = join(dir, 'rules');
  const configFile = join(dir, 'prometheus.yaml');
  const tokenFile = join(dir, 'token');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(rulesDir, { recursive: true });

  const client = await adminClient(ref);
  let prometheus: AddonProcess | undefined;
  let relay: HostRelay | undefined;
  let lastHash = '';
  let loads = 0;
  let changes: string[] = [];
  let lastError: string | undefined;
  let stopped = false;
  let url = '';

  const sync = async (): Promise<boolean> => {
    const secret = await client.getIfExists<SecretObject>(SECRET, `prometheus-${o.name}`, o.namespace);
    const gz = secret?.data?.['prometheus.yaml.gz'];
    if (gz === undefined) throw new Error(`Secret ${o.namespace}/prometheus-${o.name} with prometheus.yaml.gz does not exist yet (is prometheus-operator running?)`);
    const cms = (await client.list<ConfigMapObject>(CONFIG_MAP, { namespace: o.namespace, labelSelector: `prometheus-name=${o.name}` })).items.filter((c) =>
      c.metadata.name!.startsWith(`prometheus-${o.name}-rulefiles-`),
    );
    const hash = createHash('sha256')
      .update(gz)
      .update(JSON.stringify(cms.map((c) => [c.metadata.name, c.data ?? {}]).sort()))
      .digest('hex');
    if (hash === lastHash) return false;
    const generated = gunzipSync(Buffer.from(gz, 'base64')).toString('utf8');
    const rewritten = rewriteGeneratedConfig(generated, { apiServer: ref.apiServerInNetns, caFile: ref.caCert, tokenFile, rulesDir, env: { POD_NAME: `prometheus-${o.name}-0`, SHARD: '0' } });
    writeFileSync(join(dir, 'prometheus.generated.yaml'), generated);
    rmSync(rulesDir, { recursive: true, force: true });
    for (const cm of cms) {
      const d = join(rulesDir, cm.metadata.name!);
      mkdirSync(d, { recursive: true });
      for (const [file, content] of Object.entries(cm.data ?? {})) writeFileSync(join(d, file), content);
    }
    writeFileSync(configFile, rewritten.yaml);
    changes = rewritten.changes;
    if (prometheus !== undefined && url !== '') {
      const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`reload refused: ${res.status} ${(await res.text()).trim()}`);
    }
    lastHash = hash;
    loads++;
    return true;
  };

  try {
    const pr = await client.get<PrometheusObject>(PROMETHEUS_KIND, o.name, o.namespace);
    const sa = pr.spec?.serviceAccountName ?? 'default';
    // The token a pod of that ServiceAccount would have mounted (bound to the account, one day).
    const answer = await client.raw('POST', `/api/v1/namespaces/${o.namespace}/serviceaccounts/${sa}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 86_400 } },
    });
    writeFileSync(tokenFile, (JSON.parse(answer) as { status: { token: string } }).status.token, { mode: 0o600 });

    await waitUntil(`prometheus-operator's configuration for ${o.namespace}/${o.name}`, [], timeoutMs, async () => ((await sync()) || lastHash !== '' ? true : undefined), 250);
    log(`${role}: generated configuration read, ${changes.length} rewrites (${Date.now() - t0} ms)`);
    prometheus = startAddonProcess(ref, role, bin, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--storage.tsdb.retention.time=${o.retention ?? '1d'}`,
      `--web.listen-address=${address}:${PROMETHEUS_PORT}`,
      '--web.enable-lifecycle',
      '--log.level=info',
    ]);
    relay = await exposeToHost(ref, role, `${address}:${PROMETHEUS_PORT}`);
    url = `http://127.0.0.1:${relay.hostPort}`;
    await waitUntil(`${role} ready`, [prometheus, ...relay.processes], timeoutMs, async () => {
      const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
      return r.ok ? true : undefined;
    });
    log(`${role}: Prometheus ${readVersions().PROMETHEUS_VERSION} ready at ${address}:${PROMETHEUS_PORT} (host ${url}) (${Date.now() - t0} ms)`);
  } catch (e) {
    await prometheus?.stop();
    await relay?.stop();
    await client.close();
    throw e;
  }

  const loop = (async () => {
    while (!stopped) {
      await sleep(o.syncIntervalMs ?? 1_000);
      if (stopped) break;
      try {
        if (await sync()) log(`${role}: configuration changed, reloaded (${loads} loads)`);
        lastError = undefined;
      } catch (e) {
        lastError = (e as Error).message;
        log(`${role}: sync failed: ${lastError}`);
      }
    }
  })();

  const api = <T>(path: string) => fetchJson<T>(`${url}/api/v1/${path}`);
  const proc = prometheus;
  const r = relay;
  return {
    namespace: o.namespace,
    name: o.name,
    url,
    urlInNetns: `http://${address}:${PROMETHEUS_PORT}`,
    dir,
    process: proc,
    changes: () => changes,
    loads: () => loads,
    lastError: () => lastError,
    sync,
    api,
    query: async (expr) =>
      (
        await fetchJson<{ result: InstantVector[] }>(`${url}/api/v1/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ query: expr }),
        })
      ).result,
    targets: async () => (await api<{ activeTargets: ScrapeTarget[] }>('targets?state=active')).activeTargets,
    alerts: async () => (await api<{ alerts: FiringAlert[] }>('alerts')).alerts,
    stop: async () => {
      stopped = true;
      await loop;
      await proc.stop();
      await r.stop();
      await client.close();
    },
  };
}
