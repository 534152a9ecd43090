// KEDA on a full-mode cluster, as a user installs it, minus the pods: the pinned keda-operator and
// keda-adapter (build-extras.sh) run as processes in the cluster's network namespace, with KEDA's
// CRDs installed and its external metrics API registered with the aggregation layer, so the real
// HPA controller of kube-controller-manager reads external.metrics.k8s.io from the real adapter,
// which asks the real operator, which runs the real scalers (Prometheus, ...).
//
//   HPA controller ──GET external.metrics.k8s.io──► kube-apiserver (aggregator, front-proxy cert)
//     ──► APIService v1beta1.external.metrics.k8s.io ──► Service keda/keda-metrics-apiserver
//     ──► EndpointSlice: 10.250.253.10:6443 = keda-adapter (TLS: our KEDA CA, caBundle in the APIService)
//     ──gRPC mTLS 127.0.0.1:9666──► keda-operator ──► scaler (e.g. Prometheus query)
//
// What differs from the Helm chart: both processes use the cluster's admin kubeconfig (not KEDA's
// ServiceAccounts and RBAC); certificates come from the harness, not from the operator's rotation
// (--enable-cert-rotation=false, the same CA/cert files the chart mounts at /certs); no admission
// webhooks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issue } from './certs.ts';
import { installCrds } from './crds.ts';
import { cacheDir, readVersions, yamlFiles } from './config.ts';
import {
  ADDON_ADDRESSES,
  adminClient,
  applyAll,
  clusterRef,
  ensureNamespace,
  extraBinary,
  serviceAt,
  startAddonProcess,
  waitUntil,
  type AddonProcess,
  type ClusterRef,
} from './addons.ts';
import type { Cluster } from './harness.ts';
import type { KubeObject } from '../../src/runtime/object.ts';

interface ApiServiceObject extends KubeObject {
  status?: { conditions?: Array<{ type: string; status: string; message?: string }> };
}

