// Pieces of pod templates shared by every component: placement, GPU wiring, env, security.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { z } from 'zod';
import type { envVar, gpuRequest, modelCache, placementFields, secretKeySelector, toleration } from '../api/v1alpha1/common.ts';

type Placement = { [K in keyof typeof placementFields]?: z.output<(typeof placementFields)[K]> };
type Toleration = z.output<typeof toleration>;
type EnvVar = z.output<typeof envVar>;
export type GpuRequest = z.output<typeof gpuRequest>;
type ModelCache = z.output<typeof modelCache>;
type SecretKeySelector = z.output<typeof secretKeySelector>;

export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

/** GPU resource, node selector and toleration for a pod asking for `gpu`; empty when it asks for none. */
export function gpuPlacement(cr: UnmuteDeployment, gpu: GpuRequest | undefined) {
  if (gpu === undefined || gpu.count === 0) return { limits: {}, nodeSelector: {}, tolerations: [] as Toleration[] };
  const fleet = cr.spec.gpu;
  const resource = gpu.resource ?? fleet.resource;
  const product = gpu.product ?? fleet.product;
  return {
    limits: { [resource]: gpu.count } as Record<string, number | string>,
    nodeSelector: product === undefined ? {} : { [GPU_PRODUCT_LABEL]: product },
    tolerations: [{ key: fleet.tolerationKey, operator: 'Exists', effect: 'NoSchedule' }] as Toleration[],
  };
}

export function gpuCount(gpu: GpuRequest | undefined): number {
  return gpu === undefined ? 0 : gpu.count;
}

/** Pod-spec fields coming from a component's placement block, merged with the GPU placement. */
export function podPlacement(placement: Placement, gpu: ReturnType<typeof gpuPlacement>) {
  const nodeSelector = { ...gpu.nodeSelector, ...placement.nodeSelector };
  const tolerations = [...gpu.tolerations, ...(placement.tolerations ?? [])];
  return omitEmpty({
    nodeSelector: Object.keys(nodeSelector).length > 0 ? nodeSelector : undefined,
    tolerations: tolerations.length > 0 ? tolerations : undefined,
    affinity: placement.affinity,
    priorityClassName: placement.priorityClassName,
    serviceAccountName: placement.serviceAccountName,
    imagePullSecrets: placement.imagePullSecrets,
  });
}

export function secretEnv(name: string, ref: SecretKeySelector | undefined): EnvVar[] {
  if (ref === undefined) return [];
  return [{ name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } }];
}

/** Operator-set variables first; user variables of the same name replace them. */
export function mergeEnv(operatorEnv: EnvVar[], userEnv: EnvVar[] | undefined): EnvVar[] {
  const user = userEnv ?? [];
  const overridden = new Set(user.map((e) => e.name));
  return [...operatorEnv.filter((e) => !overridden.has(e.name)), ...user];
}

export function cacheVolume(cache: ModelCache) {
  const volume = cache.persistentVolumeClaim
    ? { name: 'model-cache', persistentVolumeClaim: { claimName: cache.persistentVolumeClaim.claimName } }
    : { name: 'model-cache', emptyDir: cache.emptyDir?.sizeLimit === undefined ? {} : { sizeLimit: cache.emptyDir.sizeLimit } };
  return { volume, mount: { name: 'model-cache', mountPath: cache.mountPath } };
}

/** Restrictive defaults: the images are third-party, so root cannot be ruled out, but nothing more is granted. */
export function containerSecurityContext(extraCapabilities: string[] = []) {
  return {
    allowPrivilegeEscalation: false,
    capabilities: extraCapabilities.length > 0 ? { drop: ['ALL'], add: extraCapabilities } : { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function mergeResources(
  base: { requests?: Record<string, number | string>; limits?: Record<string, number | string> } | undefined,
  gpuLimits: Record<string, number | string>,
) {
  const requests = { ...base?.requests };
  const limits = { ...base?.limits, ...gpuLimits };
  return omitEmpty({
    requests: Object.keys(requests).length > 0 ? requests : undefined,
    limits: Object.keys(limits).length > 0 ? limits : undefined,
  });
}

/** Drops undefined values so apply bodies carry only fields the operator means to own. */
export function omitEmpty<T extends Record<string, unknown>>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
