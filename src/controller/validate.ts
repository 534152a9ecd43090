// Checks that pass the CRD schema but would still produce a fleet that cannot work. Any problem
// here stops the reconcile before anything is written: Ready=False, reason InvalidSpec.
import type { z } from 'zod';
import type { secretKeySelector } from '../api/v1alpha1/common.ts';
import { fleetComponents, minimumGpus } from '../api/v1alpha1/components.ts';
import { unmuteDeployment, type UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';

type SecretRef = z.output<typeof secretKeySelector>;

export type SecretLookup = (namespace: string, name: string) => Promise<{ keys: string[] } | undefined>;

export type ParseResult = { ok: true; fleet: UnmuteDeployment } | { ok: false; problems: string[] };

/** Parses a raw object read from the API server; defaults are filled in by the schema. */
export function parseUnmuteDeployment(raw: unknown): ParseResult {
  const parsed = unmuteDeployment.safeParse(raw);
  if (parsed.success) return { ok: true, fleet: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'object'}: ${i.message}`) };
}

const SECRET_REF_FIELDS = ['hfTokenSecretRef', 'apiKeySecretRef'] as const;

/** Every Secret key the fleet refers to, with the field that refers to it. */
export function secretRefs(fleet: UnmuteDeployment): { field: string; ref: SecretRef }[] {
  const out: { field: string; ref: SecretRef }[] = [];
  for (const c of fleetComponents(fleet.spec)) {
    const settings = c.settings as Partial<Record<(typeof SECRET_REF_FIELDS)[number], SecretRef>>;
    for (const key of SECRET_REF_FIELDS) {
      const ref = settings[key];
      if (ref !== undefined) out.push({ field: `${c.field}.${key}`, ref });
    }
  }
  const external = fleet.spec.llm.external?.apiKeySecretRef;
  if (external !== undefined) out.push({ field: 'spec.llm.external.apiKeySecretRef', ref: external });
  const redis = fleet.spec.redis?.external?.passwordSecretRef;
  if (redis !== undefined) out.push({ field: 'spec.redis.external.passwordSecretRef', ref: redis });
  return out;
}

/** Problems that need no API call. */
export function staticProblems(fleet: UnmuteDeployment): string[] {
  const problems: string[] = [];
  const { spec } = fleet;
  if (spec.llm.external && /\/v1\/?$/.test(spec.llm.external.url)) {
    problems.push('spec.llm.external.url must not end in /v1: Unmute adds /v1 itself');
  }
  const budget = spec.gpu.maxTotal;
  const needed = minimumGpus(spec);
  if (budget !== undefined && needed > budget) {
    problems.push(`spec.gpu.maxTotal is ${budget} but the fleet needs ${needed} GPUs at its smallest`);
  }
  if (spec.exposure?.gateway && spec.exposure.ingress) problems.push('spec.exposure takes gateway or ingress, not both');
  if (spec.autoscaling.enabled && spec.autoscaling.targetSessionsPerPod > spec.backend.maxSessionsPerPod) {
    problems.push('spec.autoscaling.targetSessionsPerPod must not exceed spec.backend.maxSessionsPerPod');
  }
  if (spec.redis?.inCluster && spec.redis.external) problems.push('spec.redis takes inCluster or external, not both');
  if (spec.llm.inCluster?.gpu.count === 0) {
    problems.push('spec.llm.inCluster.gpu.count is 0: vLLM needs a GPU');
  }
  return problems;
}

/** All problems, including referenced Secrets that are missing or lack the key. */
export async function validateUnmuteDeployment(fleet: UnmuteDeployment, lookupSecret: SecretLookup): Promise<string[]> {
  const problems = staticProblems(fleet);
  const seen = new Map<string, { keys: string[] } | undefined>();
  for (const { field, ref } of secretRefs(fleet)) {
    if (!seen.has(ref.name)) seen.set(ref.name, await lookupSecret(fleet.metadata.namespace, ref.name));
    const secret = seen.get(ref.name);
    if (secret === undefined) problems.push(`${field}: Secret "${ref.name}" not found in namespace "${fleet.metadata.namespace}"`);
    else if (!secret.keys.includes(ref.key)) problems.push(`${field}: Secret "${ref.name}" has no key "${ref.key}"`);
  }
  return problems;
}
