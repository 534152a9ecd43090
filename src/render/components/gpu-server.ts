// What the GPU servers (moshi-server for STT/TTS/voice cloning, vLLM) share: they download model
// weights at start and need minutes, so a startup probe carries that wait; a cache volume keeps the
// weights; a rollout replaces one pod at a time because a GPU is scarce.
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { Component } from '../../api/v1alpha1/components.ts';
import { cacheVolume, containerSecurityContext, mergeEnv, omitUndefined, resources, secretEnv } from '../pod.ts';
import type { WorkloadParts } from '../workload.ts';

const PROBE_PERIOD_SECONDS = 10;

export type GpuServerName = 'stt' | 'tts' | 'voice-cloning' | 'llm';

interface ServerProcess {
  args?: string[] | undefined;
  env: IEnvVar[];
  /** Answers 200 once the model is loaded. */
  healthPath: string;
}

function hfTokenEnv(settings: { hfTokenSecretRef?: { name: string; key: string } | undefined }): IEnvVar[] {
  return [...secretEnv('HUGGING_FACE_HUB_TOKEN', settings.hfTokenSecretRef), ...secretEnv('HF_TOKEN', settings.hfTokenSecretRef)];
}

function gpuServerWorkload<N extends GpuServerName>(c: Component<N>, process: ServerProcess, scrapeAnnotations: Record<string, string>): WorkloadParts {
  const s = c.settings;
  const cache = cacheVolume(s.modelCache);
  // A fresh object per probe: shared references would print as YAML anchors.
  const probe = () => ({ httpGet: { path: process.healthPath, port: c.portName } });
  const container: IContainer = omitUndefined({
    name: c.name,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    args: process.args,
    ports: [{ name: c.portName, containerPort: c.port, protocol: 'TCP' }],
    env: mergeEnv(process.env, s.env),
    envFrom: s.envFrom,
    resources: resources(s.resources, undefined, c.gpu),
    volumeMounts: [cache.mount],
    startupProbe: { ...probe(), periodSeconds: PROBE_PERIOD_SECONDS, timeoutSeconds: 5, failureThreshold: Math.ceil(s.startupTimeoutSeconds / PROBE_PERIOD_SECONDS) },
    readinessProbe: { ...probe(), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    livenessProbe: { ...probe(), periodSeconds: 15, timeoutSeconds: 5, failureThreshold: 4 },
    securityContext: containerSecurityContext(),
  });
  return {
    // A GPU is scarce: replace one pod at a time and never run below the wanted count.
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    podAnnotations: scrapeAnnotations,
    containers: [container],
    volumes: [cache.volume],
  };
}

/** moshi-server: STT, TTS and voice cloning differ only in their config file and slot count. */
export function moshiWorkload(c: Component<'stt' | 'tts' | 'voice-cloning'>, scrapeAnnotations: Record<string, string>): WorkloadParts {
  const s = c.settings;
  return gpuServerWorkload(
    c,
    {
      // The port and batch size live in the moshi-server config file; keep spec port and
      // slotsPerReplica equal to them.
      args: s.configPath === undefined ? undefined : ['worker', '--config', s.configPath],
      env: hfTokenEnv(s),
      healthPath: '/api/build_info',
    },
    scrapeAnnotations,
  );
}

/** vLLM's OpenAI-compatible server. */
export function vllmWorkload(c: Component<'llm'>, scrapeAnnotations: Record<string, string>): WorkloadParts {
  const s = c.settings;
  return gpuServerWorkload(
    c,
    {
      args: ['--model', s.model, '--port', String(c.port), ...(s.args ?? [])],
      // vLLM reads its API key from VLLM_API_KEY; the backend sends the same key.
      env: [...hfTokenEnv(s), ...secretEnv('VLLM_API_KEY', s.apiKeySecretRef)],
      healthPath: '/health',
    },
    scrapeAnnotations,
  );
}
