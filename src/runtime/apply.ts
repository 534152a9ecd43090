// Server-side apply that skips no-op writes. A write happens unless all of these hold:
//   1. the object exists and carries our field manager's Apply entry for the same apiVersion;
//   2. every field we send already holds in the observed object (subset.ts: semantic subset), or,
//      for objects applied with a hash annotation, the observed annotation is the hash of what we
//      would send now (the cache then needs only metadata: see appliedHash below);
//   3. we own nothing we stopped sending (else the apply must run to remove it);
//   4. we still own everything we send (else someone took a field; the apply takes it back).
// 3 and 4 come from metadata.managedFields (managed-fields.ts), so they need observed objects with
// managedFields (informer caches keep them). Limits: see subset.ts; any doubt means "write".
import { createHash } from 'node:crypto';
import type { Logger } from '../observability/logger.ts';
import type { ApplyOptions } from './kube-client.ts';
import { controllerUid, desiredFieldNotOwned, findApplyEntry, ownedFieldMissingFromDesired, withOwnerUidToken, withOwnerUidTokenized } from './managed-fields.ts';
import type { KubeObject } from './object.ts';
import { subsetDifference } from './subset.ts';

/** The part of KubeClient that applying needs (a recording fake in unit tests). */
export interface Applier {
  apply<T extends KubeObject = KubeObject>(obj: KubeObject, options: ApplyOptions): Promise<T>;
}

export interface ApplyDecision {
  changed: boolean;
  /** Why: `unchanged`, `absent`, `not-applied-yet`, `api-version`, `value <path>`, `removed <path>`, `not-owned <path>`. */
  reason: string;
}

/**
 * The hash of an object as we apply it: sha256 of its JSON with keys sorted, the hash annotation
 * itself left out. Stamped on the object (withAppliedHash), it lets no-op detection compare values
 * without the cache holding them: fields someone else changed show in managedFields instead (an
 * Update or a forced Apply of a field takes its ownership from us: check 4 of the file comment).
 */
export function appliedHash(obj: KubeObject, annotation: string): string {
  const { [annotation]: _own, ...annotations } = obj.metadata.annotations ?? {};
  const metadata = { ...obj.metadata, annotations };
  return createHash('sha256').update(stableJson({ ...obj, metadata })).digest('hex');
}

/** `obj` with `annotation` set to its applied hash. */
export function withAppliedHash(obj: KubeObject, annotation: string): KubeObject {
  return { ...obj, metadata: { ...obj.metadata, annotations: { ...obj.metadata.annotations, [annotation]: appliedHash(obj, annotation) } } };
}

/** JSON with object keys sorted, so equal objects hash equally whatever order they were built in. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Decides whether applying `desired` would change `observed` (see the file comment). With
 * `hashAnnotation`, `desired` must carry it (withAppliedHash) and values are compared by hash, so
 * `observed` may be metadata only.
 */
export function decideApply(desired: KubeObject, observed: KubeObject | undefined, fieldManager: string, subresource = '', hashAnnotation?: string): ApplyDecision {
  if (observed === undefined) return { changed: true, reason: 'absent' };
  const entry = findApplyEntry(observed, fieldManager, subresource);
  if (entry === undefined || entry.fieldsV1 === undefined) return { changed: true, reason: 'not-applied-yet' };
  if (entry.apiVersion !== undefined && entry.apiVersion !== desired.apiVersion) return { changed: true, reason: 'api-version' };
  if (hashAnnotation !== undefined && subresource === '') {
    const want = desired.metadata.annotations?.[hashAnnotation];
    if (want === undefined || observed.metadata.annotations?.[hashAnnotation] !== want) return { changed: true, reason: `value metadata.annotations[${hashAnnotation}]` };
  } else {
    const compared = subresource === 'status' ? { status: desired.status } : desired;
    const value = subsetDifference(compared, observed);
    if (value !== undefined) return { changed: true, reason: `value ${value}` };
  }
  // The cache may share field sets with the owner's uid as a token (transform.ts): compare both sides so.
  const owner = controllerUid(observed);
  const fields = owner === undefined ? entry.fieldsV1 : withOwnerUidTokenized(entry.fieldsV1, owner);
  const sent = owner === undefined ? desired : withOwnerUidToken(desired, owner);
  const removed = ownedFieldMissingFromDesired(fields, sent);
  if (removed !== undefined) return { changed: true, reason: `removed ${removed}` };
  const notOwned = desiredFieldNotOwned(subresource === 'status' ? { status: sent.status } : sent, fields);
  if (notOwned !== undefined) return { changed: true, reason: `not-owned ${notOwned}` };
  return { changed: false, reason: 'unchanged' };
}

export interface ApplyIfChangedOptions {
  fieldManager: string;
  /**
   * Stamp `desired` with its applied hash under this annotation and compare by it: for objects
   * whose cache keeps metadata only. Without it, values are compared field by field.
   */
  hashAnnotation?: string;
  /** The caller reads only the metadata of the written object: the server answers with that alone. */
  metadataOnly?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface ApplyResult {
  written: boolean;
  /** The server's answer when written, else the observed object. */
  object: KubeObject;
  reason: string;
}

/** Server-side applies `desired` (force, our field manager) unless `observed` already matches it. */
export async function applyIfChanged(
  client: Applier,
  desired: KubeObject,
  observed: KubeObject | undefined,
  options: ApplyIfChangedOptions,
): Promise<ApplyResult> {
  const body = options.hashAnnotation === undefined ? desired : withAppliedHash(desired, options.hashAnnotation);
  const decision = decideApply(body, observed, options.fieldManager, '', options.hashAnnotation);
  if (!decision.changed && observed !== undefined) return { written: false, object: observed, reason: decision.reason };
  options.logger?.debug({ kind: desired.kind, name: desired.metadata.name, reason: decision.reason }, 'applying object');
  const object = await client.apply(body, {
    fieldManager: options.fieldManager,
    force: true,
    signal: options.signal,
    ...(options.metadataOnly === true ? { metadataOnly: true } : {}),
  });
  return { written: true, object, reason: decision.reason };
}

/** What a status apply sends: identity plus `status`. */
export interface StatusPatch {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  status: Record<string, unknown>;
}

/** Applies `desired.status` to the status subresource unless the observed status already matches. */
export async function applyStatus(
  client: Applier,
  desired: StatusPatch,
  observed: KubeObject | undefined,
  options: ApplyIfChangedOptions,
): Promise<ApplyResult> {
  const body: KubeObject = { apiVersion: desired.apiVersion, kind: desired.kind, metadata: desired.metadata, status: desired.status };
  const decision = decideApply(body, observed, options.fieldManager, 'status');
  if (!decision.changed && observed !== undefined) return { written: false, object: observed, reason: decision.reason };
  options.logger?.debug({ kind: desired.kind, name: desired.metadata.name, reason: decision.reason }, 'applying status');
  const object = await client.apply(body, {
    fieldManager: options.fieldManager,
    force: true,
    subresource: 'status',
    signal: options.signal,
  });
  return { written: true, object, reason: decision.reason };
}
