// GPU tiers: STT and TTS (moshi-server), voice cloning (moshi-server) and vLLM.
// They download model weights at start and need minutes: a startup probe carries that wait.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { childName, commonLabels, selectorLabels, type Component } from './labels.ts';
import {
  cacheVolume,
  containerSecurityContext,
  gpuPlacement,
  mergeEnv,
  mergeResources,
  omitEmpty,
  podPlacement,
  secretEnv,
} from './pod.ts';
import type { KubeObject } from './types.ts';

type Spec = UnmuteDeployment['spec'];
type MoshiTier = Spec['stt'];
type LlmInCluster = NonNullable<Spec['llm']['inCluster']>;

const PROBE_PERIOD_SECONDS = 10;

interface TierContainer {
  command?: string[];
  args?: string[];
  env: { name: string; value?: string; valueFrom?: Record<string, unknown> }[];
  healthPath: string;
}

function renderGpuDeployment(
  cr: UnmuteDeployment,
  component: Component,
  tier: MoshiTier | LlmInCluster,
  replicas: number,
  container: TierContainer,
  podAnnotations: Record<string, string>,
): KubeObject {
  const { metadata } = cr;
  const labels = commonLabels(metadata.name, component);
  const gpu = gpuPlacement(cr, tier.gpu);
  const cache = cacheVolume(tier.modelCache);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName(metadata.name, component), namespace: metadata.namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: selectorLabels(metadata.name, component) },
      // A GPU is scarce: replace one pod at a time and never run below the wanted count.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      revisionHistoryLimit: 5,
      template: {
        metadata: omitEmpty({
          labels: { ...tier.podLabels, ...labels },
          annotations: Object.keys({ ...tier.podAnnotations, ...podAnnotations }).length > 0 ? { ...tier.podAnnotations, ...podAnnotations } : undefined,
        }),
        spec: {
          ...podPlacement(tier, gpu),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            omitEmpty({
              name: component,
              image: tier.image,
              imagePullPolicy: tier.imagePullPolicy,
              command: container.command,
              args: container.args,
              ports: [{ name: 'http', containerPort: tier.port, protocol: 'TCP' }],
              env: mergeEnv(container.env, tier.env),
              envFrom: tier.envFrom,
              resources: mergeResources(tier.resources, gpu.limits),
              volumeMounts: [cache.mount],
              startupProbe: {
                httpGet: { path: container.healthPath, port: 'http' },
                periodSeconds: PROBE_PERIOD_SECONDS,
                timeoutSeconds: 5,
                failureThreshold: Math.ceil(tier.startupTimeoutSeconds / PROBE_PERIOD_SECONDS),
              },
              readinessProbe: { httpGet: { path: container.healthPath, port: 'http' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
              livenessProbe: { httpGet: { path: container.healthPath, port: 'http' }, periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 },
              securityContext: containerSecurityContext(),
            }),
          ],
          volumes: [cache.volume],
        },
      },
    },
  };
}

function hfTokenEnv(tier: { hfTokenSecretRef?: { name: string; key: string } | undefined }) {
  return [...secretEnv('HUGGING_FACE_HUB_TOKEN', tier.hfTokenSecretRef), ...secretEnv('HF_TOKEN', tier.hfTokenSecretRef)];
}

/** moshi-server: STT, TTS and voice cloning differ only in config and slot count. */
export function renderMoshiDeployment(
  cr: UnmuteDeployment,
  component: 'stt' | 'tts' | 'voice-cloning',
  tier: MoshiTier,
  replicas: number,
  podAnnotations: Record<string, string>,
): KubeObject {
  return renderGpuDeployment(
    cr,
    component,
    tier,
    replicas,
    {
      // The port and batch size live in the moshi-server config file; keep spec.port and
      // slotsPerReplica equal to them.
      args: tier.configPath === undefined ? undefined : ['worker', '--config', tier.configPath],
      env: hfTokenEnv(tier),
      healthPath: '/api/build_info',
    },
    podAnnotations,
  );
}

export function renderLlmDeployment(cr: UnmuteDeployment, llm: LlmInCluster, replicas: number, podAnnotations: Record<string, string>): KubeObject {
  return renderGpuDeployment(
    cr,
    'llm',
    llm,
    replicas,
    {
      args: ['--model', llm.model, '--port', String(llm.port), ...(llm.args ?? [])],
      // vLLM reads its API key from VLLM_API_KEY; the backend sends the same key.
      env: [...hfTokenEnv(llm), ...secretEnv('VLLM_API_KEY', llm.apiKeySecretRef)],
      healthPath: '/health',
    },
    podAnnotations,
  );
}
