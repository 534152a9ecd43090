// Command lines of the control-plane components and KWOK's configuration.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ClusterPki } from './certs.ts';
import { harnessDir, NETNS_PORTS, POD_CIDR, SERVICE_CIDR, type Mode } from './config.ts';
import { KWOK_NODE_ANNOTATION } from './nodes.ts';

export interface Ports {
  apiserver: number;
  etcdClient: number;
  etcdPeer: number;
}

export function etcdArgs(dir: string, p: Ports): string[] {
  const client = `http://127.0.0.1:${p.etcdClient}`;
  const peer = `http://127.0.0.1:${p.etcdPeer}`;
  return [
    '--name=default', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`, `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=default=${peer}`, '--initial-cluster-state=new',
    // Throw-away data: no fsync, small quota, frequent compaction.
    '--unsafe-no-fsync=true', '--quota-backend-bytes=2147483648',
    '--auto-compaction-mode=periodic', '--auto-compaction-retention=5m', '--log-level=warn',
  ];
}

export function apiserverArgs(dir: string, pki: ClusterPki, p: Ports, mode: Mode): string[] {
  const issuer = 'https://kubernetes.default.svc.cluster.local';
  return [
    `--etcd-servers=http://127.0.0.1:${p.etcdClient}`,
    '--bind-address=127.0.0.1', `--secure-port=${p.apiserver}`, '--advertise-address=127.0.0.1',
    `--tls-cert-file=${pki.apiserver.cert}`, `--tls-private-key-file=${pki.apiserver.key}`,
    `--client-ca-file=${pki.ca.cert}`, `--cert-dir=${join(dir, 'pki', 'apiserver-generated')}`,
    `--service-account-issuer=${issuer}`, `--api-audiences=${issuer}`,
    `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
    // Without a controller-manager nobody creates the `default` ServiceAccount, so api mode skips
    // the admission plugin that requires it (as envtest does). Full mode keeps the real chain.
    ...(mode === 'api' ? ['--disable-admission-plugins=ServiceAccount'] : []),
    '--allow-privileged=true',
    // A loopback address cannot be published as the `kubernetes` Service endpoint.
    '--endpoint-reconciler-type=none',
    '--profiling=false', '--event-ttl=1h',
    ...aggregationArgs(pki),
  ];
}

/**
 * The aggregation layer (present when the PKI has a front proxy): kube-apiserver proxies
 * /apis/<group> of an APIService to the extension server it names, authenticating as
 * front-proxy-client and passing the user in X-Remote-* headers, which the extension server
 * trusts because kube-apiserver publishes the front-proxy CA in kube-system's
 * extension-apiserver-authentication ConfigMap. Aggregator routing: the proxy dials an endpoint of
 * the APIService's Service (from its EndpointSlices) instead of its cluster IP, since no
 * kube-proxy routes Service IPs here.
 */
function aggregationArgs(pki: ClusterPki): string[] {
  const fp = pki.frontProxy;
  if (fp === undefined) return [];
  return [
    `--requestheader-client-ca-file=${fp.ca.cert}`, `--requestheader-allowed-names=${fp.clientName}`,
    '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${fp.client.cert}`, `--proxy-client-key-file=${fp.client.key}`,
    '--enable-aggregator-routing=true',
  ];
}

/**
 * The HPA controller's timing (kube-controller-manager flags); unset fields keep Kubernetes'
 * defaults (sync 15s, downscale stabilization 5m, tolerance 0.1, CPU initialization 5m, initial
 * readiness delay 30s). Durations are Go durations ("1s", "250ms", "5m").
 */
const GoDuration = z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a Go duration such as 1s, 250ms or 5m');
export const HpaFlagsSchema = z
  .object({
    syncPeriod: GoDuration.optional(),
    downscaleStabilization: GoDuration.optional(),
    tolerance: z.number().min(0).max(1).optional(),
    cpuInitializationPeriod: GoDuration.optional(),
    initialReadinessDelay: GoDuration.optional(),
  })
  .strict();
export type HpaFlags = z.infer<typeof HpaFlagsSchema>;

