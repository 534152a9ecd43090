// The UnmuteDeployment API (unmute.sh/v1alpha1): one object describes a whole Unmute fleet.
// This zod schema is the only definition: the CRD YAML, the TypeScript types and the
// operator's parse of every object it reads all come from it.
import { z } from 'zod';
import { autoscaling } from './autoscaling.ts';
import {
  containerFields,
  dnsSubdomain,
  gpuRequest,
  imageFields,
  imageReference,
  modelCache,
  placementFields,
  portNumber,
  quantity,
  secretKeySelector,
  serviceUrl,
} from './common.ts';
import { monitoring } from './monitoring.ts';

export const GROUP = 'unmute.sh';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'UnmuteDeployment';
export const PLURAL = 'unmutedeployments';
export const SINGULAR = 'unmutedeployment';
export const SHORT_NAMES = ['umd'];
export const CATEGORIES = ['unmute'];
/** Child object names are `<name>-<component>`; 40 leaves room under the 63-character Service name limit. */
export const MAX_NAME_LENGTH = 40;
/** Services need DNS-1035 labels: the fleet name starts every child's name, so it must be one too. */
export const NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

const backend = z
  .object({
    ...imageFields,
    replicas: z
      .int()
      .min(0)
      .max(1000)
      .default(1)
      .describe('Backend replicas when autoscaling is off (`kubectl scale` sets this).'),
    maxSessionsPerPod: z
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe('Sessions one backend process runs at once (Unmute: 4); more wait un-accepted.'),
    routing: z
      .object({
        loadAware: z
          .boolean()
          .default(true)
          .describe('Take a backend out of rotation while it holds acceptUntil sessions, so a new caller lands on one with a free slot instead of waiting; it keeps its conversations and comes back when one ends.'),
        acceptUntil: z
          .int()
          .min(1)
          .max(64)
          .optional()
          .describe('Sessions at which a backend stops receiving new connections; default backend.maxSessionsPerPod. Lower it to leave slack for callers already on their way.'),
      })
      .prefault({})
      .describe('How new callers are spread over the backends.'),
    port: portNumber.default(80).describe('Container port of the backend (Unmute image: 80).'),
    ...containerFields,
    ...placementFields,
    drainGracePeriodSeconds: z
      .int()
      .min(30)
      .max(86400)
      .default(3600)
      .describe('Grace period of a backend pod evicted by something else than the autoscaler (node drain): its preStop hook waits this long at most for its sessions to end.'),
  })
  .describe('The Unmute backend (websocket server, no GPU).');

const gpuTierFields = (defaultSlots: number, what: string) => ({
  ...imageFields,
  replicas: z.int().min(0).max(1000).default(1).describe(`${what} replicas when autoscaling does not drive them.`),
  slotsPerReplica: z
    .int()
    .min(1)
    .max(4096)
    .default(defaultSlots)
    .describe(`Concurrent streams one ${what} server accepts (its batch_size).`),
  port: portNumber.default(8080).describe(`Port the ${what} server listens on (moshi-server configs: 8080).`),
  gpu: gpuRequest.prefault({}),
  hfTokenSecretRef: secretKeySelector.optional().describe('Hugging Face token, given to the server as HUGGING_FACE_HUB_TOKEN.'),
  modelCache: modelCache.prefault({}),
  configPath: z.string().max(1024).optional().describe('moshi-server config file inside the image.'),
  startupTimeoutSeconds: z
    .int()
    .min(60)
    .max(7200)
    .default(900)
    .describe('How long the server may take to download and load its model before it counts as failed.'),
  startupSeconds: z
    .int()
    .min(1)
    .max(7200)
    .optional()
    .describe('How long a new pod takes to serve, for the autoscaler\'s headroom; measured from the pods\' own start-up when unset (120 s before any pod started).'),
  drainGracePeriodSeconds: z
    .int()
    .min(30)
    .max(86400)
    .default(3600)
    .describe('Grace period of a pod stopped by something else than the autoscaler (rollout, node drain): its preStop hook waits this long at most for its streams to end.'),
  ...containerFields,
  ...placementFields,
});

const stt = z.object(gpuTierFields(64, 'STT')).describe('Speech-to-text (moshi-server).');
const tts = z.object(gpuTierFields(16, 'TTS')).describe('Text-to-speech (moshi-server).');

