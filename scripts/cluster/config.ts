// Paths, pinned versions and fixed network layout shared by every part of the cluster harness.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const harnessDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(harnessDir, '..', '..');

export const ModeSchema = z.enum(['api', 'full']);
export type Mode = z.infer<typeof ModeSchema>;

// A name becomes a directory, a netns name and an env marker value: keep it short and plain.
export const ClusterNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'cluster name must be 1-40 chars of [a-z0-9-], starting with a letter or digit');

export function cacheDir(): string {
  const fromEnv = z.string().min(1).optional().safeParse(process.env['UNMUTE_CACHE_DIR']);
  if (!fromEnv.success) throw new Error('UNMUTE_CACHE_DIR must be a non-empty path');
  return fromEnv.data ?? join(homedir(), '.cache', 'unmute-operator');
}
export const binDir = (): string => join(cacheDir(), 'bin');
export const clustersDir = (): string => join(cacheDir(), 'clusters');
export const stateDirOf = (name: string): string => join(clustersDir(), name);

const VersionsSchema = z.object({
  KUBERNETES_VERSION: z.string().regex(/^v\d+\.\d+\.\d+$/),
  ETCD_VERSION: z.string().regex(/^v\d+\.\d+\.\d+$/),
  KWOK_VERSION: z.string().regex(/^v\d+\.\d+\.\d+$/),
  PROMETHEUS_OPERATOR_VERSION: z.string().min(2),
  GATEWAY_API_VERSION: z.string().min(2),
  // Optional extras (build-extras.sh); nothing here requires them to be built.
  KEDA_VERSION: z.string().regex(/^v\d+\.\d+\.\d+$/),
  PROMETHEUS_VERSION: z.string().regex(/^v\d+\.\d+\.\d+$/),
  TRAEFIK_VERSION: z.string().regex(/^v\d+\.\d+\.\d+$/),
});
export type Versions = z.infer<typeof VersionsSchema>;

/** versions.env is the single source of truth, shared with build.sh (plain KEY=VALUE lines). */
export function readVersions(): Versions {
  const file = join(harnessDir, 'versions.env');
  const entries = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf('=');
      return [l.slice(0, i), l.slice(i + 1)] as const;
    });
  const parsed = VersionsSchema.safeParse(Object.fromEntries(entries));
  if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Binaries each mode needs, with the version build.sh stamps next to them. */
export function requiredBinaries(mode: Mode, v: Versions): Array<{ name: string; version: string }> {
  const api = [
    { name: 'etcd', version: v.ETCD_VERSION },
    { name: 'kube-apiserver', version: v.KUBERNETES_VERSION },
  ];
  if (mode === 'api') return api;
  return [
    ...api,
    { name: 'kube-controller-manager', version: v.KUBERNETES_VERSION },
    { name: 'kube-scheduler', version: v.KUBERNETES_VERSION },
    { name: 'kwok', version: v.KWOK_VERSION },
  ];
}

export function thirdPartyCrdDirs(v: Versions): string[] {
  return [
    join(cacheDir(), 'crds', `prometheus-operator-${v.PROMETHEUS_OPERATOR_VERSION}`),
    join(cacheDir(), 'crds', `gateway-api-${v.GATEWAY_API_VERSION}`),
  ];
}

// Of prometheus-operator's CRDs only the ones an application ships are installed: the others
// (Prometheus, Alertmanager, ThanosRuler, ...) are 0.6-0.8 MB each and would double api-mode start.
const PROMETHEUS_OPERATOR_KINDS = ['servicemonitors', 'podmonitors', 'prometheusrules', 'probes'];

/** Every third-party CRD file installed into each cluster. */
export function thirdPartyCrdFiles(v: Versions): string[] {
  const [prom, gateway] = thirdPartyCrdDirs(v) as [string, string];
  return [
    ...PROMETHEUS_OPERATOR_KINDS.map((k) => join(prom, `monitoring.coreos.com_${k}.yaml`)),
    ...yamlFiles(gateway),
  ];
}

export function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/** Fails with one message listing everything missing or stale, pointing at the build command. */
export function checkPrerequisites(mode: Mode): Versions {
  const v = readVersions();
  const problems: string[] = [];
  for (const b of requiredBinaries(mode, v)) {
    const path = join(binDir(), b.name);
    if (!existsSync(path)) {
      problems.push(`${path} is missing`);
      continue;
    }
    const stamp = join(binDir(), `.${b.name}.version`);
    const built = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '(no stamp)';
    if (built !== b.version) problems.push(`${path} was built from ${built}, versions.env pins ${b.version}`);
  }
  const missingDirs = thirdPartyCrdDirs(v).filter((d) => !existsSync(d));
  for (const d of missingDirs) problems.push(`${d} is missing`);
  if (missingDirs.length === 0) for (const f of thirdPartyCrdFiles(v)) if (!existsSync(f)) problems.push(`${f} is missing`);
  if (problems.length > 0) {
    throw new Error(
      `The local control plane is not built (mode ${mode}):\n  - ${problems.join('\n  - ')}\n` +
        'Run `npm run cluster:build` first (a cold build compiles Kubernetes: 10-30 min; later runs are cached).',
    );
  }
  return v;
}

// Fixed network layout. The pod range only ever exists inside a cluster's own network namespace.
export const POD_CIDR = '10.250.0.0/16';
export const SERVICE_CIDR = '10.251.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.251.0.1';
// Inside a netns nothing else listens, so the control plane uses the well-known ports there.
export const NETNS_PORTS = { apiserver: 6443, etcdClient: 2379, etcdPeer: 2380, kcm: 10257, scheduler: 10259, kwok: 10247 };
export const netnsNameOf = (cluster: string): string => `unmute-${cluster}`;
/** Env var set on every process the harness starts; down finds them by it even if a PID file is lost. */
export const MARKER_ENV = 'UNMUTE_CLUSTER';