export function hpaArgs(hpa: HpaFlags = {}): string[] {
  const h = HpaFlagsSchema.parse(hpa);
  return [
    ...(h.syncPeriod ? [`--horizontal-pod-autoscaler-sync-period=${h.syncPeriod}`] : []),
    ...(h.downscaleStabilization ? [`--horizontal-pod-autoscaler-downscale-stabilization=${h.downscaleStabilization}`] : []),
    ...(h.tolerance !== undefined ? [`--horizontal-pod-autoscaler-tolerance=${h.tolerance}`] : []),
    ...(h.cpuInitializationPeriod ? [`--horizontal-pod-autoscaler-cpu-initialization-period=${h.cpuInitializationPeriod}`] : []),
    ...(h.initialReadinessDelay ? [`--horizontal-pod-autoscaler-initial-readiness-delay=${h.initialReadinessDelay}`] : []),
  ];
}

/** Kubernetes' HPA defaults, in milliseconds. */
export const HPA_DEFAULTS_MS = { syncPeriod: 15_000, downscaleStabilization: 300_000 };

/**
 * HPA timing for a benchmark that compresses time `timeScale`-fold (60: one simulated minute per
 * real second): the default sync period and downscale stabilization divided by the scale, the sync
 * period never below `minSyncMs` (each sync costs the controller-manager and the metrics adapter
 * a round trip per HPA on 2 cores).
 */
export function hpaFlagsForTimeScale(timeScale: number, opts: { minSyncMs?: number } = {}): HpaFlags {
  if (!(timeScale >= 1)) throw new Error(`timeScale must be >= 1, got ${timeScale}`);
  const ms = (n: number) => `${Math.max(1, Math.round(n))}ms`;
  return {
    syncPeriod: ms(Math.max(opts.minSyncMs ?? 250, HPA_DEFAULTS_MS.syncPeriod / timeScale)),
    downscaleStabilization: ms(HPA_DEFAULTS_MS.downscaleStabilization / timeScale),
  };
}

/** Controllers run under their own ServiceAccounts (--use-service-account-credentials), as in kubeadm. */
export function controllerManagerArgs(dir: string, pki: ClusterPki, kubeconfig: string, hpa: HpaFlags = {}): string[] {
  return [
    `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1', `--secure-port=${NETNS_PORTS.kcm}`, `--cert-dir=${join(dir, 'pki', 'kcm-generated')}`,
    '--leader-elect=false', '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.saKey}`, `--root-ca-file=${pki.ca.cert}`,
    `--cluster-signing-cert-file=${pki.ca.cert}`, `--cluster-signing-key-file=${pki.ca.key}`,
    // Node podCIDRs come from nodes.yaml, not from the node IPAM controller.
    `--service-cluster-ip-range=${SERVICE_CIDR}`, `--cluster-cidr=${POD_CIDR}`, '--allocate-node-cidrs=false',
    '--kube-api-qps=200', '--kube-api-burst=400', '--profiling=false',
    ...hpaArgs(hpa),
  ];
}

export function schedulerArgs(kubeconfig: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1', `--secure-port=${NETNS_PORTS.scheduler}`, '--leader-elect=false', '--profiling=false',
  ];
}

/** KWOK touches only the harness's nodes; --cidr/--node-ip are fallbacks, kept inside the pod range. */
export function kwokArgs(kubeconfig: string, stagesFile: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`, `--config=${stagesFile}`,
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION.key}=${KWOK_NODE_ANNOTATION.value}`,
    '--node-lease-duration-seconds=40', '--cidr=10.250.254.0/24', '--node-ip=10.250.255.254',
  ];
}

/**
 * Who removes terminating pods (full mode):
 *  - immediate: KWOK deletes them at once (preStop and grace skipped). Default: fast tests.
 *  - graceful:  KWOK deletes them when deletionTimestamp (= delete time + grace period) is reached.
 *  - external:  KWOK never deletes pods; a pod runner runs preStop, stops its process within the
 *               grace period and then deletes the pod with gracePeriodSeconds=0, like a kubelet.
 */
export const PodDeletionSchema = z.enum(['immediate', 'graceful', 'external']);
export type PodDeletion = z.infer<typeof PodDeletionSchema>;

/** KWOK's stages (standalone kwok has none built in), from scripts/cluster/kwok-stages/. */
export function writeStages(dir: string, podDeletion: PodDeletion): string {
  const stages = ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-ready-again', 'pod-complete'];
  if (podDeletion !== 'external') stages.push(`pod-delete-${podDeletion}`);
  const file = join(dir, 'kwok-stages.yaml');
  writeFileSync(file, stages.map((s) => readFileSync(join(harnessDir, 'kwok-stages', `${s}.yaml`), 'utf8')).join('\n---\n'));
  return file;
}
