// What the informer caches keep of an object (controller-runtime's cache transforms): the operator
// holds every pod and child of every fleet for its whole life, so what it never reads again should
// not stay in memory.
import { createHash } from 'node:crypto';
import { controllerUid, withOwnerUidTokenized } from './managed-fields.ts';
import type { KubeObject } from './object.ts';

/** Turns an object from the API server into the copy the cache keeps. */
export type CacheTransform<T extends KubeObject> = (obj: T) => T;

/**
 * Drops `metadata.managedFields`: for kinds the operator never applies (pods, EndpointSlices) they
 * are read by nothing, and on a pod they are often larger than everything else the operator reads.
 * Kinds it applies keep them: no-op detection and repair read them (apply.ts, repair.ts).
 */
export function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (obj.metadata.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/**
 * Marks a string the cache replaced by its digest. It starts with a NUL, which no rendered value
 * holds, so a digest is never mistaken for content.
 */
export const DIGEST_PREFIX = '\u0000sha256:';
/** Strings at least this long (UTF-16 units) are kept as a digest: dashboard JSON, not labels. */
export const DIGEST_MIN_LENGTH = 4096;

export function digestOf(value: string): string {
  return DIGEST_PREFIX + createHash('sha256').update(value).digest('hex');
}

/** True when `observed` is the digest the cache kept of `desired`. */
export function matchesDigest(desired: unknown, observed: unknown): boolean {
  return typeof desired === 'string' && typeof observed === 'string' && observed.startsWith(DIGEST_PREFIX) && digestOf(desired) === observed;
}

/**
 * Keeps long strings outside `metadata` as their digest: a dashboard's 70 KB of JSON is written by the
 * operator and never read back, only compared with what it would write now (subset.ts compares a
 * desired string with a kept digest). Objects without such strings are returned as they are.
 */
export function withLargeStringsDigested<T extends KubeObject>(obj: T): T {
  let changed = false;
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      if (value.length < DIGEST_MIN_LENGTH || value.startsWith(DIGEST_PREFIX)) return value;
      changed = true;
      return digestOf(value);
    }
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) out[key] = key === 'metadata' ? value : walk(value);
  return changed ? (out as T) : obj;
}

/**
 * What the cache keeps of a Node: its name and whether it is being drained (spec.unschedulable and
 * the taints). Labels, status and images are read by nothing and make up nearly all of a node.
 */
export function nodeDrainFields<T extends KubeObject & { spec?: { unschedulable?: boolean; taints?: unknown[] } }>(obj: T): T {
  const { name, uid, resourceVersion } = obj.metadata;
  const spec = obj.spec === undefined ? undefined : { ...(obj.spec.unschedulable === undefined ? {} : { unschedulable: obj.spec.unschedulable }), ...(obj.spec.taints === undefined ? {} : { taints: obj.spec.taints }) };
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, uid, resourceVersion }, ...(spec === undefined ? {} : { spec }) } as T;
}

/**
 * What the cache keeps of a pod: its metadata without managedFields, where it runs (nodeName), its
 * scheduling gates, and of its status the phase, conditions (type, status, reason, when) and IP.
 * Containers, volumes, tolerations and container statuses are read by nothing and are most of a pod;
 * a fleet of two thousand backends holds two thousand of them.
 */
export function podReadFields<T extends KubeObject>(obj: T): T {
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  const raw = obj as KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };
  const spec = raw.spec === undefined ? undefined : pick(raw.spec, ['nodeName', 'schedulingGates']);
  const status = raw.status === undefined ? undefined : pick(raw.status, ['phase', 'podIP', 'conditions']);
  if (status?.['conditions'] !== undefined) {
    status['conditions'] = (status['conditions'] as Array<Record<string, unknown>>).map((c) => pick(c, ['type', 'status', 'reason', 'lastTransitionTime']));
  }
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata, ...(spec === undefined ? {} : { spec }), ...(status === undefined ? {} : { status }) } as T;
}

function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (obj[k] !== undefined) out[k] = obj[k];
  return out;
}

