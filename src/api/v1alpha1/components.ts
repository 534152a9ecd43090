// What each component of a fleet is, in one place: where it is configured, its port, its GPUs, its
// Service shape, its metrics and load signal, and whether the autoscaler drives it. Rendering,
// observation, validation, status, monitoring and the autoscaler all read this descriptor instead
// of branching on component names; only the container of each component (its command, env and
// probes) is written per component, in src/render/components/.
import type { UnmuteDeploymentSpec } from './unmute-deployment.ts';

export const COMPONENT_NAMES = ['backend', 'stt', 'tts', 'llm', 'voice-cloning', 'frontend', 'redis'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

type Spec = UnmuteDeploymentSpec;

/** The spec section of each component, as parsed (defaults filled in). */
export interface ComponentSettings {
  backend: Spec['backend'];
  stt: Spec['stt'];
  tts: Spec['tts'];
  llm: NonNullable<Spec['llm']['inCluster']>;
  'voice-cloning': NonNullable<Spec['voiceCloning']>;
  frontend: NonNullable<Spec['frontend']>;
  redis: NonNullable<NonNullable<Spec['redis']>['inCluster']>;
}

/** GPUs one pod asks for, with the fleet defaults applied. */
export interface GpuNeed {
  count: number;
  /** Extended resource name, e.g. nvidia.com/gpu. */
  resource: string;
  /** Node label value of nvidia.com/gpu.product the pods must match; undefined: any. */
  product: string | undefined;
  /** Taint key GPU pods tolerate. */
  tolerationKey: string;
}

/**
 * How many pods a component runs:
 * - `sessions`: the backend, sized by the session policy from live sessions;
 * - `follower`: a GPU tier whose replicas the autoscaler sizes with the backends' load;
 * - `fixed`: the spec's replicas.
 */
export type Scaling = 'sessions' | 'follower' | 'fixed';

/** The metric on a pod's own /metrics that counts the work it holds, and how much one pod can hold. */
export interface LoadSignal {
  metric: string;
  /** Added to `metric` when set (vLLM's waiting requests). */
  plusMetric?: string;
  /**
   * The metric's absence from /metrics means 0: moshi-server registers each metric on first use,
   * so a server that never held a stream answers an empty exposition.
   */
  absentIsZero?: boolean;
  slotsPerReplica: number;
}

export interface Component<N extends ComponentName = ComponentName> {
  name: N;
  /** Where it is configured, for messages: `spec.stt`. */
  field: string;
  settings: ComponentSettings[N];
  /** Replicas when nothing else decides (autoscaling off, or a fixed component). */
  replicas: number;
  /** Container port of its API (and of /metrics where it has one). */
  port: number;
  /** Name of that port in the container and the Service. */
  portName: string;
  gpu: GpuNeed | undefined;
  gpusPerReplica: number;
  /**
   * headless: DNS answers with every ready pod, so Unmute's backend keeps its own failover across
   * STT/TTS instances (the Swarm `tasks.stt` equivalent); a ClusterIP hides all but one address.
   * selectsServing: the Service selects only pods in rotation (drained pods get no new work).
   */
  service: { headless: boolean; selectsServing: boolean };
  /** Path of its Prometheus metrics; undefined when it exposes none. */
  metricsPath: string | undefined;
  load: LoadSignal | undefined;
  scaling: Scaling;
  /** Voluntary evictions take its pods one at a time (a PodDisruptionBudget). */
  disruptionBudget: boolean;
  /** Every conversation passes through it: the fleet cannot serve without one ready pod. */
  essential: boolean;
  /** Users reach it from outside the fleet (through the exposure); the rest only the fleet reaches. */
  publicEntry: boolean;
}

/** The component whose pods hold conversations (worker_active_sessions) and expose Unmute's worker_* metrics. */
export const SESSIONS_COMPONENT = 'backend' satisfies ComponentName;

const METRICS_PATH = '/metrics';

function gpuNeed(spec: Spec, gpu: { count: number; resource?: string | undefined; product?: string | undefined }): GpuNeed | undefined {
  if (gpu.count === 0) return undefined;
  return {
    count: gpu.count,
    resource: gpu.resource ?? spec.gpu.resource,
    product: gpu.product ?? spec.gpu.product,
    tolerationKey: spec.gpu.tolerationKey,
  };
}

function followerScaling(spec: Spec, follows: boolean): Scaling {
  return spec.autoscaling.enabled && follows ? 'follower' : 'fixed';
}

type Describe<N extends ComponentName> = (spec: Spec) => Component<N> | undefined;

function component<N extends ComponentName>(
  name: N,
  field: string,
  settings: ComponentSettings[N],
  rest: Omit<Component<N>, 'name' | 'field' | 'settings' | 'gpusPerReplica' | 'portName' | 'disruptionBudget' | 'essential' | 'publicEntry'> & {
    portName?: string;
    disruptionBudget?: boolean;
    essential?: boolean;
    publicEntry?: boolean;
  },
): Component<N> {
  return { name, field, settings, portName: 'http', disruptionBudget: false, essential: false, publicEntry: false, ...rest, gpusPerReplica: rest.gpu?.count ?? 0 };
}

/** One describer per component, in render order. Absent components describe as undefined. */
const DESCRIBERS: { [N in ComponentName]: Describe<N> } = {
  backend: (spec) =>
    component('backend', 'spec.backend', spec.backend, {
      replicas: spec.backend.replicas,
      port: spec.backend.port,
      gpu: undefined,
      service: { headless: false, selectsServing: true },
      metricsPath: METRICS_PATH,
      load: { metric: 'worker_active_sessions', slotsPerReplica: spec.backend.maxSessionsPerPod },
      scaling: spec.autoscaling.enabled ? 'sessions' : 'fixed',
      disruptionBudget: true,
      essential: true,
      publicEntry: true,
    }),
  stt: (spec) =>
    component('stt', 'spec.stt', spec.stt, {
      replicas: spec.stt.replicas,
      port: spec.stt.port,
      gpu: gpuNeed(spec, spec.stt.gpu),
      // Headless, and only pods in rotation: a drained pod leaves the DNS answer the backend resolves.
      service: { headless: true, selectsServing: true },
      metricsPath: METRICS_PATH,
      load: { metric: 'asr_open_channels', absentIsZero: true, slotsPerReplica: spec.stt.slotsPerReplica },
      disruptionBudget: true,
      scaling: followerScaling(spec, spec.autoscaling.followers.stt),
      essential: true,
    }),
  tts: (spec) =>
    component('tts', 'spec.tts', spec.tts, {
      replicas: spec.tts.replicas,
      port: spec.tts.port,
      gpu: gpuNeed(spec, spec.tts.gpu),
      // Headless, and only pods in rotation: a drained pod leaves the DNS answer the backend resolves.
      service: { headless: true, selectsServing: true },
      metricsPath: METRICS_PATH,
      load: { metric: 'py_open_channels', absentIsZero: true, slotsPerReplica: spec.tts.slotsPerReplica },
      disruptionBudget: true,
      scaling: followerScaling(spec, spec.autoscaling.followers.tts),
      essential: true,
    }),
  llm: (spec) => {
    const llm = spec.llm.inCluster;
    if (llm === undefined) return undefined;
    return component('llm', 'spec.llm.inCluster', llm, {
      replicas: llm.replicas,
      port: llm.port,
      gpu: gpuNeed(spec, llm.gpu),
      service: { headless: false, selectsServing: true },
      metricsPath: METRICS_PATH,
      load: { metric: 'vllm:num_requests_running', plusMetric: 'vllm:num_requests_waiting', slotsPerReplica: llm.sessionsPerReplica },
      disruptionBudget: true,
      scaling: followerScaling(spec, spec.autoscaling.followers.llm),
      essential: true,
    });
  },
  'voice-cloning': (spec) => {
    const vc = spec.voiceCloning;
    if (vc === undefined || !vc.enabled) return undefined;
    return component('voice-cloning', 'spec.voiceCloning', vc, {
      replicas: vc.replicas,
      port: vc.port,
      gpu: gpuNeed(spec, vc.gpu),
      service: { headless: false, selectsServing: false },
      metricsPath: METRICS_PATH,
      load: undefined,
      scaling: 'fixed',
    });
  },
  frontend: (spec) => {
    const fe = spec.frontend;
    if (fe === undefined) return undefined;
    return component('frontend', 'spec.frontend', fe, {
      replicas: fe.replicas,
      port: fe.port,
      gpu: undefined,
      service: { headless: false, selectsServing: false },
      metricsPath: undefined,
      load: undefined,
      scaling: 'fixed',
      publicEntry: true,
    });
  },
  redis: (spec) => {
    const redis = spec.redis?.inCluster;
    if (redis === undefined) return undefined;
    return component('redis', 'spec.redis.inCluster', redis, {
      // A cache with one writer: never two at once.
      replicas: 1,
      port: 6379,
      portName: 'redis',
      gpu: undefined,
      service: { headless: false, selectsServing: false },
      metricsPath: undefined,
      load: undefined,
      scaling: 'fixed',
    });
  },
};

export type AnyComponent = { [N in ComponentName]: Component<N> }[ComponentName];

/** The components a spec runs in the cluster, in render order. */
export function fleetComponents(spec: Spec): AnyComponent[] {
  const out: AnyComponent[] = [];
  for (const name of COMPONENT_NAMES) {
    const c = (DESCRIBERS[name] as Describe<ComponentName>)(spec);
    if (c !== undefined) out.push(c as AnyComponent);
  }
  return out;
}

/** One component of a spec, or undefined when the spec does not run it. */
export function describeComponent<N extends ComponentName>(spec: Spec, name: N): Component<N> | undefined {
  return DESCRIBERS[name](spec);
}

/** Fewest replicas a component runs: its spec replicas when fixed, else the autoscaler's floor. */
export function minimumReplicas(spec: Spec, c: Pick<Component, 'scaling' | 'replicas'>): number {
  if (c.scaling === 'sessions') return spec.autoscaling.minReplicas;
  return c.scaling === 'follower' ? 1 : c.replicas;
}

/** GPUs the fleet holds at its smallest: what any GPU budget must at least allow. */
export function minimumGpus(spec: Spec): number {
  return fleetComponents(spec).reduce((sum, c) => sum + c.gpusPerReplica * minimumReplicas(spec, c), 0);
}
