// "Does the observed object already hold every field we would apply?" A semantic subset test used to
// skip no-op server-side applies. Deliberately conservative: when unsure it reports a difference,
// which costs one harmless apply; reporting "same" wrongly would leave drift in place.
//
// Rules (and limits):
// - Objects: every field of desired must hold in observed, recursively; extra observed fields
//   (server defaults, other managers' labels) are fine.
// - Lists: same length → element-wise. Different length → only for lists whose elements carry an
//   identifying key (uid, name, type, containerPort, port, mountPath): each desired element must match
//   the observed element with that key (extras from other managers are fine). Otherwise: different.
// - Empty desired objects/lists and nulls match an absent observed field (the server drops them).
// - Quantities compare by value under resources/limits/requests/capacity/hard ("0.5" = "500m", 1 = "1");
//   int-or-string fields compare 8080 and "8080" as equal.
// - Fields the server manages itself (metadata.uid, resourceVersion, generation, creationTimestamp,
//   managedFields, selfLink) are ignored.
// - A long string the cache kept as its digest (transform.ts) equals a desired string with that digest.
// - It cannot see fields we stopped sending: managed-fields.ts covers removals.
import { quantitiesEqual } from './quantity.ts';
import { matchesDigest } from './transform.ts';

const serverOwnedMetadata = new Set(['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink']);
const quantityParents = new Set(['limits', 'requests', 'capacity', 'allocatable', 'hard', 'used']);
const quantityKeys = new Set(['sizeLimit', 'storage']);
const intOrStringKeys = new Set(['targetPort', 'port', 'maxSurge', 'maxUnavailable', 'minAvailable']);
const listKeyCandidates = ['uid', 'name', 'type', 'containerPort', 'port', 'mountPath'];

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for undefined, null, and objects/lists containing only such values. */
export function isEmptyValue(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.values(value).every(isEmptyValue);
  return false;
}

/** The first path where `observed` does not hold `desired`, or undefined when it holds all of it. */
export function subsetDifference(desired: unknown, observed: unknown): string | undefined {
  return diff(desired, observed, []);
}

export function isSubset(desired: unknown, observed: unknown): boolean {
  return subsetDifference(desired, observed) === undefined;
}

function diff(desired: unknown, observed: unknown, path: string[]): string | undefined {
  if (desired === undefined) return undefined;
  if (observed === undefined || observed === null) return isEmptyValue(desired) ? undefined : render(path);
  if (desired === null) return render(path);
  if (Array.isArray(desired)) return Array.isArray(observed) ? diffList(desired, observed, path) : render(path);
  if (isPlainObject(desired)) {
    if (!isPlainObject(observed)) return render(path);
    const inMetadata = path.length === 1 && path[0] === 'metadata';
    for (const [key, value] of Object.entries(desired)) {
      if (inMetadata && serverOwnedMetadata.has(key)) continue;
      const found = diff(value, observed[key], [...path, key]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return scalarsEqual(desired, observed, path) ? undefined : render(path);
}

function diffList(desired: unknown[], observed: unknown[], path: string[]): string | undefined {
  if (desired.length === observed.length) {
    const elementWise = desired.findIndex((d, i) => diff(d, observed[i], [...path, String(i)]) !== undefined);
    if (elementWise < 0) return undefined;
  }
  const key = identifyingKey(desired);
  if (key === undefined) return render(path);
  for (const d of desired as Array<Record<string, unknown>>) {
    const id = d[key];
    const match = observed.find((o) => isPlainObject(o) && o[key] === id);
    const label = `${key}=${String(id)}`;
    if (match === undefined) return render([...path, `[${label}]`]);
    const found = diff(d, match, [...path, `[${label}]`]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A field every desired element has, with distinct string/number values; undefined if none. */
function identifyingKey(list: unknown[]): string | undefined {
  if (list.length === 0 || !list.every(isPlainObject)) return undefined;
  const objects = list as Array<Record<string, unknown>>;
  return listKeyCandidates.find((key) => {
    const values = objects.map((o) => o[key]);
    if (!values.every((v) => typeof v === 'string' || typeof v === 'number')) return false;
    return new Set(values).size === values.length;
  });
}

function scalarsEqual(desired: unknown, observed: unknown, path: string[]): boolean {
  if (desired === observed) return true;
  // The cache may keep a long string as its digest (transform.ts).
  if (matchesDigest(desired, observed)) return true;
  const key = path.at(-1) ?? '';
  const parent = path.at(-2) ?? '';
  if (quantityParents.has(parent) || quantityKeys.has(key)) return quantitiesEqual(desired, observed);
  if (intOrStringKeys.has(key)) return String(desired) === String(observed);
  return false;
}

function render(path: string[]): string {
  return path.length === 0 ? '<root>' : path.join('.').replace(/\.\[/g, '[');
}