/**
 * For objects `isOurs` rejects, keeps only what says whose they are: name, uid, resourceVersion,
 * labels, owner references and the annotations named in `keepAnnotations`. A cache that watches a
 * kind without a label filter (so that a miss means "no object of that name") holds every such
 * object of the cluster; their managedFields and annotations (kubectl's last-applied copy of the
 * whole object) are read by nothing.
 */
export function withForeignObjectsReduced<T extends KubeObject>(isOurs: (obj: T) => boolean, keepAnnotations: readonly string[]): CacheTransform<T> {
  return (obj) => {
    if (isOurs(obj)) return obj;
    const { name, namespace, uid, resourceVersion, labels, ownerReferences, annotations, deletionTimestamp } = obj.metadata;
    const kept = Object.fromEntries(keepAnnotations.flatMap((k) => (annotations?.[k] === undefined ? [] : [[k, annotations[k]]])));
    const metadata = Object.fromEntries(
      Object.entries({ name, namespace, uid, resourceVersion, labels, ownerReferences, deletionTimestamp, annotations: Object.keys(kept).length > 0 ? kept : undefined }).filter(
        ([, v]) => v !== undefined,
      ),
    );
    return { apiVersion: obj.apiVersion, kind: obj.kind, metadata } as T;
  };
}

/**
 * Drops managedFields entries of subresources (a Deployment's status, written by its controller):
 * no-op detection and repair read only the entries of the object itself.
 */
export function withoutSubresourceManagedFields<T extends KubeObject>(obj: T): T {
  const entries = obj.metadata.managedFields;
  if (entries === undefined || !entries.some((e) => (e.subresource ?? '') !== '')) return obj;
  return { ...obj, metadata: { ...obj.metadata, managedFields: entries.filter((e) => (e.subresource ?? '') === '') } };
}

/**
 * A Deployment without its pod template's spec (containers, volumes: most of its size). The operator
 * reads replicas, the template's annotations and status; no-op detection compares the applied hash
 * (apply.ts) and repair reads the whole object from the API server when it may apply.
 */
export function withoutPodTemplateSpec<T extends KubeObject>(obj: T): T {
  const spec = obj['spec'] as { template?: { spec?: unknown } } | undefined;
  if (spec?.template?.spec === undefined) return obj;
  const { spec: _dropped, ...template } = spec.template;
  return { ...obj, spec: { ...spec, template } };
}

/** Applies `transforms` left to right. */
export function composeTransforms<T extends KubeObject>(...transforms: Array<CacheTransform<T>>): CacheTransform<T> {
  return (obj) => transforms.reduce((o, t) => t(o), obj);
}

/** Distinct field sets kept for sharing; past this many the table starts again (a bound, not a limit on correctness). */
const SHARED_FIELD_SETS_MAX = 20_000;

/**
 * Shares equal `managedFields[].fieldsV1` trees between cached objects. A field set names every field
 * a manager owns, so it is often the largest part of a child's metadata, and it is the same for the
 * same child of every fleet (the Services of a thousand fleets own the same fields) once the owner's
 * uid, the one fleet-specific key in it, is written as a token (withOwnerUidTokenized; apply.ts
 * compares so). Kept once per distinct set, a thousand fleets' caches hold a few dozen trees instead
 * of tens of thousands. Cached objects are never mutated, so sharing is safe.
 */
export function withSharedFieldSets(): CacheTransform<KubeObject> {
  const shared = new Map<string, Record<string, unknown>>();
  const share = (fields: Record<string, unknown>): Record<string, unknown> => {
    const key = JSON.stringify(fields);
    const found = shared.get(key);
    if (found !== undefined) return found;
    if (shared.size >= SHARED_FIELD_SETS_MAX) shared.clear();
    shared.set(key, fields);
    return fields;
  };
  return (obj) => {
    const entries = obj.metadata.managedFields;
    if (entries === undefined || entries.length === 0) return obj;
    const owner = controllerUid(obj);
    const managedFields = entries.map((e) => (e.fieldsV1 === undefined ? e : { ...e, fieldsV1: share(owner === undefined ? e.fieldsV1 : withOwnerUidTokenized(e.fieldsV1, owner)) }));
    return { ...obj, metadata: { ...obj.metadata, managedFields } };
  };
}
