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

const envFromSource = z.looseObject({}).describe('As in a core EnvFromSource (configMapRef or secretRef).');

export const toleration = z.object({
  key: z.string().max(316).optional().describe('Taint key to tolerate; empty with operator Exists tolerates every taint.'),
  operator: z.enum(['Exists', 'Equal']).optional().describe('Equal (default) matches key and value; Exists matches the key alone.'),
  value: z.string().max(63).optional().describe('Taint value, with operator Equal.'),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional().describe('Taint effect to tolerate; empty tolerates every effect.'),
  tolerationSeconds: z.int().optional().describe('With NoExecute: how long the pod stays after the taint appears.'),
});

/**
 * Pod label keys the operator sets and selects on; a user value would move a pod into or out of a
 * Service, a selector or a fleet. Anything under unmute.sh/ is the operator's too.
 */
export const RESERVED_POD_LABELS = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/component',
  'app.kubernetes.io/managed-by',
  'app.kubernetes.io/part-of',
] as const;
/** Pod annotation keys that decide which pod goes first, or whether a node autoscaler may move it. */
export const RESERVED_POD_ANNOTATIONS = [
  'controller.kubernetes.io/pod-deletion-cost',
  'cluster-autoscaler.kubernetes.io/safe-to-evict',
  'karpenter.sh/do-not-disrupt',
] as const;
export const OPERATOR_KEY_PREFIX = 'unmute.sh/';

/**
 * A map of pod labels or annotations the user may add, refusing the keys the operator owns. One CEL
 * rule per key (a map lookup): cheap for the API server's cost estimate, and the answer names the key.
 */
function podMetadataMap(what: 'podLabels' | 'podAnnotations', reserved: readonly string[], description: string) {
  const taken = (k: string) => k.startsWith(OPERATOR_KEY_PREFIX) || reserved.includes(k);
  return z
    .record(z.string(), z.string())
    .refine((m) => Object.keys(m).every((k) => !taken(k)), {
      error: (issue) => {
        const keys = Object.keys(issue.input as Record<string, string>).filter(taken);
        return `${what} may not set ${keys.join(', ')}: the operator sets ${keys.length > 1 ? 'them' : 'it'}`;
      },
    })
    .optional()
    .meta({
      maxProperties: 64,
      'x-kubernetes-validations': [
        {
          rule: `!self.exists(k, k.startsWith('${OPERATOR_KEY_PREFIX}'))`,
          message: `${what} may not set keys under ${OPERATOR_KEY_PREFIX}: the operator sets them`,
          reason: 'FieldValueForbidden',
        },
        ...reserved.map((k) => ({ rule: `!('${k}' in self)`, message: `${what} may not set ${k}: the operator sets it`, reason: 'FieldValueForbidden' })),
      ],
    })
    .describe(description);
}

/** Where a component's pods run and what they carry. Same shape on every component. */
export const placementFields = {
  nodeSelector: z.record(z.string(), z.string()).optional().describe('Extra node labels the pods must match.'),
  tolerations: z.array(toleration).max(32).optional().describe('Extra tolerations (GPU pods get the GPU toleration automatically).'),
  affinity: z.looseObject({}).optional().describe('A core Affinity, passed through unchanged.'),
  priorityClassName: z.string().max(253).optional().describe('PriorityClass of the pods.'),
  podLabels: podMetadataMap('podLabels', RESERVED_POD_LABELS, 'Labels added to every pod of the component (not the operator\'s own keys: unmute.sh/*, app.kubernetes.io/*).'),
  podAnnotations: podMetadataMap(
    'podAnnotations',
    RESERVED_POD_ANNOTATIONS,
    'Annotations added to every pod of the component (not unmute.sh/*, pod-deletion-cost, safe-to-evict or do-not-disrupt: they decide which pod a scale-down or a node autoscaler removes).',
  ),
  serviceAccountName: dnsSubdomain.optional().describe('ServiceAccount for the pods; the namespace default when unset.'),
  imagePullSecrets: z
    .array(z.object({ name: dnsSubdomain.describe('Name of a docker-registry Secret in the same namespace.') }))
    .max(16)
    .optional()
    .describe('Secrets with credentials for the image registry.'),
};

/**
 * A container image reference as the distribution spec defines it: [registry[:port]/]path[:tag][@digest].
 * RE2, so the API server checks it at apply.
 */
export const IMAGE_REFERENCE_PATTERN =
  '^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(:[0-9]+)?/)?[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,})?$';

const IMAGE_MESSAGE = 'must be an image reference such as registry.example.com/unmute/backend:1.4.0: no spaces, a lowercase repository path, an optional :tag and @digest';

// A CEL rule rather than a schema pattern, so the API server's answer says what is valid.
export const imageReference = z
  .string()
  .min(1)
  .max(512)
  .refine((v) => new RegExp(IMAGE_REFERENCE_PATTERN).test(v), IMAGE_MESSAGE)
  .meta({ 'x-kubernetes-validations': [{ rule: `self.matches('${IMAGE_REFERENCE_PATTERN.replaceAll('\\', '\\\\')}')`, message: `image ${IMAGE_MESSAGE}` }] });

export const imageFields = {
  image: imageReference.describe('Container image reference (Unmute ships no public images: build your own).'),
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

/**
 * A URL with one of `schemes` and no credentials in it (they would be copied in plain text into a
 * Deployment's environment: Secret references carry keys). Checked at apply by CEL, with messages
 * that say what is valid.
 */
export function serviceUrl(schemes: readonly string[], what: string, secretHint: string) {
  const schemePattern = `^(${schemes.join('|')})://[^/?#]+`;
  const list = schemes.map((s) => `${s}://`).join(' or ');
  const shape = `${what} must start with ${list} followed by a host`;
  return z
    .string()
    .max(2048)
    .refine((u) => new RegExp(schemePattern).test(u), shape)
    .refine((u) => !/^[a-z]+:\/\/[^/?#]*@/.test(u), `${what} must not carry credentials: ${secretHint}`)
    .meta({
      'x-kubernetes-validations': [
        { rule: `self.matches('${schemePattern}')`, message: shape },
        { rule: `!self.matches('^[a-z]+://[^/?#]*@')`, message: `${what} must not carry credentials: ${secretHint}` },
      ],
    });
}
export { dnsLabel, dnsSubdomain };
