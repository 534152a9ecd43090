// How watched objects become reconcile keys, and which updates are worth a reconcile.
import { objectKey, splitApiVersion, type KubeObject } from './object.ts';

/** Maps an object event to the keys to reconcile. */
export type KeyMapper<T extends KubeObject = KubeObject> = (obj: T) => string[];

/** Decides whether an update (old → new) should enqueue anything. */
export type UpdatePredicate<T extends KubeObject = KubeObject> = (oldObj: T, newObj: T) => boolean;

/** The object's own key: for the controller's primary kind. */
export function forObject<T extends KubeObject>(): KeyMapper<T> {
  return (obj) => [objectKey(obj)];
}

/**
 * The key of the owner named by the object's controller ownerReference, when that owner is of `owner`'s
 * kind and API group (any version): for the objects a CR creates.
 */
export function ownedBy<T extends KubeObject>(owner: { apiVersion: string; kind: string }): KeyMapper<T> {
  const group = splitApiVersion(owner.apiVersion).group;
  return (obj) => {
    const ref = obj.metadata.ownerReferences?.find((r) => r.controller === true);
    if (ref === undefined || ref.kind !== owner.kind || splitApiVersion(ref.apiVersion).group !== group) return [];
    const namespace = obj.metadata.namespace;
    return [namespace === undefined || namespace === '' ? ref.name : `${namespace}/${ref.name}`];
  };
}

/**
 * Drops updates that only touched status (or other fields that do not bump metadata.generation):
 * keeps changes to generation, labels, annotations, finalizers and deletionTimestamp. Use on the
 * primary kind so the controller's own status writes do not trigger it again.
 */
export function specOrMetadataChanged<T extends KubeObject>(oldObj: T, newObj: T): boolean {
  const a = oldObj.metadata;
  const b = newObj.metadata;
  if (a.generation !== b.generation) return true;
  if (a.deletionTimestamp !== b.deletionTimestamp) return true;
  return (
    JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {}) ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) ||
    JSON.stringify(a.finalizers ?? []) !== JSON.stringify(b.finalizers ?? [])
  );
}