const llmInCluster = z
  .object({
    ...imageFields,
    model: z.string().min(1).max(512).describe('Model served by vLLM, e.g. google/gemma-3-12b-it.'),
    args: z.array(z.string().max(4096)).max(64).optional().describe('Extra vLLM arguments.'),
    replicas: z.int().min(0).max(1000).default(1).describe('vLLM replicas when autoscaling does not drive them.'),
    port: portNumber.default(8000).describe('Port vLLM listens on.'),
    sessionsPerReplica: z
      .int()
      .min(1)
      .max(10000)
      .default(64)
      .describe('Conversations one replica serves well; autoscaling keeps sessions / this many replicas.'),
    gpu: gpuRequest.prefault({}),
    hfTokenSecretRef: secretKeySelector.optional(),
    apiKeySecretRef: secretKeySelector.optional().describe('Key the server requires (vLLM --api-key); given to the backend too.'),
    modelCache: modelCache.prefault({}),
    startupTimeoutSeconds: z
      .int()
      .min(60)
      .max(7200)
      .default(1200)
      .describe('How long vLLM may take to download and load the model before it counts as failed.'),
    startupSeconds: z
      .int()
      .min(1)
      .max(7200)
      .optional()
      .describe('How long a new pod takes to serve, for the autoscaler\'s headroom; measured from the pods\' own start-up when unset (120 s before any pod started).'),
    drainGracePeriodSeconds: z
      .int()
      .min(30)
      .max(86400)
      .default(3600)
      .describe('Grace period of a pod stopped by something else than the autoscaler (rollout, node drain): its preStop hook waits this long at most for its requests to end.'),
    ...containerFields,
    ...placementFields,
  })
  .describe('vLLM run by the operator.');

const llmExternal = z
  .object({
    url: serviceUrl(['http', 'https'], 'llm.external.url', 'use apiKeySecretRef').describe('OpenAI-compatible base URL without /v1, e.g. https://api.example.com.'),
    model: z.string().max(512).optional().describe('Model name; Unmute picks the only one listed when unset.'),
    apiKeySecretRef: secretKeySelector.optional().describe('Bearer key, given to the backend as KYUTAI_LLM_API_KEY.'),
  })
  .describe('An OpenAI-compatible LLM outside the cluster.');

const llm = z
  .object({ inCluster: llmInCluster.optional(), external: llmExternal.optional() })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: 'has(self.inCluster) != has(self.external)',
        message: 'llm needs exactly one of inCluster or external',
        reason: 'FieldValueInvalid',
      },
    ],
  })
  .describe('The language model: in-cluster vLLM or an external URL.');

const voiceCloning = z
  .object({ ...gpuTierFields(1, 'voice cloning'), enabled: z.boolean().default(true).describe('Run the voice cloning server (set false to keep the block but not run it).') })
  .describe('Optional voice cloning server (moshi-server).');

const frontend = z
  .object({
    ...imageFields,
    replicas: z.int().min(0).max(1000).default(1).describe('Frontend replicas.'),
    port: portNumber.default(3000).describe('Port of the Next.js server (Unmute image: 3000).'),
    ...containerFields,
    ...placementFields,
  })
  .describe('Optional Next.js frontend.');

const redis = z
  .object({
    inCluster: z
      .object({
        image: imageReference.default('redis:7.4-alpine').describe('Redis image.'),
        resources: containerFields.resources,
        ...placementFields,
      })
      .optional()
      .describe('A single Redis pod run by the operator (a cache: losing it loses custom voices only).'),
    external: z
      .object({
        url: serviceUrl(['redis', 'rediss'], 'redis.external.url', 'use passwordSecretRef').describe('redis:// or rediss:// host, port and database, e.g. rediss://cache.example.com:6380/0.'),
        passwordSecretRef: secretKeySelector.optional().describe('Password of the Redis server; the backend gets it inside KYUTAI_REDIS_URL without it ever appearing in the Deployment.'),
      })
      .optional()
      .describe('A Redis run elsewhere.'),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.inCluster) != has(self.external)', message: 'redis needs exactly one of inCluster or external' },
    ],
  })
  .describe('Voice embedding cache, needed with several backends and custom voices.');

const gatewayExposure = z.object({
  parentRefs: z
    .array(
      z.object({
        name: dnsSubdomain.describe('Name of the Gateway.'),
        namespace: dnsSubdomain.optional().describe('Namespace of the Gateway; the UnmuteDeployment namespace when unset.'),
        sectionName: z.string().max(253).optional().describe('Listener of the Gateway to attach to; all listeners when unset.'),
      }),
    )
    .min(1)
    .max(16)
    .describe('Gateways the HTTPRoute attaches to.'),
  hostnames: z.array(z.string().max(253)).max(16).optional().describe('Host names the route answers; those of the listener when unset.'),
});

