// Resolves a kind to its REST resource. Built-in kinds the operator touches come from a static table
// (they are always served and their plurals never change); everything else (our CRD, prometheus-operator
// CRDs) goes through discovery (`/apis/<group>/<version>`), cached, which also answers "is this served?".
import { z } from 'zod';
import type { Clock } from './clock.ts';
import { KubeApiError } from './errors.ts';
import { splitApiVersion, type TypeRef } from './object.ts';

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  /** The REST resource name, e.g. `deployments`. */
  plural: string;
  namespaced: boolean;
}

type Row = [apiVersion: string, kind: string, plural: string, namespaced: boolean];

const builtinRows: Row[] = [
  ['v1', 'Pod', 'pods', true],
  ['v1', 'Service', 'services', true],
  ['v1', 'ConfigMap', 'configmaps', true],
  ['v1', 'Secret', 'secrets', true],
  ['v1', 'ServiceAccount', 'serviceaccounts', true],
  ['v1', 'Endpoints', 'endpoints', true],
  ['v1', 'Event', 'events', true],
  ['v1', 'PersistentVolumeClaim', 'persistentvolumeclaims', true],
  ['v1', 'PersistentVolume', 'persistentvolumes', false],
  ['v1', 'Namespace', 'namespaces', false],
  ['v1', 'Node', 'nodes', false],
  ['apps/v1', 'Deployment', 'deployments', true],
  ['apps/v1', 'StatefulSet', 'statefulsets', true],
  ['apps/v1', 'ReplicaSet', 'replicasets', true],
  ['apps/v1', 'DaemonSet', 'daemonsets', true],
  ['policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true],
  ['networking.k8s.io/v1', 'Ingress', 'ingresses', true],
  ['networking.k8s.io/v1', 'NetworkPolicy', 'networkpolicies', true],
  ['coordination.k8s.io/v1', 'Lease', 'leases', true],
  ['events.k8s.io/v1', 'Event', 'events', true],
  ['discovery.k8s.io/v1', 'EndpointSlice', 'endpointslices', true],
  ['autoscaling/v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true],
  ['batch/v1', 'Job', 'jobs', true],
  ['batch/v1', 'CronJob', 'cronjobs', true],
  ['rbac.authorization.k8s.io/v1', 'Role', 'roles', true],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings', true],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'clusterroles', false],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'clusterrolebindings', false],
  ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'customresourcedefinitions', false],
  ['scheduling.k8s.io/v1', 'PriorityClass', 'priorityclasses', false],
];

function typeKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}

const builtinResources: ReadonlyMap<string, ResourceInfo> = new Map(
  builtinRows.map(([apiVersion, kind, plural, namespaced]) => {
    const { group, version } = splitApiVersion(apiVersion);
    return [typeKey(apiVersion, kind), { group, version, kind, plural, namespaced }];
  }),
);

/** The static table entry for a built-in kind, if it has one. */
function builtinResource(ref: TypeRef): ResourceInfo | undefined {
  return builtinResources.get(typeKey(ref.apiVersion, ref.kind));
}

/** `/api/v1` or `/apis/<group>/<version>`. */
export function groupVersionPath(apiVersion: string): string {
  const { group, version } = splitApiVersion(apiVersion);
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** Collection or object path: `/apis/apps/v1/namespaces/ns/deployments[/name[/status]]`. */
export function resourcePath(info: ResourceInfo, namespace: string | undefined, name?: string, subresource?: string): string {
  const base = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  let path = base;
  if (info.namespaced && namespace !== undefined && namespace !== '') path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${info.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

export const apiResourceListSchema = z.object({
  resources: z.array(
    z.object({
      name: z.string(),
      kind: z.string(),
      namespaced: z.boolean(),
    }),
  ),
});
export type ApiResourceList = z.infer<typeof apiResourceListSchema>;

/** Fetches `/api/v1` or `/apis/<g>/<v>`; undefined when the group version is not served (404). */
export type FetchGroupVersion = (apiVersion: string) => Promise<ApiResourceList | undefined>;

export interface DiscoveryOptions {
  clock: Clock;
  /** How long a served group version's resource list is trusted. */
  servedTtlMs?: number;
  /** How long "not served" is trusted: short, so installing prometheus-operator later is noticed. */
  notServedTtlMs?: number;
}

interface CacheEntry {
  fetchedAt: number;
  resources: Map<string, ResourceInfo> | undefined;
}

export class Discovery {
  readonly #fetch: FetchGroupVersion;
  readonly #clock: Clock;
  readonly #servedTtlMs: number;
  readonly #notServedTtlMs: number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<CacheEntry>>();

  constructor(fetch: FetchGroupVersion, options: DiscoveryOptions) {
    this.#fetch = fetch;
    this.#clock = options.clock;
    this.#servedTtlMs = options.servedTtlMs ?? 5 * 60_000;
    this.#notServedTtlMs = options.notServedTtlMs ?? 30_000;
  }

  /** The REST resource of `ref`; throws a 404 KubeApiError when the kind is not served. */
  async resolve(ref: TypeRef): Promise<ResourceInfo> {
    const builtin = builtinResource(ref);
    if (builtin !== undefined) return builtin;
    const entry = await this.#groupVersion(ref.apiVersion);
    const info = entry.resources?.get(ref.kind);
    if (info === undefined) {
      throw new KubeApiError({
        code: 404,
        reason: 'NotFound',
        message: `the server does not serve ${ref.kind} in ${ref.apiVersion}`,
      });
    }
    return info;
  }

  /** Whether the API server serves `apiVersion` (and `kind` in it, when given). */
  async isServed(apiVersion: string, kind?: string): Promise<boolean> {
    if (kind !== undefined && builtinResource({ apiVersion, kind }) !== undefined) return true;
    const entry = await this.#groupVersion(apiVersion);
    if (entry.resources === undefined) return false;
    return kind === undefined || entry.resources.has(kind);
  }

  /** Forgets cached answers (all, or one group version), e.g. after a CRD was installed. */
  invalidate(apiVersion?: string): void {
    if (apiVersion === undefined) this.#cache.clear();
    else this.#cache.delete(apiVersion);
  }

  async #groupVersion(apiVersion: string): Promise<CacheEntry> {
    const cached = this.#cache.get(apiVersion);
    if (cached !== undefined) {
      const ttl = cached.resources === undefined ? this.#notServedTtlMs : this.#servedTtlMs;
      if (this.#clock.now() - cached.fetchedAt < ttl) return cached;
    }
    const pending = this.#inFlight.get(apiVersion);
    if (pending !== undefined) return pending;
    const load = this.#load(apiVersion).finally(() => this.#inFlight.delete(apiVersion));
    this.#inFlight.set(apiVersion, load);
    return load;
  }

  async #load(apiVersion: string): Promise<CacheEntry> {
    const list = await this.#fetch(apiVersion);
    const { group, version } = splitApiVersion(apiVersion);
    let resources: Map<string, ResourceInfo> | undefined;
    if (list !== undefined) {
      resources = new Map();
      for (const r of list.resources) {
        if (r.name.includes('/')) continue; // subresources such as deployments/status
        resources.set(r.kind, { group, version, kind: r.kind, plural: r.name, namespaced: r.namespaced });
      }
    }
    const entry = { fetchedAt: this.#clock.now(), resources };
    this.#cache.set(apiVersion, entry);
    return entry;
  }
}
