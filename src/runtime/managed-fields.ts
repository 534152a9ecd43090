// Reads our field manager's entry in metadata.managedFields (FieldsV1) to answer two questions a
// value comparison cannot: "did we stop sending a field we own?" (applying would remove it) and "did
// someone take a field we send?" (applying would take it back). FieldsV1 encodes the list type, so no
// schema is needed: `f:<name>` object field, `k:{json}` map-list element by key, `v:<json>` set element,
// `i:<n>` list index, `.` the element itself; an empty node owns the whole value (atomic).
import { isEmptyValue, isPlainObject } from './subset.ts';
import type { KubeObject, ManagedFieldsEntry } from './object.ts';

/** Fields structured-merge-diff never records; sending them is not ownership. */
const unrecordedTopLevel = new Set(['apiVersion', 'kind']);
const unrecordedMetadata = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'selfLink',
]);

/**
 * Stands for the controller owner's uid in field sets the cache shares (transform.ts). A NUL
 * starts it, which no uid holds.
 */
export const OWNER_UID_TOKEN = '\u0000controller-owner';

/** The uid of `obj`'s controller owner reference, if any. */
export function controllerUid(obj: KubeObject): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true)?.uid;
}

/**
 * `fieldsV1` with the element key of owner reference `uid` written as OWNER_UID_TOKEN. The owner's
 * uid is the one part of a child's field set that differs between fleets (ownerReferences is a list
 * keyed by uid): with it replaced, the same child of a thousand fleets has one field set. Returns
 * `fieldsV1` itself when it names no such element (already replaced, or owned by nobody).
 */
export function withOwnerUidTokenized(fieldsV1: Record<string, unknown>, uid: string): Record<string, unknown> {
  const metadata = fieldsV1['f:metadata'];
  if (!isPlainObject(metadata)) return fieldsV1;
  const refs = metadata['f:ownerReferences'];
  const key = `k:${JSON.stringify({ uid })}`;
  if (!isPlainObject(refs) || !(key in refs)) return fieldsV1;
  const renamed = Object.fromEntries(Object.entries(refs).map(([k, v]) => [k === key ? `k:${JSON.stringify({ uid: OWNER_UID_TOKEN })}` : k, v]));
  return { ...fieldsV1, 'f:metadata': { ...metadata, 'f:ownerReferences': renamed } };
}

/** `desired` with owner reference `uid` written as OWNER_UID_TOKEN, to compare with a tokenized field set. */
export function withOwnerUidToken(desired: KubeObject, uid: string): KubeObject {
  const refs = desired.metadata.ownerReferences;
  if (refs === undefined || !refs.some((r) => r.uid === uid)) return desired;
  return { ...desired, metadata: { ...desired.metadata, ownerReferences: refs.map((r) => (r.uid === uid ? { ...r, uid: OWNER_UID_TOKEN } : r)) } };
}

/** Our Apply entry: same manager, operation Apply, same subresource ('' for the main resource). */
export function findApplyEntry(observed: KubeObject, fieldManager: string, subresource = ''): ManagedFieldsEntry | undefined {
  return observed.metadata.managedFields?.find(
    (e) => e.manager === fieldManager && e.operation === 'Apply' && (e.subresource ?? '') === subresource,
  );
}

/** The first field we own that `desired` no longer sets, or undefined. Unknown encodings count as a difference. */
export function ownedFieldMissingFromDesired(fieldsV1: Record<string, unknown>, desired: unknown): string | undefined {
  return ownedMissing(fieldsV1, desired, []);
}

/** The first field `desired` sets that our entry does not own, or undefined. */
export function desiredFieldNotOwned(desired: object, fieldsV1: Record<string, unknown>): string | undefined {
  return notOwned(desired, fieldsV1, []);
}

