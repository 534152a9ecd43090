// Traefik as the cluster's Gateway API implementation, as a user runs it minus the pod: the pinned
// traefik binary (build-extras.sh) runs in the cluster's network namespace with its
// kubernetesGateway provider, under its own ServiceAccount and the ClusterRole Traefik documents
// for that provider (a token kubeconfig, not the admin one, so a missing permission shows here as
// it would in a cluster). It serves one Gateway whose listener admits routes from every namespace:
//
//   client in the netns ──HTTP/websocket──► 10.250.253.30:80 (entry point `web` = the listener)
//     ──HTTPRoute (e.g. the operator's: /api → backend Service, prefix rewritten)
//     ──► the Service's ready endpoints, read from EndpointSlices ──► pod IPs (sim-workers)
//
// Everything but the entry points' addresses is Traefik's default: its timeouts (respondingTimeouts
// readTimeout 60 s: a websocket outlives it, the connection's deadline is cleared when the upgrade
// hijacks it) and its 2 s providers throttle (it applies configuration changes, EndpointSlice
// changes included, at most that often), so what a test sees through it is what a default install
// does.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { isNotFound } from '../../src/runtime/errors.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import {
  ADDON_ADDRESSES,
  addonAddress,
  adminClient,
  applyAll,
  clusterRef,
  ensureNamespace,
  exposeToHost,
  extraBinary,
  processListensOn,
  startAddonProcess,
  waitUntil,
  type AddonProcess,
  type ClusterRef,
  type HostRelay,
} from './addons.ts';
import { readVersions, thirdPartyCrdDirs, yamlFiles } from './config.ts';
import { installCrds } from './crds.ts';
import type { Cluster } from './harness.ts';

export const TRAEFIK_NAMESPACE = 'traefik';
export const TRAEFIK_CONTROLLER = 'traefik.io/gateway-controller';
const GATEWAY_CLASS = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass' } as const;
const GATEWAY = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' } as const;
const HTTP_ROUTE = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' } as const;
const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace' } as const;
const CLUSTER_ROLE = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' } as const;
const CLUSTER_ROLE_BINDING = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' } as const;
const SERVICE_ACCOUNT = 'traefik';
const RBAC_NAME = 'unmute-harness-traefik-gateway';
/** Ping (readiness) port on the same address; not a port simulated pods listen on. */
const PING_PORT = 9000;

export interface TraefikOptions {
  log?: (msg: string) => void;
  timeoutMs?: number;
  /** The Gateway (created in TRAEFIK_NAMESPACE): default `gateway`. */
  gatewayName?: string;
  /** Listener and entry point port (default 80). */
  port?: number;
  /** n-th Traefik address (10.250.253.30 + n), for more than one at a time. */
  index?: number;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Traefik's access log (one line per request, in its log file). */
  accessLog?: boolean;
}

export interface Traefik {
  version: string;
  gatewayClass: string;
  gateway: { namespace: string; name: string };
  /** The entry point inside the netns. */
  address: string;
  port: number;
  /** http://address[:port], what a client in the netns dials. */
  url: string;
  process: AddonProcess;
  /** Waits until Traefik accepted an HTTPRoute on this Gateway (its parent status says so). */
  waitForRoute(namespace: string, name: string, timeoutMs?: number): Promise<void>;
  /**
   * The server URLs Traefik balances a Service's traffic over right now (its applied routing
   * table, /api/http/services), e.g. to wait until a backend that left rotation is out of it.
   */
  servers(namespace: string, service: string): Promise<string[]>;
  /** Stops Traefik, then deletes what it created: the Gateway, the GatewayClass, its RBAC (and namespace). */
  stop(): Promise<void>;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}
interface WithConditions extends KubeObject {
  status?: { conditions?: Condition[]; parents?: Array<{ parentRef: { name: string; namespace?: string }; controllerName?: string; conditions?: Condition[] }> };
}

/** The permissions Traefik's documentation lists for the kubernetesGateway provider (standard channel kinds). */
export function traefikGatewayRbac(namespace = TRAEFIK_NAMESPACE): KubeObject[] {
  const read = ['get', 'list', 'watch'];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SERVICE_ACCOUNT, namespace } },
    {
      ...CLUSTER_ROLE,
      metadata: { name: RBAC_NAME },
      rules: [
        { apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: [''], resources: ['services', 'secrets', 'configmaps'], verbs: read },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'referencegrants', 'backendtlspolicies'], verbs: read },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gatewayclasses/status', 'gateways/status', 'httproutes/status', 'grpcroutes/status', 'backendtlspolicies/status'], verbs: ['update'] },
      ],
    } as KubeObject,
    {
      ...CLUSTER_ROLE_BINDING,
      metadata: { name: RBAC_NAME },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: RBAC_NAME },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace }],
    } as KubeObject,
  ];
}

