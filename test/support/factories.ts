// Small factories for tests: a valid UnmuteDeployment with only the fields a test cares about.
import { unmuteDeployment, type UnmuteDeployment } from '../../src/api/v1alpha1/unmute-deployment.ts';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export function aRawUnmuteDeployment(spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) {
  const base: Record<string, unknown> = {
    backend: { image: 'example.com/unmute/backend:1' },
    stt: { image: 'example.com/unmute/moshi:1' },
    tts: { image: 'example.com/unmute/moshi:1' },
    llm: { external: { url: 'https://llm.example.com' } },
  };
  const merged = mergeDeep(base, spec);
  return {
    apiVersion: 'unmute.sh/v1alpha1',
    kind: 'UnmuteDeployment',
    metadata: { name: 'demo', namespace: 'default', uid: '11111111-2222-3333-4444-555555555555', generation: 1, ...metadata },
    spec: merged,
  };
}

/** A parsed CR (defaults filled in), e.g. anUnmuteDeployment({ backend: { replicas: 3 } }). */
export function anUnmuteDeployment(spec: DeepPartial<Record<string, unknown>> = {}, metadata: Record<string, unknown> = {}): UnmuteDeployment {
  return unmuteDeployment.parse(aRawUnmuteDeployment(spec as Record<string, unknown>, metadata));
}

function mergeDeep(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    if (v === undefined) delete out[k];
    else if (isPlain(prev) && isPlain(v)) out[k] = mergeDeep(prev, v);
    else out[k] = v;
  }
  return out;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