const ingressExposure = z.object({
  className: z.string().max(253).optional().describe('IngressClass; the cluster default class when unset.'),
  annotations: z
    .record(z.string(), z.string())
    .optional()
    .describe('Added to the operator\'s defaults (ingress-nginx proxy-read-timeout and proxy-send-timeout "3600"); a key set here wins. E.g. the controller-specific prefix rewrite.'),
  hosts: z.array(z.string().max(253)).min(1).max(16).describe('Host names the Ingress answers.'),
  tlsSecretName: dnsSubdomain.optional().describe('Secret with the TLS certificate for the hosts; plain HTTP when unset.'),
});

const exposure = z
  .object({
    gateway: gatewayExposure
      .optional()
      .describe('Gateway API: an HTTPRoute attached to your Gateway(s). Its /api rule gets timeouts.request "0s" (no request timeout) when the installed HTTPRoute has the field (Gateway API v1.2+).'),
    ingress: ingressExposure.optional().describe('An Ingress for your ingress controller.'),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: '!(has(self.gateway) && has(self.ingress))', message: 'exposure takes gateway or ingress, not both' },
    ],
  })
  .describe('How users reach the fleet: /api/... goes to the backend (prefix stripped), the rest to the frontend.');

const networkPolicyPeer = z.looseObject({}).describe('A core NetworkPolicyPeer (podSelector, namespaceSelector, ipBlock), passed through unchanged.');

/** kube-prometheus-stack's Prometheus pods, in any namespace: the default scraper allowed in. */
export const DEFAULT_MONITORING_PEERS = [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }];

const networkPolicy = z
  .object({
    enabled: z.boolean().default(true).describe('Render a NetworkPolicy per component (it only takes effect where the cluster\'s network plugin enforces NetworkPolicies).'),
    clients: z
      .array(networkPolicyPeer)
      .max(16)
      .optional()
      .describe('Who may open conversations (backend) and load the frontend. Unset: anyone, as a gateway in another namespace needs; name your gateway here to shut the rest out.'),
    monitoring: z
      .array(networkPolicyPeer)
      .max(16)
      .default(DEFAULT_MONITORING_PEERS)
      .describe('Who may scrape the components\' metrics ports (default: pods labelled app.kubernetes.io/name=prometheus in any namespace).'),
  })
  .prefault({})
  .describe('Ingress rules per component: the backend reaches STT, TTS, the LLM, voice cloning and Redis; the operator and the monitoring peers reach the metrics ports; only clients reach the backend and frontend.');

const gpuDefaults = z
  .object({
    resource: z.string().min(1).max(253).default('nvidia.com/gpu').describe('Extended resource GPU pods ask for.'),
    product: z.string().max(63).optional().describe('Default GPU model (nvidia.com/gpu.product node label).'),
    maxTotal: z.int().min(0).max(100000).optional().describe('Most GPUs the whole fleet may request; no scale-up goes beyond.'),
    tolerationKey: z.string().max(316).default('nvidia.com/gpu').describe('Taint key tolerated by GPU pods.'),
  })
  .describe('Fleet-wide GPU defaults and budget.');

const AUTOSCALED = (v: string) => `has(${v}.autoscaling) && has(${v}.autoscaling.enabled) && ${v}.autoscaling.enabled`;
const REPLICAS = (v: string) => `(has(${v}.backend.replicas) ? ${v}.backend.replicas : 1)`;

export const unmuteDeploymentSpec = z
  .object({
    backend,
    stt,
    tts,
    llm,
    voiceCloning: voiceCloning.optional(),
    frontend: frontend.optional(),
    redis: redis.optional(),
    exposure: exposure.optional(),
    networkPolicy,
    gpu: gpuDefaults.prefault({}),
    autoscaling: autoscaling.prefault({}),
    monitoring,
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '!has(self.autoscaling) || !has(self.autoscaling.enabled) || !self.autoscaling.enabled || !has(self.autoscaling.targetSessionsPerPod) || !has(self.backend.maxSessionsPerPod) || self.autoscaling.targetSessionsPerPod <= self.backend.maxSessionsPerPod',
        message: 'autoscaling.targetSessionsPerPod must not exceed backend.maxSessionsPerPod',
      },
      {
        rule: '!has(self.backend.routing) || !has(self.backend.routing.acceptUntil) || self.backend.routing.acceptUntil <= (has(self.backend.maxSessionsPerPod) ? self.backend.maxSessionsPerPod : 4)',
        message: 'backend.routing.acceptUntil must not exceed backend.maxSessionsPerPod',
      },
      {
        // `kubectl scale` writes backend.replicas; with autoscaling on the autoscaler owns the count,
        // so a change would be silently ignored: refuse it and say what to change instead.
        rule: `${AUTOSCALED('oldSelf')} && ${AUTOSCALED('self')} ? ${REPLICAS('self')} == ${REPLICAS('oldSelf')} : true`,
        message:
          'backend.replicas cannot change while autoscaling is enabled (kubectl scale is refused): the autoscaler sets the backend count between autoscaling.minReplicas and autoscaling.maxReplicas; change those, or disable autoscaling first',
        reason: 'FieldValueForbidden',
      },
    ],
  });