/** A GatewayClass for Traefik and one Gateway with an HTTP listener admitting routes from every namespace. */
export function traefikGateway(o: { className: string; namespace: string; name: string; port: number }): KubeObject[] {
  return [
    { ...GATEWAY_CLASS, metadata: { name: o.className }, spec: { controllerName: TRAEFIK_CONTROLLER } } as KubeObject,
    {
      ...GATEWAY,
      metadata: { name: o.name, namespace: o.namespace },
      spec: { gatewayClassName: o.className, listeners: [{ name: 'http', protocol: 'HTTP', port: o.port, allowedRoutes: { namespaces: { from: 'All' } } }] },
    } as KubeObject,
  ];
}

/** Traefik's command line: entry points on the add-on address, the Gateway provider, no calls home. */
export function traefikArgs(o: { address: string; port: number; logLevel: string; accessLog: boolean }): string[] {
  return [
    `--entryPoints.web.address=${o.address}:${o.port}`,
    // A stop should not wait Traefik's default 10 s for open websockets.
    '--entryPoints.web.transport.lifeCycle.graceTimeOut=1s',
    `--entryPoints.traefik.address=${o.address}:${PING_PORT}`,
    '--ping=true',
    '--ping.entryPoint=traefik',
    // Its routing table (/api/http/services) on the netns-only address: tests wait on what it applied.
    '--api.insecure=true',
    '--providers.kubernetesGateway=true',
    `--providers.kubernetesGateway.statusAddress.ip=${o.address}`,
    `--log.level=${o.logLevel}`,
    ...(o.accessLog ? ['--accessLog=true'] : []),
    '--log.noColor=true',
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
  ];
}

