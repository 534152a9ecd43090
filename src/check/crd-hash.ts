// A fingerprint of the UnmuteDeployment CRD's schema, so `check` can tell whether the installed
// CRD is the one this binary generates. Keys are sorted, so the API server's key order is irrelevant.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { VERSION, buildUnmuteDeploymentCrd } from './fleet-facts.ts';

const crdSchema = z.looseObject({
  spec: z.looseObject({
    versions: z.array(
      z.looseObject({
        name: z.string(),
        served: z.boolean().optional(),
        storage: z.boolean().optional(),
        schema: z.looseObject({ openAPIV3Schema: z.unknown() }).optional(),
      }),
    ),
  }),
});

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

export function schemaHash(openAPIV3Schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(canonical(openAPIV3Schema))).digest('hex').slice(0, 12);
}

/** The served version this binary speaks, as found in a CRD object (undefined when absent). */
export function crdVersionOf(crd: unknown): { served: boolean; storage: boolean; hash: string | undefined } | undefined {
  const parsed = crdSchema.safeParse(crd);
  if (!parsed.success) return undefined;
  const v = parsed.data.spec.versions.find((x) => x.name === VERSION);
  if (v === undefined) return undefined;
  const schema = v.schema?.openAPIV3Schema;
  return { served: v.served ?? false, storage: v.storage ?? false, hash: schema === undefined ? undefined : schemaHash(schema) };
}

export function binaryCrdSchemaHash(): string {
  return crdVersionOf(buildUnmuteDeploymentCrd())!.hash!;
}