export const KEDA_NAMESPACE = 'keda';
export const KEDA_APISERVICE = 'v1beta1.external.metrics.k8s.io';
const METRICS_SERVICE = 'keda-metrics-apiserver';
const OPERATOR_SERVICE = 'keda-operator';
// Fixed ports inside the netns. None may be a port a simulated pod listens on (8000, 8080, 80):
// components that bind every address of the netns would take it from every pod IP at once.
const API_SERVICE = { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService' } as const;
const PORTS = { adapterSecure: 6443, grpc: 9666, operatorMetrics: 18080, operatorProbes: 18081, adapterMetrics: 18082 } as const;

export interface KedaOptions {
  log?: (msg: string) => void;
  timeoutMs?: number;
  /** KEDA's zap log level: info (default), debug, error. */
  logLevel?: 'debug' | 'info' | 'error';
}

export interface Keda {
  namespace: string;
  /** Where the adapter serves external.metrics.k8s.io inside the netns. */
  adapterAddress: string;
  certDir: string;
  operator: AddonProcess;
  adapter: AddonProcess;
  /** Removes the APIService (so discovery never sees an unavailable group), then stops both processes. */
  stop(): Promise<void>;
}

export function kedaCrdFiles(): string[] {
  return yamlFiles(join(cacheDir(), 'crds', `keda-${readVersions().KEDA_VERSION}`));
}

/** The CA and the one certificate both ends of KEDA's links present, as KEDA's cert rotation makes them. */
async function kedaCerts(dir: string, adapterAddress: string): Promise<void> {
  const ca = await createCa(dir, 'ca', 'KEDA');
  const names = (svc: string) => [svc, `${svc}.${KEDA_NAMESPACE}`, `${svc}.${KEDA_NAMESPACE}.svc`, `${svc}.${KEDA_NAMESPACE}.svc.cluster.local`];
  const sans = [...names(OPERATOR_SERVICE), ...names(METRICS_SERVICE)].map((n) => `DNS:${n}`);
  // The aggregator verifies the adapter as <service>.<namespace>.svc; the adapter dials the
  // operator's gRPC at 127.0.0.1 and verifies that IP.
  await issue(dir, 'tls', { cn: 'keda', org: 'KEDAORG', usage: 'server-client', sans: [...sans, 'IP:127.0.0.1', `IP:${adapterAddress}`] }, ca);
}

/** Starts KEDA against a full-mode cluster with the aggregation layer; resolves once external.metrics.k8s.io is Available. */
export async function startKeda(cluster: Cluster | ClusterRef, opts: KedaOptions = {}): Promise<Keda> {
  const t0 = Date.now();
  const ref = 'caCert' in cluster ? cluster : clusterRef(cluster);
  const log = opts.log ?? (() => {});
  const timeoutMs = opts.timeoutMs ?? 90_000;
  if (!ref.aggregation) throw new Error(`cluster ${ref.name} runs without the aggregation layer: start it with aggregation (the default in full mode)`);
  const version = readVersions().KEDA_VERSION;
  const operatorBin = extraBinary('keda-operator', (v) => v.KEDA_VERSION);
  const adapterBin = extraBinary('keda-adapter', (v) => v.KEDA_VERSION);
  const crds = kedaCrdFiles();
  if (crds.length === 0) throw new Error(`KEDA ${version} CRDs are missing from ${cacheDir()}/crds: run \`npm run cluster:build:extras\``);

  const client = await adminClient(ref);
  const processes: AddonProcess[] = [];
  const adapterAddress = ADDON_ADDRESSES.kedaAdapter;
  const certDir = join(ref.stateDir, 'keda', 'certs');
  try {
    await Promise.all([installCrds(client, crds, timeoutMs), ensureNamespace(client, KEDA_NAMESPACE), kedaCerts(certDir, adapterAddress)]);
    log(`keda: CRDs, namespace and certificates ready (${Date.now() - t0} ms)`);
    const env = {
      KUBECONFIG: ref.kubeconfigInNetnsPath,
      WATCH_NAMESPACE: '',
      POD_NAMESPACE: KEDA_NAMESPACE,
      KEDA_CLUSTER_OBJECT_NAMESPACE: KEDA_NAMESPACE,
    };
    const zap = ['--zap-log-level', opts.logLevel ?? 'info', '--zap-encoder', 'console'];
    processes.push(
      startAddonProcess(ref, 'keda-operator', operatorBin, [
        '--leader-elect=false',
        `--metrics-bind-address=127.0.0.1:${PORTS.operatorMetrics}`,
        `--health-probe-bind-address=127.0.0.1:${PORTS.operatorProbes}`,
        `--metrics-service-bind-address=127.0.0.1:${PORTS.grpc}`,
        `--cert-dir=${certDir}`,
        '--enable-cert-rotation=false',
        `--ca-dir=${certDir}`,
        ...zap,
      ], { env }),
      startAddonProcess(ref, 'keda-adapter', adapterBin, [
        `--secure-port=${PORTS.adapterSecure}`,
        `--bind-address=${adapterAddress}`,
        `--cert-dir=${certDir}`,
        `--tls-cert-file=${join(certDir, 'tls.crt')}`,
        `--tls-private-key-file=${join(certDir, 'tls.key')}`,
        `--lister-kubeconfig=${ref.kubeconfigInNetnsPath}`,
        `--authentication-kubeconfig=${ref.kubeconfigInNetnsPath}`,
        `--authorization-kubeconfig=${ref.kubeconfigInNetnsPath}`,
        `--metrics-service-address=127.0.0.1:${PORTS.grpc}`,
        `--port=${PORTS.adapterMetrics}`,
        ...zap,
      ], { env }),
    );
    const caBundle = readFileSync(join(certDir, 'ca.crt')).toString('base64');
    await applyAll(client, [
      ...serviceAt(KEDA_NAMESPACE, METRICS_SERVICE, adapterAddress, { name: 'https', port: 443, targetPort: PORTS.adapterSecure }),
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: KEDA_APISERVICE, labels: { 'app.kubernetes.io/part-of': 'keda-operator' } },
        spec: {
          service: { name: METRICS_SERVICE, namespace: KEDA_NAMESPACE, port: 443 },
          group: 'external.metrics.k8s.io',
          version: 'v1beta1',
          caBundle,
          groupPriorityMinimum: 100,
          versionPriority: 100,
        },
      },
    ]);
    await waitUntil('APIService v1beta1.external.metrics.k8s.io Available', processes, Math.max(timeoutMs - (Date.now() - t0), 5_000), async () => {
      const svc = await client.get<ApiServiceObject>(API_SERVICE, KEDA_APISERVICE);
      const available = svc.status?.conditions?.find((c) => c.type === 'Available');
      if (available?.status !== 'True') throw new Error(available?.message ?? 'no Available condition yet');
      // Through the aggregator, as the HPA controller will ask.
      await client.raw('GET', '/apis/external.metrics.k8s.io/v1beta1', { timeoutMs: 5_000 });
      return true;
    });
    log(`keda ${version}: operator and metrics adapter up, external.metrics.k8s.io Available (${Date.now() - t0} ms)`);
    return {
      namespace: KEDA_NAMESPACE,
      adapterAddress,
      certDir,
      operator: processes[0]!,
      adapter: processes[1]!,
      stop: async () => {
        const c = await adminClient(ref);
        try {
          await c.delete(API_SERVICE, KEDA_APISERVICE).catch(() => undefined);
        } finally {
          await c.close();
        }
        await Promise.all(processes.map((p) => p.stop()));
      },
    };
  } catch (e) {
    await client.delete(API_SERVICE, KEDA_APISERVICE).catch(() => undefined);
    await Promise.all(processes.map((p) => p.stop()));
    throw e;
  } finally {
    await client.close();
  }
}

/** A ScaledObject with one Prometheus trigger (KEDA's `prometheus` scaler), for a Deployment. */
export function prometheusScaledObject(o: {
  namespace: string;
  name: string;
  deployment: string;
  serverAddress: string;
  query: string;
  /** Target value per replica (AverageValue). */
  threshold: number;
  minReplicas: number;
  maxReplicas: number;
  /** KEDA's own polling (activation, 0 <-> 1), seconds. */
  pollingInterval?: number;
  /** HPA behavior (autoscaling/v2), e.g. a short scale-down stabilization window. */
  behavior?: Record<string, unknown>;
}): KubeObject {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: o.name, namespace: o.namespace },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.deployment },
      minReplicaCount: o.minReplicas,
      maxReplicaCount: o.maxReplicas,
      pollingInterval: o.pollingInterval ?? 5,
      ...(o.behavior ? { advanced: { horizontalPodAutoscalerConfig: { behavior: o.behavior } } } : {}),
      triggers: [{ type: 'prometheus', metadata: { serverAddress: o.serverAddress, query: o.query, threshold: String(o.threshold) } }],
    },
  } as KubeObject;
}
