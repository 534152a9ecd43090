// Installs CRDs (and the few cluster-scoped companions shipped next to them) into a new cluster.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { KubeError, type KubeHttp } from './kube-http.ts';

const ManifestSchema = z
  .object({ apiVersion: z.string(), kind: z.string(), metadata: z.object({ name: z.string() }).loose() })
  .loose();
type Manifest = z.infer<typeof ManifestSchema>;

// Cluster-scoped kinds that CRD bundles ship (Gateway API adds admission policies in some releases).
const COLLECTIONS: Record<string, string> = {
  'apiextensions.k8s.io/v1/CustomResourceDefinition': '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings',
};

export function readManifests(file: string): Array<{ file: string; manifest: Manifest }> {
  const out: Array<{ file: string; manifest: Manifest }> = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const parsed = ManifestSchema.safeParse(value);
    if (!parsed.success) throw new Error(`${file}: not a Kubernetes object: ${z.prettifyError(parsed.error)}`);
    if (!COLLECTIONS[`${parsed.data.apiVersion}/${parsed.data.kind}`]) {
      throw new Error(`${file}: ${parsed.data.apiVersion} ${parsed.data.kind} is not a kind the harness installs`);
    }
    out.push({ file, manifest: parsed.data });
  }
  return out;
}

/** Create, or replace if it exists (a stale cluster's leftovers never exist: `up` starts empty). */
async function install(kube: KubeHttp, file: string, m: Manifest): Promise<void> {
  const collection = COLLECTIONS[`${m.apiVersion}/${m.kind}`]!;
  const res = await kube.request('POST', collection, m, { timeoutMs: 60_000 });
  if (res.status === 409) {
    const current = await kube.json<{ metadata: { resourceVersion: string } }>('GET', `${collection}/${m.metadata.name}`);
    const body = { ...m, metadata: { ...m.metadata, resourceVersion: current.metadata.resourceVersion } };
    await kube.json('PUT', `${collection}/${m.metadata.name}`, body, { timeoutMs: 60_000 });
  } else if (res.status < 200 || res.status > 299) {
    throw new Error(`${file}: ${new KubeError('POST', collection, res).message}`);
  }
}

interface CrdStatus {
  status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

/** Installs every manifest, then waits until each CRD is Established (its API is served). */
export async function installCrds(kube: KubeHttp, files: string[], timeoutMs: number): Promise<number> {
  const items = files.flatMap(readManifests);
  // Few at a time: CRDs are large and the apiserver compiles each schema.
  for (let i = 0; i < items.length; i += 4) {
    await Promise.all(items.slice(i, i + 4).map(({ file, manifest }) => install(kube, file, manifest)));
  }
  const crds = items.filter((x) => x.manifest.kind === 'CustomResourceDefinition').map((x) => x.manifest.metadata.name);
  const deadline = Date.now() + timeoutMs;
  for (const name of crds) {
    for (;;) {
      const crd = await kube.json<CrdStatus>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conds = crd.status?.conditions ?? [];
      if (conds.some((c) => c.type === 'Established' && c.status === 'True')) break;
      const bad = conds.find((c) => c.type === 'NamesAccepted' && c.status === 'False');
      if (bad) throw new Error(`CRD ${name}: names not accepted: ${bad.message ?? bad.reason ?? ''}`);
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await sleep(100);
    }
  }
  return crds.length;
}
