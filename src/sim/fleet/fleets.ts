// The two fleets the benchmark (and the demo) put on a cluster: an UnmuteDeployment with session-
// aware autoscaling, and the baseline a plain HPA setup gives (Deployment + Service, no serving
// label, no preStop). Pure builders: objects in, nothing applied.
import { childName, selectorLabels } from '../../api/v1alpha1/labels.ts';
import { SIM_BATCH_SIZE_ANNOTATION, SIM_MAX_NUM_SEQS_ANNOTATION } from './pipeline.ts';
import { KWOK_READY_DELAY_ANNOTATION } from './pod-runner.ts';

/** The sim-workers' port in both fleets. */
export const SIM_BACKEND_PORT = 8000;

export interface FleetShape {
  minReplicas: number;
  maxReplicas: number;
  targetSessionsPerPod: number;
  maxSessionsPerPod: number;
  /** Go duration KWOK keeps a new pod Pending (image pull + start), e.g. "3s". */
  podStartDelay: string;
  /** The same for the STT, TTS and vLLM pods, which load models for minutes (compressed), e.g. "12s". */
  gpuStartDelay?: string;
}

/** Slots of the simulated servers: Unmute's production moshi configs (STT 64, TTS 16). */
export const SIM_SLOTS = { stt: 64, tts: 16 } as const;

export interface OperatorTiming {
  intervalSeconds: number;
  metricsStaleSeconds: number;
  scaleDownStabilizationSeconds: number;
  drainTimeoutSeconds: number;
  drainGracePeriodSeconds: number;
}

/** An UnmuteDeployment whose backends are sim-workers; STT/TTS pods run on the simulated GPU nodes. */
/**
 * `extra.pipeline`: the STT, TTS and an in-cluster vLLM are played as simulated servers (batch
 * sizes and start delays on their pods); without it the backends simulate them in-process.
 */
export function operatorFleet(
  name: string,
  namespace: string,
  shape: FleetShape,
  timing: OperatorTiming,
  extra: { gpuMaxTotal?: number; metrics?: Record<string, unknown>; pipeline?: boolean; monitoring?: Record<string, unknown> } = {},
) {
  const pipeline = extra.pipeline === true;
  return {
    apiVersion: 'unmute.sh/v1alpha1',
    kind: 'UnmuteDeployment',
    metadata: { name, namespace },
    spec: {
      backend: {
        image: 'sim.invalid/unmute-backend:sim',
        replicas: shape.minReplicas,
        port: SIM_BACKEND_PORT,
        maxSessionsPerPod: shape.maxSessionsPerPod,
        drainGracePeriodSeconds: timing.drainGracePeriodSeconds,
        podAnnotations: { [KWOK_READY_DELAY_ANNOTATION]: shape.podStartDelay },
      },
      // The pod runner reads the batch size from an annotation: the operator renders none for it
      // (it lives in the moshi config file), and the CR's slotsPerReplica says the same number.
      ...(pipeline
        ? {
            stt: { image: 'sim.invalid/moshi:sim', slotsPerReplica: SIM_SLOTS.stt, podAnnotations: gpuPodAnnotations(shape, SIM_SLOTS.stt) },
            tts: { image: 'sim.invalid/moshi:sim', slotsPerReplica: SIM_SLOTS.tts, podAnnotations: gpuPodAnnotations(shape, SIM_SLOTS.tts) },
            llm: { inCluster: { image: 'sim.invalid/vllm:sim', model: 'sim/simulated-llm', podAnnotations: { ...gpuPodAnnotations(shape), [SIM_MAX_NUM_SEQS_ANNOTATION]: '256' } } },
          }
        : { stt: { image: 'sim.invalid/moshi:sim' }, tts: { image: 'sim.invalid/moshi:sim' }, llm: { external: { url: 'http://llm.invalid' } } }),
      // Off unless asked for (bench:fleet --peers: its Prometheus scrapes the fleet through them).
      monitoring: extra.monitoring ?? { enabled: false },
      ...(extra.gpuMaxTotal === undefined ? {} : { gpu: { maxTotal: extra.gpuMaxTotal } }),
      autoscaling: {
        enabled: true,
        minReplicas: shape.minReplicas,
        maxReplicas: shape.maxReplicas,
        targetSessionsPerPod: shape.targetSessionsPerPod,
        intervalSeconds: timing.intervalSeconds,
        metricsStaleSeconds: timing.metricsStaleSeconds,
        scaleDownStabilizationSeconds: timing.scaleDownStabilizationSeconds,
        drainTimeoutSeconds: timing.drainTimeoutSeconds,
        // Without the played pipeline the STT/TTS pods run nothing to read: their load is unknown
        // for good, so sizing them on it would only hold them up. They stay at their spec replicas.
        ...(pipeline ? {} : { followers: { stt: false, tts: false, llm: false } }),
        ...(extra.metrics ? { metrics: extra.metrics } : {}),
      },
    },
  };
}

function gpuPodAnnotations(shape: FleetShape, batchSize?: number): Record<string, string> {
  return {
    [KWOK_READY_DELAY_ANNOTATION]: shape.gpuStartDelay ?? shape.podStartDelay,
    ...(batchSize !== undefined ? { [SIM_BATCH_SIZE_ANNOTATION]: String(batchSize) } : {}),
  };
}

/** Where the benchmark finds an operator fleet's backends. */
export function operatorFleetTargets(name: string) {
  const sel = selectorLabels(name, 'backend');
  return {
    podSelector: Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(','),
    /** The fleet's STT, TTS and vLLM pods. */
    servicesSelector: `app.kubernetes.io/instance=${name},app.kubernetes.io/component in (stt,tts,llm)`,
    service: childName(name, 'backend'),
    deployment: childName(name, 'backend'),
  };
}

/** What a plain HPA setup runs: the ReplicaSet picks victims, SIGTERM cuts their sessions. */
export function baselineFleet(name: string, namespace: string, shape: FleetShape) {
  const labels = { app: name };
  return {
    deployment: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas: shape.minReplicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: { [KWOK_READY_DELAY_ANNOTATION]: shape.podStartDelay } },
          spec: { containers: [{ name: 'backend', image: 'sim.invalid/unmute-backend:sim', ports: [{ name: 'http', containerPort: SIM_BACKEND_PORT }] }] },
        },
      },
    },
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
    targets: { podSelector: `app=${name}`, service: name, deployment: name },
  };
}