function ownedMissing(node: Record<string, unknown>, desired: unknown, path: string[]): string | undefined {
  for (const [key, childNode] of Object.entries(node)) {
    if (key === '.') continue;
    const child = isPlainObject(childNode) ? childNode : {};
    const here = [...path, key];
    if (key.startsWith('f:')) {
      const value = isPlainObject(desired) ? desired[key.slice(2)] : undefined;
      if (value === undefined || value === null) return render(here);
      const found = ownedMissing(child, value, here);
      if (found !== undefined) return found;
    } else if (key.startsWith('k:')) {
      const element = Array.isArray(desired) ? findKeyedElement(desired, parseJson(key.slice(2))) : undefined;
      if (element === undefined) return render(here);
      const found = ownedMissing(child, element, here);
      if (found !== undefined) return found;
    } else if (key.startsWith('v:')) {
      const wanted = parseJson(key.slice(2));
      if (!Array.isArray(desired) || !desired.some((e) => jsonEqual(e, wanted))) return render(here);
    } else if (key.startsWith('i:')) {
      const index = Number(key.slice(2));
      if (!Array.isArray(desired) || !Number.isInteger(index) || index >= desired.length) return render(here);
      const found = ownedMissing(child, desired[index], here);
      if (found !== undefined) return found;
    } else {
      return render(here);
    }
  }
  return undefined;
}

function notOwned(desired: unknown, node: Record<string, unknown>, path: string[]): string | undefined {
  // An empty node owns the whole value (scalar, atomic list or atomic map).
  if (Object.keys(node).length === 0) return undefined;
  if (isPlainObject(desired)) {
    for (const [key, raw] of Object.entries(desired)) {
      if (path.length === 0 && unrecordedTopLevel.has(key)) continue;
      const value = path.length === 0 && key === 'metadata' && isPlainObject(raw) ? withoutKeys(raw, unrecordedMetadata) : raw;
      if (isEmptyValue(value)) continue;
      const child = node[`f:${key}`];
      if (!isPlainObject(child)) return render([...path, `f:${key}`]);
      const found = notOwned(value, child, [...path, `f:${key}`]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Array.isArray(desired)) {
    for (let i = 0; i < desired.length; i++) {
      const element = desired[i];
      const entry = elementNode(node, element, i);
      if (entry === undefined) return render([...path, `[${i}]`]);
      if (isPlainObject(element)) {
        const found = notOwned(element, entry, [...path, `[${i}]`]);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  }
  return undefined;
}

/** The node owning list element `element` (at `index`): by key, by value, or by index. */
function elementNode(node: Record<string, unknown>, element: unknown, index: number): Record<string, unknown> | undefined {
  for (const [key, child] of Object.entries(node)) {
    const childNode = isPlainObject(child) ? child : {};
    if (key.startsWith('k:') && isPlainObject(element)) {
      const keyFields = parseJson(key.slice(2));
      if (isPlainObject(keyFields) && keyMatches(element, keyFields)) return childNode;
    } else if (key.startsWith('v:')) {
      if (jsonEqual(element, parseJson(key.slice(2)))) return childNode;
    } else if (key === `i:${index}`) {
      return childNode;
    }
  }
  return undefined;
}

function withoutKeys(obj: Record<string, unknown>, keys: ReadonlySet<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.has(k)));
}

function findKeyedElement(list: unknown[], keyFields: unknown): unknown {
  if (!isPlainObject(keyFields)) return undefined;
  return list.find((e) => isPlainObject(e) && keyMatches(e, keyFields));
}

/**
 * Whether `element` is the one a `k:{...}` entry names. A key field missing from `element` matches:
 * the server defaults some key fields (a port's protocol: TCP) that we do not send.
 */
function keyMatches(element: Record<string, unknown>, keyFields: Record<string, unknown>): boolean {
  let matchedAny = false;
  for (const [field, value] of Object.entries(keyFields)) {
    const mine = element[field];
    if (mine === undefined) continue;
    if (!jsonEqual(mine, value)) return false;
    matchedAny = true;
  }
  return matchedAny;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return Symbol('unparseable');
  }
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function render(path: string[]): string {
  return path.join('.');
}
