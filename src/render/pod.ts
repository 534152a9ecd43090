// Pieces of pod templates shared by every component: placement, GPU wiring, env, resources, security.
import type { z } from 'zod';
import type { IAffinity } from 'kubernetes-models/v1/Affinity';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IToleration } from 'kubernetes-models/v1/Toleration';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import type { envVar, modelCache, placementFields, resourceRequirements, secretKeySelector } from '../api/v1alpha1/common.ts';
import type { GpuNeed } from '../api/v1alpha1/components.ts';

type Placement = { [K in keyof typeof placementFields]?: z.output<(typeof placementFields)[K]> };
type UserEnvVar = z.output<typeof envVar>;
type ModelCache = z.output<typeof modelCache>;
type SecretKeySelector = z.output<typeof secretKeySelector>;
type Resources = z.output<typeof resourceRequirements>;

export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

/** Node selector, tolerations and the rest of a component's placement block, plus its GPU placement. */
export function podPlacement(placement: Placement, gpu: GpuNeed | undefined): Partial<IPodSpec> {
  const nodeSelector = { ...(gpu?.product === undefined ? {} : { [GPU_PRODUCT_LABEL]: gpu.product }), ...placement.nodeSelector };
  const gpuToleration: IToleration[] = gpu === undefined ? [] : [{ key: gpu.tolerationKey, operator: 'Exists', effect: 'NoSchedule' }];
  const tolerations = [...gpuToleration, ...(placement.tolerations ?? [])];
  return omitUndefined({
    nodeSelector: Object.keys(nodeSelector).length > 0 ? nodeSelector : undefined,
    tolerations: tolerations.length > 0 ? tolerations : undefined,
    // A free-form core Affinity, validated by the API server.
    affinity: placement.affinity as IAffinity | undefined,
    priorityClassName: placement.priorityClassName,
    serviceAccountName: placement.serviceAccountName,
    imagePullSecrets: placement.imagePullSecrets,
  });
}

export function secretEnv(name: string, ref: SecretKeySelector | undefined): IEnvVar[] {
  if (ref === undefined) return [];
  return [{ name, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } }];
}

/** Operator-set variables first; user variables of the same name replace them. */
export function mergeEnv(operatorEnv: IEnvVar[], userEnv: UserEnvVar[] | undefined): IEnvVar[] {
  const user = (userEnv ?? []) as IEnvVar[];
  const overridden = new Set(user.map((e) => e.name));
  return [...operatorEnv.filter((e) => !overridden.has(e.name)), ...user];
}

export function cacheVolume(cache: ModelCache): { volume: IVolume; mount: IVolumeMount } {
  const volume: IVolume = cache.persistentVolumeClaim
    ? { name: 'model-cache', persistentVolumeClaim: { claimName: cache.persistentVolumeClaim.claimName } }
    : { name: 'model-cache', emptyDir: cache.emptyDir?.sizeLimit === undefined ? {} : { sizeLimit: cache.emptyDir.sizeLimit } };
  return { volume, mount: { name: 'model-cache', mountPath: cache.mountPath } };
}

/** Restrictive defaults: the images are third-party, so root cannot be ruled out, but nothing more is granted. */
export function containerSecurityContext(extraCapabilities: string[] = []): ISecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: extraCapabilities.length > 0 ? { drop: ['ALL'], add: extraCapabilities } : { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The user's resources (or the component default), with the GPU limit on top. */
export function resources(user: Resources | undefined, defaults: Resources | undefined, gpu: GpuNeed | undefined): IResourceRequirements {
  const base = user ?? defaults;
  const requests = { ...base?.requests };
  const limits = { ...base?.limits, ...(gpu === undefined ? {} : { [gpu.resource]: gpu.count }) };
  return omitUndefined({
    requests: Object.keys(requests).length > 0 ? requests : undefined,
    limits: Object.keys(limits).length > 0 ? limits : undefined,
  });
}

/** Drops undefined values so apply bodies carry only fields the operator means to own. */
export function omitUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
