// Whether the API server's schema of a kind has a field, read from its OpenAPI v3 document
// (`/openapi/v3/apis/<group>/<version>`). Every authenticated client may read it (the default
// system:discovery role), so this needs no RBAC on CustomResourceDefinitions. It answers what a
// kind being served cannot: whether an optional field of an optional API exists in the installed
// version, since server-side apply refuses a field the schema does not declare ("field not
// declared in schema"), failing the whole object.
import { z } from 'zod';
import type { KubeClient } from './kube-client.ts';
import { isNotFound } from './errors.ts';
import { splitApiVersion, type TypeRef } from './object.ts';

/** A path into an object: field names, and `[]` for the items of an array. */
export type SchemaPath = readonly string[];

const gvkSchema = z.array(z.looseObject({ group: z.string(), version: z.string(), kind: z.string() }));
const docSchema = z.looseObject({ components: z.looseObject({ schemas: z.record(z.string(), z.unknown()) }).optional() });

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The schema `$ref` and single-element `allOf` wrappers point at (how references to other types appear). */
function resolve(node: Node, schemas: Record<string, unknown>, depth = 0): Node {
  if (depth > 8) return node;
  const ref = node['$ref'];
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    const target = schemas[ref.slice('#/components/schemas/'.length)];
    return isNode(target) ? resolve(target, schemas, depth + 1) : node;
  }
  const allOf = node['allOf'];
  if (node['properties'] === undefined && node['items'] === undefined && Array.isArray(allOf) && allOf.length === 1 && isNode(allOf[0])) {
    return resolve(allOf[0], schemas, depth + 1);
  }
  return node;
}

/** Pure: whether `doc` (an OpenAPI v3 group-version document) declares `path` in the schema of `ref`. */
export function schemaHasField(doc: unknown, ref: TypeRef, path: SchemaPath): boolean {
  const parsed = docSchema.safeParse(doc);
  if (!parsed.success) return false;
  const schemas = parsed.data.components?.schemas ?? {};
  const { group, version } = splitApiVersion(ref.apiVersion);
  const root = Object.values(schemas).find((s) => {
    if (!isNode(s)) return false;
    const gvk = gvkSchema.safeParse(s['x-kubernetes-group-version-kind']);
    return gvk.success && gvk.data.some((g) => g.group === group && g.version === version && g.kind === ref.kind);
  });
  if (!isNode(root)) return false;
  let node: Node = resolve(root, schemas);
  for (const step of path) {
    const next = step === '[]' ? node['items'] : isNode(node['properties']) ? node['properties'][step] : undefined;
    if (!isNode(next)) return false;
    node = resolve(next, schemas);
  }
  return true;
}

/** The OpenAPI v3 path of a group version: `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`. */
export function openApiPath(apiVersion: string): string {
  const { group, version } = splitApiVersion(apiVersion);
  return group === '' ? `/openapi/v3/api/${version}` : `/openapi/v3/apis/${group}/${version}`;
}

/**
 * Reads the served schema of `ref` and says whether it has `path`. A group version the server does
 * not publish answers false; any other failure (no OpenAPI v3 on a very old server, a proxy that
 * refuses it) throws, for the caller to decide what an unknown answer means.
 */
export async function servedSchemaHasField(client: Pick<KubeClient, 'raw'>, ref: TypeRef, path: SchemaPath, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
  let text: string;
  try {
    text = await client.raw('GET', openApiPath(ref.apiVersion), { timeoutMs: options.timeoutMs ?? 15_000, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
  return schemaHasField(JSON.parse(text), ref, path);
}
