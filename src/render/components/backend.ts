// The backend: Unmute's websocket server (no GPU), wired to STT, TTS, the LLM and Redis.
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { Component } from '../../api/v1alpha1/components.ts';
import type { UnmuteDeployment } from '../../api/v1alpha1/unmute-deployment.ts';
import { containerSecurityContext, mergeEnv, omitUndefined, resources, secretEnv } from '../pod.ts';
import { serviceHost } from '../service.ts';
import type { WorkloadParts } from '../workload.ts';

const DEFAULT_RESOURCES = { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1500m', memory: '1Gi' } };

/** Environment that points the backend at the other components (Unmute reads these at start). */
function backendEnv(fleet: UnmuteDeployment): IEnvVar[] {
  const { spec } = fleet;
  const env: IEnvVar[] = [
    // Headless Services: DNS returns every ready STT/TTS pod, so the backend keeps its own failover.
    { name: 'KYUTAI_STT_URL', value: `ws://${serviceHost(fleet, 'stt')}:${spec.stt.port}` },
    { name: 'KYUTAI_TTS_URL', value: `ws://${serviceHost(fleet, 'tts')}:${spec.tts.port}` },
  ];
  if (spec.llm.inCluster) {
    env.push({ name: 'KYUTAI_LLM_URL', value: `http://${serviceHost(fleet, 'llm')}:${spec.llm.inCluster.port}` });
    env.push({ name: 'KYUTAI_LLM_MODEL', value: spec.llm.inCluster.model });
    env.push(...secretEnv('KYUTAI_LLM_API_KEY', spec.llm.inCluster.apiKeySecretRef));
  } else if (spec.llm.external) {
    env.push({ name: 'KYUTAI_LLM_URL', value: spec.llm.external.url.replace(/\/+$/, '') });
    if (spec.llm.external.model !== undefined) env.push({ name: 'KYUTAI_LLM_MODEL', value: spec.llm.external.model });
    env.push(...secretEnv('KYUTAI_LLM_API_KEY', spec.llm.external.apiKeySecretRef));
  }
  if (spec.voiceCloning?.enabled) {
    env.push({ name: 'KYUTAI_VOICE_CLONING_URL', value: `http://${serviceHost(fleet, 'voice-cloning')}:${spec.voiceCloning.port}` });
  }
  if (spec.redis?.inCluster) env.push({ name: 'KYUTAI_REDIS_URL', value: `redis://${serviceHost(fleet, 'redis')}:6379` });
  else if (spec.redis?.external) env.push(...redisEnv(spec.redis.external));
  return mergeEnv(env, spec.backend.env);
}

/**
 * The external Redis URL, with the password from its Secret put in by the kubelet ($(VAR) expansion
 * of an earlier variable): the Deployment never holds the password itself.
 */
function redisEnv(external: NonNullable<NonNullable<UnmuteDeployment['spec']['redis']>['external']>): IEnvVar[] {
  if (external.passwordSecretRef === undefined) return [{ name: 'KYUTAI_REDIS_URL', value: external.url }];
  const withPassword = external.url.replace(/^(rediss?:\/\/)/, `$1:$(${REDIS_PASSWORD_ENV})@`);
  return [...secretEnv(REDIS_PASSWORD_ENV, external.passwordSecretRef), { name: 'KYUTAI_REDIS_URL', value: withPassword }];
}

const REDIS_PASSWORD_ENV = 'UNMUTE_REDIS_PASSWORD';

/**
 * Readiness reads the /v1/health body: Unmute answers 200 even when `ok` is false.
 * The backend image has Python (uvicorn), so an exec probe needs nothing extra.
 */
function healthProbeCommand(port: number): string[] {
  const script = [
    'import json, sys, urllib.request',
    `body = json.load(urllib.request.urlopen("http://127.0.0.1:${port}/v1/health", timeout=3))`,
    'sys.exit(0 if body.get("ok") else 1)',
  ].join('\n');
  return ['python3', '-c', script];
}

export function backendWorkload(fleet: UnmuteDeployment, c: Component<'backend'>, scrapeAnnotations: Record<string, string>): WorkloadParts {
  const b = c.settings;
  return {
    // Never take a serving pod away before its replacement is ready; old pods drain in preStop (workload.ts).
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
    podAnnotations: {
      ...scrapeAnnotations,
    },
    containers: [
      omitUndefined({
        name: c.name,
        image: b.image,
        imagePullPolicy: b.imagePullPolicy,
        ports: [{ name: c.portName, containerPort: c.port, protocol: 'TCP' }],
        env: backendEnv(fleet),
        envFrom: b.envFrom,
        resources: resources(b.resources, DEFAULT_RESOURCES, undefined),
        readinessProbe: { exec: { command: healthProbeCommand(c.port) }, periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 3 },
        livenessProbe: { httpGet: { path: '/metrics', port: c.portName }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
        // Port 80 in Unmute's image: bind it without running privileged.
        securityContext: containerSecurityContext(c.port < 1024 ? ['NET_BIND_SERVICE'] : []),
      }),
    ],
  };
}
