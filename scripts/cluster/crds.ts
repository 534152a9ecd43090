// Installs CRDs (and the few cluster-scoped companions shipped next to them) into a cluster and
// waits until each CRD is Established. The harness loads every new cluster this way; tests that
// need a throwaway CRD use the same two steps.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';

const CRD = { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' } as const;

// Cluster-scoped kinds that CRD bundles ship (Gateway API adds admission policies in some releases).
const INSTALLABLE = new Set([
  `${CRD.apiVersion}/${CRD.kind}`,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding',
]);

const ManifestSchema = z
  .object({ apiVersion: z.string(), kind: z.string(), metadata: z.object({ name: z.string() }).loose() })
  .loose();

export function readManifests(file: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const parsed = ManifestSchema.safeParse(value);
    if (!parsed.success) throw new Error(`${file}: not a Kubernetes object: ${z.prettifyError(parsed.error)}`);
    if (!INSTALLABLE.has(`${parsed.data.apiVersion}/${parsed.data.kind}`)) {
      throw new Error(`${file}: ${parsed.data.apiVersion} ${parsed.data.kind} is not a kind the harness installs`);
    }
    out.push(parsed.data);
  }
  return out;
}

const FIELD_MANAGER = 'unmute-cluster-harness';
// CRDs are large and the apiserver compiles each schema: a write may take longer than the default deadline.
const WRITE_TIMEOUT_MS = 60_000;

// A CRD just created has `status.conditions: null` until its controllers have looked at it.
const CrdStatusSchema = z.looseObject({
  status: z
    .looseObject({
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() })).nullish(),
    })
    .nullish(),
});

/** Waits until every named CRD is Established (its API is served); fails at once if its names are refused. */
export async function waitForCrdsEstablished(client: KubeClient, names: string[], timeoutMs: number, pollMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const conds = CrdStatusSchema.parse(await client.get(CRD, name)).status?.conditions ?? [];
      if (conds.some((c) => c.type === 'Established' && c.status === 'True')) break;
      const bad = conds.find((c) => c.type === 'NamesAccepted' && c.status === 'False');
      if (bad) throw new Error(`CRD ${name}: names not accepted: ${bad.message ?? bad.reason ?? ''}`);
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await sleep(pollMs);
    }
  }
}

/** Server-side applies every object (created, or updated if it exists), then waits until each CRD is Established. */
export async function installObjects(client: KubeClient, objects: KubeObject[], timeoutMs: number): Promise<number> {
  // Few at a time, for the same reason as WRITE_TIMEOUT_MS.
  for (let i = 0; i < objects.length; i += 4) {
    await Promise.all(
      objects.slice(i, i + 4).map((o) =>
        client.apply(o, { fieldManager: FIELD_MANAGER, timeoutMs: WRITE_TIMEOUT_MS }).catch((err: unknown) => {
          throw new Error(`${o.kind} ${o.metadata.name}: ${(err as Error).message}`, { cause: err });
        }),
      ),
    );
  }
  const crds = objects.filter((o) => o.kind === CRD.kind).map((o) => o.metadata.name!);
  await waitForCrdsEstablished(client, crds, timeoutMs);
  return crds.length;
}

/** installObjects of every manifest in `files`; returns the CRD count. */
export function installCrds(client: KubeClient, files: string[], timeoutMs: number): Promise<number> {
  return installObjects(client, files.flatMap(readManifests), timeoutMs);
}
