// Building blocks shared by every component of the UnmuteDeployment spec.
// Each schema is the single source for validation, TypeScript types and the generated CRD.
import { z } from 'zod';

/** A Kubernetes resource quantity: `2`, `500m`, `1Gi`. Integer or string, as in core types. */
export const quantity = z
  .union([z.int().min(0), z.string().regex(/^[+]?[0-9.]+([eE][-+]?[0-9]+|[numkMGTPE]i?)?$/)])
  .meta({ 'x-kubernetes-int-or-string': true });

export const resourceRequirements = z
  .object({
    requests: z.record(z.string(), quantity).optional().describe('Minimum resources, e.g. {cpu: 500m, memory: 1Gi}.'),
    limits: z.record(z.string(), quantity).optional().describe('Maximum resources.'),
  })
  .describe('CPU and memory for each container (GPUs are set through `gpu`, not here).');

const dnsLabel = z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
const dnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);

export const secretKeySelector = z
  .object({
    name: dnsSubdomain.describe('Name of a Secret in the UnmuteDeployment namespace.'),
    key: z.string().min(1).max(253).describe('Key inside the Secret.'),
  })
  .describe('A key of a Secret in the same namespace. The operator checks that it exists before creating anything.');

export const envVar = z.object({
  name: z.string().min(1).max(256).describe('Variable name.'),
  value: z.string().optional().describe('Literal value (or use valueFrom).'),
  valueFrom: z.looseObject({}).optional().describe('As in a core EnvVar (secretKeyRef, configMapKeyRef, fieldRef, ...).'),
});

export const envFromSource = z.looseObject({}).describe('As in a core EnvFromSource (configMapRef or secretRef).');

export const toleration = z.object({
  key: z.string().max(316).optional().describe('Taint key to tolerate; empty with operator Exists tolerates every taint.'),
  operator: z.enum(['Exists', 'Equal']).optional().describe('Equal (default) matches key and value; Exists matches the key alone.'),
  value: z.string().max(63).optional().describe('Taint value, with operator Equal.'),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional().describe('Taint effect to tolerate; empty tolerates every effect.'),
  tolerationSeconds: z.int().optional().describe('With NoExecute: how long the pod stays after the taint appears.'),
});

/** Where a component's pods run and what they carry. Same shape on every component. */
export const placementFields = {
  nodeSelector: z.record(z.string(), z.string()).optional().describe('Extra node labels the pods must match.'),
  tolerations: z.array(toleration).max(32).optional().describe('Extra tolerations (GPU pods get the GPU toleration automatically).'),
  affinity: z.looseObject({}).optional().describe('A core Affinity, passed through unchanged.'),
  priorityClassName: z.string().max(253).optional().describe('PriorityClass of the pods.'),
  podLabels: z.record(z.string(), z.string()).optional().describe('Labels added to every pod of the component.'),
  podAnnotations: z.record(z.string(), z.string()).optional().describe('Annotations added to every pod of the component.'),
  serviceAccountName: dnsSubdomain.optional().describe('ServiceAccount for the pods; the namespace default when unset.'),
  imagePullSecrets: z
    .array(z.object({ name: dnsSubdomain.describe('Name of a docker-registry Secret in the same namespace.') }))
    .max(16)
    .optional()
    .describe('Secrets with credentials for the image registry.'),
};

export const imageFields = {
  image: z.string().min(1).max(512).describe('Container image reference (Unmute ships no public images: build your own).'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional().describe('When the kubelet pulls the image (Kubernetes default: Always for :latest, else IfNotPresent).'),
};

export const containerFields = {
  resources: resourceRequirements.optional(),
  env: z.array(envVar).max(128).optional().describe('Extra environment variables.'),
  envFrom: z.array(envFromSource).max(16).optional().describe('Whole ConfigMaps or Secrets as environment variables.'),
};

export const gpuRequest = z
  .object({
    count: z.int().min(0).max(16).default(1).describe('GPUs per pod. 0 runs the component without a GPU.'),
    resource: z.string().max(253).optional().describe('Extended resource name; defaults to spec.gpu.resource.'),
    product: z
      .string()
      .max(63)
      .optional()
      .describe('GPU model, matched against the nvidia.com/gpu.product node label; defaults to spec.gpu.product.'),
  })
  .describe('GPUs per pod. GPU pods get a node selector for the product and the GPU toleration.');

export const modelCache = z
  .object({
    emptyDir: z
      .object({ sizeLimit: quantity.optional().describe('Largest size of the cache, e.g. 50Gi; unlimited when unset.') })
      .optional()
      .describe('Scratch cache that lives as long as the pod: weights are downloaded at every start.'),
    persistentVolumeClaim: z
      .object({ claimName: dnsSubdomain.describe('Name of the PersistentVolumeClaim in the same namespace.') })
      .optional()
      .describe('An existing PersistentVolumeClaim (ReadWriteMany when several replicas share it).'),
    mountPath: z.string().min(1).max(1024).default('/root/.cache/huggingface').describe('Where the cache is mounted.'),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: '!(has(self.emptyDir) && has(self.persistentVolumeClaim))', message: 'set emptyDir or persistentVolumeClaim, not both' },
    ],
  })
  .describe('Model weight cache. Without a persistent volume every new pod downloads the weights again (minutes).');

export const portNumber = z.int().min(1).max(65535);
export { dnsLabel, dnsSubdomain };