const conditionSchema = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.int().min(0).optional(),
  lastTransitionTime: z.string(),
  reason: z.string().min(1).max(1024),
  message: z.string().max(32768),
});

const componentStatus = z.object({
  desiredReplicas: z.int().min(0).default(0),
  readyReplicas: z.int().min(0).default(0),
  updatedReplicas: z.int().min(0).optional(),
  endpoints: z.int().min(0).optional().describe('Ready addresses behind the component Service.'),
  gpusRequested: z.int().min(0).optional(),
  outdatedPods: z.int().min(0).optional().describe('During a rollout: pods of the previous pod template still finishing their work.'),
  outdatedLoad: z.int().min(0).optional().describe('During a rollout: sessions, streams or requests still on the outdated pods.'),
});

export const unmuteDeploymentStatus = z.object({
  observedGeneration: z.int().min(0).optional(),
  conditions: z
    .array(conditionSchema)
    .max(16)
    .optional()
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] }),
  replicas: z.int().min(0).optional().describe('Backend pods (scale subresource).'),
  selector: z.string().optional().describe('Backend pod selector (scale subresource).'),
  readyReplicas: z.int().min(0).optional().describe('Ready backend pods.'),
  desiredReplicas: z.int().min(0).optional().describe('Backend replicas the operator aims for.'),
  components: z.record(z.string(), componentStatus).optional().describe('Per component: backend, stt, tts, llm, ...'),
  sessions: z
    .object({
      active: z.int().min(0).optional().describe('Running plus waiting sessions across backends.'),
      capacity: z.int().min(0).optional().describe('Serving backends times maxSessionsPerPod.'),
      unknownPods: z.int().min(0).optional().describe('Backends whose session count could not be read.'),
      free: z
        .int()
        .min(0)
        .optional()
        .describe('Free session slots on backends in rotation: new callers start at once while this is above 0 (a gateway or frontend can refuse early when it is 0).'),
    })
    .optional(),
  drainingPods: z.array(z.string()).max(1000).optional().describe('Backends taken out of service, waiting for sessions to end.'),
  dashboards: z
    .array(z.object({ title: z.string().max(253), path: z.string().max(1024).describe('Grafana path with the namespace and fleet variables filled in; prefix your Grafana URL.') }))
    .max(32)
    .optional()
    .describe("The fleet's Grafana dashboards."),
  gpus: z.object({ requested: z.int().min(0).optional(), budget: z.int().min(0).optional() }).optional(),
  lastScaleTime: z.string().optional(),
  lastScaleReason: z.string().max(1024).optional(),
});

export type UnmuteDeploymentSpec = z.output<typeof unmuteDeploymentSpec>;
export type UnmuteDeploymentSpecInput = z.input<typeof unmuteDeploymentSpec>;
export type UnmuteDeploymentStatus = z.output<typeof unmuteDeploymentStatus>;
export type Condition = z.output<typeof conditionSchema>;

const objectMeta = z.looseObject({
  name: z
    .string()
    .max(MAX_NAME_LENGTH)
    .regex(new RegExp(NAME_PATTERN), 'must be a DNS-1035 label (lowercase letters, digits and -, starting with a letter): it names the fleet\'s Services'),
  namespace: z.string(),
  uid: z.string().optional(),
  generation: z.int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  deletionTimestamp: z.unknown().optional(),
});

/** The parse the operator applies to every UnmuteDeployment it reads: defaults filled in. */
export const unmuteDeployment = z.looseObject({
  apiVersion: z.literal(API_VERSION).optional(),
  kind: z.literal(KIND).optional(),
  metadata: objectMeta,
  spec: unmuteDeploymentSpec,
  status: unmuteDeploymentStatus.optional(),
});

export type UnmuteDeployment = z.output<typeof unmuteDeployment>;
export type UnmuteDeploymentInput = z.input<typeof unmuteDeployment>;
export { quantity };
