// Checks that pass the CRD schema but would still produce a fleet that cannot work. Any problem
// here stops the reconcile before anything is written: Ready=False, reason InvalidSpec.
import type { z } from 'zod';
import { unmuteDeployment, type UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { secretKeySelector } from '../api/v1alpha1/common.ts';
import { gpuCount } from '../render/pod.ts';

type SecretRef = z.output<typeof secretKeySelector>;

export type SecretLookup = (namespace: string, name: string) => Promise<{ keys: string[] } | undefined>;

export type ParseResult = { ok: true; cr: UnmuteDeployment } | { ok: false; problems: string[] };

/** Parses a raw object read from the API server; defaults are filled in by the schema. */
export function parseUnmuteDeployment(raw: unknown): ParseResult {
  const parsed = unmuteDeployment.safeParse(raw);
  if (parsed.success) return { ok: true, cr: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'object'}: ${i.message}`) };
}

/** Every Secret key the CR refers to, with the field that refers to it. */
export function secretRefs(cr: UnmuteDeployment): { field: string; ref: SecretRef }[] {
  const { spec } = cr;
  const out: { field: string; ref: SecretRef | undefined }[] = [
    { field: 'spec.stt.hfTokenSecretRef', ref: spec.stt.hfTokenSecretRef },
    { field: 'spec.tts.hfTokenSecretRef', ref: spec.tts.hfTokenSecretRef },
    { field: 'spec.llm.inCluster.hfTokenSecretRef', ref: spec.llm.inCluster?.hfTokenSecretRef },
    { field: 'spec.llm.inCluster.apiKeySecretRef', ref: spec.llm.inCluster?.apiKeySecretRef },
    { field: 'spec.llm.external.apiKeySecretRef', ref: spec.llm.external?.apiKeySecretRef },
    { field: 'spec.voiceCloning.hfTokenSecretRef', ref: spec.voiceCloning?.enabled ? spec.voiceCloning.hfTokenSecretRef : undefined },
  ];
  return out.filter((r): r is { field: string; ref: SecretRef } => r.ref !== undefined);
}

/** GPUs the fleet holds at its smallest: what any GPU budget must at least allow. */
export function minimumGpus(cr: UnmuteDeployment): number {
  const { spec } = cr;
  const scaled = spec.autoscaling.enabled;
  const at = (replicas: number) => (scaled ? Math.min(replicas, 1) : replicas);
  let total = gpuCount(spec.stt.gpu) * at(spec.stt.replicas) + gpuCount(spec.tts.gpu) * at(spec.tts.replicas);
  if (spec.llm.inCluster) total += gpuCount(spec.llm.inCluster.gpu) * at(spec.llm.inCluster.replicas);
  if (spec.voiceCloning?.enabled) total += gpuCount(spec.voiceCloning.gpu) * spec.voiceCloning.replicas;
  return total;
}

/** Problems that need no API call. */
export function staticProblems(cr: UnmuteDeployment): string[] {
  const problems: string[] = [];
  const { spec } = cr;
  if (spec.llm.external && /\/v1\/?$/.test(spec.llm.external.url)) {
    problems.push('spec.llm.external.url must not end in /v1: Unmute adds /v1 itself');
  }
  const budget = spec.gpu.maxTotal;
  const needed = minimumGpus(cr);
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
export async function validateUnmuteDeployment(cr: UnmuteDeployment, lookupSecret: SecretLookup): Promise<string[]> {
  const problems = staticProblems(cr);
  const seen = new Map<string, { keys: string[] } | undefined>();
  for (const { field, ref } of secretRefs(cr)) {
    if (!seen.has(ref.name)) seen.set(ref.name, await lookupSecret(cr.metadata.namespace, ref.name));
    const secret = seen.get(ref.name);
    if (secret === undefined) problems.push(`${field}: Secret "${ref.name}" not found in namespace "${cr.metadata.namespace}"`);
    else if (!secret.keys.includes(ref.key)) problems.push(`${field}: Secret "${ref.name}" has no key "${ref.key}"`);
  }
  return problems;
}
