// Hand edits that server-side apply cannot undo by itself. SSA merges map-lists by key: when someone
// edits a key field in place (a Service's port number, a container port), the edited element becomes
// a new element owned by the editor, and our apply adds ours back next to it. Where the list also
// requires another field to be unique (port names), the merged result is invalid, so every apply of
// that object fails and the edit is never reverted. This module finds such foreign elements and
// builds a JSON patch that takes them out (with a `test` of the observed list, so a concurrent change
// makes the patch fail instead of clobbering it); the normal apply follows.
//
// Only elements that collide with one we render (same unique name, different key) and that some
// other manager holds are touched: an extra port under its own name stays, as other managers' labels do.
import type { KubeObject, ManagedFieldsEntry } from '../runtime/object.ts';
import { isPlainObject } from '../runtime/subset.ts';

export interface JsonPatchOp {
  op: 'test' | 'replace';
  path: string;
  value: unknown;
}

/** A map-list whose elements are keyed by `keys` and must also be unique by `unique`. */
interface KeyedList {
  /** Where the list is in the observed object. */
  path: Array<string | number>;
  /** The same place in FieldsV1 terms: field names and map-list keys (container by name). */
  fieldsPath: Array<string | Record<string, unknown>>;
  desired: Array<Record<string, unknown>>;
  keys: string[];
  defaults: Record<string, unknown>;
  unique: string;
}

type Json = Record<string, unknown>;

const get = (obj: unknown, path: Array<string | number>): unknown =>
  path.reduce<unknown>((node, seg) => (node === null || node === undefined ? undefined : (node as Record<string | number, unknown>)[seg]), obj);

const asObjects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isPlainObject) : []);

function keyedLists(desired: KubeObject, observed: KubeObject): KeyedList[] {
  if (desired.apiVersion === 'v1' && desired.kind === 'Service') {
    return [
      {
        path: ['spec', 'ports'],
        fieldsPath: ['spec', 'ports'],
        desired: asObjects(get(desired, ['spec', 'ports'])),
        keys: ['port', 'protocol'],
        defaults: { protocol: 'TCP' },
        unique: 'name',
      },
    ];
  }
  if (desired.apiVersion === 'apps/v1' && (desired.kind === 'Deployment' || desired.kind === 'StatefulSet')) {
    const out: KeyedList[] = [];
    const observedContainers = asObjects(get(observed, ['spec', 'template', 'spec', 'containers']));
    for (const container of asObjects(get(desired, ['spec', 'template', 'spec', 'containers']))) {
      const index = observedContainers.findIndex((c) => c['name'] === container['name']);
      if (index < 0) continue;
      out.push({
        path: ['spec', 'template', 'spec', 'containers', index, 'ports'],
        fieldsPath: ['spec', 'template', 'spec', 'containers', { name: container['name'] }, 'ports'],
        desired: asObjects(container['ports']),
        keys: ['containerPort', 'protocol'],
        defaults: { protocol: 'TCP' },
        unique: 'name',
      });
    }
    return out;
  }
  return [];
}

function keyOf(item: Json, list: KeyedList): Json {
  return Object.fromEntries(list.keys.map((k) => [k, item[k] ?? list.defaults[k]]));
}

function sameKey(a: Json, b: Json): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The FieldsV1 node at `path` (map-list elements matched by parsed key), or undefined. */
function fieldsNode(fields: unknown, path: Array<string | Record<string, unknown>>): unknown {
  let node = fields;
  for (const seg of path) {
    if (!isPlainObject(node)) return undefined;
    if (typeof seg === 'string') {
      node = node[`f:${seg}`];
      continue;
    }
    const entry = Object.entries(node).find(([k]) => {
      if (!k.startsWith('k:')) return false;
      try {
        const parsed = JSON.parse(k.slice(2)) as unknown;
        return isPlainObject(parsed) && sameKey(parsed, seg);
      } catch {
        return false;
      }
    });
    node = entry?.[1];
  }
  return node;
}

function heldByOthers(entries: ManagedFieldsEntry[], fieldManager: string, list: KeyedList, key: Json): boolean {
  return entries.some((e) => {
    if (e.manager === fieldManager && e.operation === 'Apply') return false;
    if ((e.subresource ?? '') !== '') return false;
    return fieldsNode(e.fieldsV1, [...list.fieldsPath, key]) !== undefined;
  });
}

const pointer = (path: Array<string | number>) => '/' + path.map((s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * A JSON patch that removes, from `observed`, list elements another manager holds whose key we do not
 * render but whose unique name we do; undefined when there is nothing to repair.
 */
export function repairPatch(desired: KubeObject, observed: KubeObject | undefined, fieldManager: string): JsonPatchOp[] | undefined {
  if (observed === undefined) return undefined;
  const entries = observed.metadata.managedFields ?? [];
  const ops: JsonPatchOp[] = [];
  for (const list of keyedLists(desired, observed)) {
    const current = get(observed, list.path);
    if (!Array.isArray(current) || list.desired.length === 0) continue;
    const desiredKeys = list.desired.map((d) => keyOf(d, list));
    const desiredNames = new Set<unknown>(list.desired.map((d) => d[list.unique]).filter((n) => n !== undefined));
    const foreign = (item: unknown) => {
      if (!isPlainObject(item)) return false;
      const key = keyOf(item, list);
      if (desiredKeys.some((k) => sameKey(k, key))) return false;
      if (!desiredNames.has(item[list.unique])) return false;
      return heldByOthers(entries, fieldManager, list, key);
    };
    if (!current.some(foreign)) continue;
    const kept = current.filter((item) => !foreign(item));
    // Our elements go back in the same patch, so the list is never left empty (a Service needs a port).
    const missing = list.desired.filter((d) => !kept.some((k) => isPlainObject(k) && sameKey(keyOf(k, list), keyOf(d, list))));
    ops.push({ op: 'test', path: pointer(list.path), value: current }, { op: 'replace', path: pointer(list.path), value: [...kept, ...missing] });
  }
  return ops.length > 0 ? ops : undefined;
}

/** Where, in FieldsV1 terms, the lists repairPatch looks at live in `desired`'s kind. */
function repairedListPaths(desired: KubeObject): Array<Array<string | Record<string, unknown>>> {
  if (desired.apiVersion === 'v1' && desired.kind === 'Service') return [['spec', 'ports']];
  if (desired.apiVersion === 'apps/v1' && (desired.kind === 'Deployment' || desired.kind === 'StatefulSet')) {
    return asObjects(get(desired, ['spec', 'template', 'spec', 'containers'])).map((c) => ['spec', 'template', 'spec', 'containers', { name: c['name'] }, 'ports']);
  }
  return [];
}

/**
 * Whether another manager holds elements of a list repairPatch may fix. Read from managedFields, so
 * it works on the metadata-only copy a cache keeps; only when true is the whole object worth a GET.
 */
export function repairMayApply(desired: KubeObject, observed: KubeObject | undefined, fieldManager: string): boolean {
  if (observed === undefined) return false;
  const paths = repairedListPaths(desired);
  if (paths.length === 0) return false;
  return (observed.metadata.managedFields ?? []).some((e) => {
    if ((e.manager === fieldManager && e.operation === 'Apply') || (e.subresource ?? '') !== '') return false;
    return paths.some((path) => {
      const node = fieldsNode(e.fieldsV1, path);
      return isPlainObject(node) && Object.keys(node).some((k) => k.startsWith('k:'));
    });
  });
}