/** A kubeconfig that authenticates as the ServiceAccount (a bound token, as a pod would mount). */
async function serviceAccountKubeconfig(client: KubeClient, ref: ClusterRef, dir: string): Promise<string> {
  const answer = await client.raw('POST', `/api/v1/namespaces/${TRAEFIK_NAMESPACE}/serviceaccounts/${SERVICE_ACCOUNT}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 86_400 } },
  });
  const token = (JSON.parse(answer) as { status: { token: string } }).status.token;
  const file = join(dir, 'kubeconfig');
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: ref.name, cluster: { server: ref.apiServerInNetns, 'certificate-authority': ref.caCert } }],
    users: [{ name: SERVICE_ACCOUNT, user: { token } }],
    contexts: [{ name: SERVICE_ACCOUNT, context: { cluster: ref.name, user: SERVICE_ACCOUNT } }],
    'current-context': SERVICE_ACCOUNT,
  };
  writeFileSync(file, stringify(kubeconfig), { mode: 0o600 });
  return file;
}

const condition = (conds: Condition[] | undefined, type: string) => conds?.find((c) => c.type === type);

/** Starts Traefik on a full-mode cluster; resolves once its Gateway is Programmed. */
export async function startTraefik(cluster: Cluster | ClusterRef, opts: TraefikOptions = {}): Promise<Traefik> {
  const t0 = Date.now();
  const ref = 'caCert' in cluster ? cluster : clusterRef(cluster);
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const version = readVersions().TRAEFIK_VERSION;
  const bin = extraBinary('traefik', (v) => v.TRAEFIK_VERSION);
  const address = addonAddress(ADDON_ADDRESSES.traefikBase, opts.index ?? 0);
  const port = opts.port ?? 80;
  const gatewayName = opts.gatewayName ?? 'gateway';
  const className = `traefik-${address.split('.').pop()}`;
  const dir = join(ref.stateDir, 'traefik', className);
  mkdirSync(dir, { recursive: true });
  const client = await adminClient(ref);
  let proc: AddonProcess | undefined;

  let createdNamespace = false;
  const removeObjects = async (c: KubeClient) => {
    for (const [r, name, ns] of [
      [GATEWAY, gatewayName, TRAEFIK_NAMESPACE],
      [GATEWAY_CLASS, className, undefined],
      [CLUSTER_ROLE_BINDING, RBAC_NAME, undefined],
      [CLUSTER_ROLE, RBAC_NAME, undefined],
    ] as const) {
      await c.delete(r, name, ns).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    }
    if (!createdNamespace) return;
    await c.delete(NAMESPACE, TRAEFIK_NAMESPACE).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    // Gone before returning: a start right after would otherwise write into a terminating namespace.
    await waitUntil(`namespace ${TRAEFIK_NAMESPACE} deleted`, [], 30_000, async () => ((await c.getIfExists(NAMESPACE, TRAEFIK_NAMESPACE)) === undefined ? true : undefined));
  };

  try {
    // Every cluster gets the Gateway API CRDs at start; a cluster started without them gets them here.
    if (!(await client.isServed(HTTP_ROUTE.apiVersion, HTTP_ROUTE.kind)) || !(await client.isServed(GATEWAY.apiVersion, GATEWAY.kind))) {
      const files = yamlFiles(thirdPartyCrdDirs(readVersions())[1]!);
      if (files.length === 0) throw new Error('the Gateway API CRDs are missing from the cache: run `npm run cluster:build`');
      await installCrds(client, files, timeoutMs);
      client.invalidateDiscovery();
      log(`traefik: Gateway API CRDs installed (${Date.now() - t0} ms)`);
    }
    createdNamespace = (await client.getIfExists(NAMESPACE, TRAEFIK_NAMESPACE)) === undefined;
    await ensureNamespace(client, TRAEFIK_NAMESPACE);
    await applyAll(client, [...traefikGatewayRbac(), ...traefikGateway({ className, namespace: TRAEFIK_NAMESPACE, name: gatewayName, port })]);
    const kubeconfig = await serviceAccountKubeconfig(client, ref, dir);
    proc = startAddonProcess(
      ref,
      className,
      bin,
      traefikArgs({ address, port, logLevel: opts.logLevel ?? 'INFO', accessLog: opts.accessLog ?? false }),
      { env: { KUBECONFIG: kubeconfig } },
    );
    const running = proc;
    await waitUntil(`Gateway ${TRAEFIK_NAMESPACE}/${gatewayName} Programmed by Traefik`, [running], Math.max(timeoutMs - (Date.now() - t0), 5_000), async () => {
      // Our process, not one left from an earlier run (whose Gateway status would look the same).
      if (!processListensOn(running.pid, address, port)) throw new Error(`traefik (pid ${running.pid}) is not listening on ${address}:${port} yet`);
      const gw = await client.get<WithConditions>(GATEWAY, gatewayName, TRAEFIK_NAMESPACE);
      const programmed = condition(gw.status?.conditions, 'Programmed');
      if (programmed?.status !== 'True' || programmed.observedGeneration !== gw.metadata.generation) {
        throw new Error(`Gateway not Programmed yet${programmed?.message ? `: ${programmed.message}` : ''}`);
      }
      return true;
    });
    log(`traefik ${version}: Gateway ${TRAEFIK_NAMESPACE}/${gatewayName} Programmed, listening on ${address}:${port} (${Date.now() - t0} ms)`);
  } catch (e) {
    await proc?.stop();
    await removeObjects(client).catch(() => undefined);
    await client.close();
    throw e;
  }
  await client.close();
  const running = proc;
  // The API port is reachable only inside the netns: a relay to the host, opened on first use.
  let relay: Promise<HostRelay> | undefined;
  const api = async (path: string): Promise<unknown> => {
    relay ??= exposeToHost(ref, `${className}-api`, `${address}:${PING_PORT}`);
    const res = await fetch(`http://127.0.0.1:${(await relay).hostPort}${path}`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`traefik ${path}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    version,
    gatewayClass: className,
    gateway: { namespace: TRAEFIK_NAMESPACE, name: gatewayName },
    address,
    port,
    url: `http://${address}${port === 80 ? '' : `:${port}`}`,
    process: running,
    async waitForRoute(namespace, name, routeTimeoutMs = 30_000) {
      const c = await adminClient(ref);
      try {
        await waitUntil(`HTTPRoute ${namespace}/${name} accepted by Traefik`, [running], routeTimeoutMs, async () => {
          const route = await c.get<WithConditions>(HTTP_ROUTE, name, namespace);
          const parent = route.status?.parents?.find((p) => p.controllerName === TRAEFIK_CONTROLLER && p.parentRef.name === gatewayName);
          const accepted = condition(parent?.conditions, 'Accepted');
          const resolved = condition(parent?.conditions, 'ResolvedRefs');
          if (accepted?.status !== 'True' || resolved?.status !== 'True' || accepted.observedGeneration !== route.metadata.generation) {
            throw new Error(`route not accepted yet: ${JSON.stringify(parent?.conditions ?? [])}`);
          }
          return true;
        });
      } finally {
        await c.close();
      }
    },
    async servers(namespace, service) {
      // The Gateway provider names a backend Service's load balancer <namespace>-<service>-<port name>-<port>.
      const services = (await api('/api/http/services')) as Array<{ name: string; loadBalancer?: { servers?: Array<{ url: string }> } }>;
      const prefix = `${namespace}-${service}-`;
      return services
        .filter((x) => x.name.startsWith(prefix) && x.name.endsWith('@kubernetesgateway'))
        .flatMap((x) => (x.loadBalancer?.servers ?? []).map((v) => v.url))
        .sort();
    },
    async stop() {
      await relay?.then((r) => r.stop(), () => undefined);
      await running.stop(5_000);
      const c = await adminClient(ref);
      try {
        await removeObjects(c);
      } finally {
        await c.close();
      }
    },
  };
}
