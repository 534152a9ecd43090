// The backend Deployment: Unmute's websocket server, wired to STT, TTS, LLM and Redis.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import {
  ANNOTATION_SAFE_TO_EVICT,
  LABEL_SERVING,
  childName,
  commonLabels,
  selectorLabels,
} from './labels.ts';
import { containerSecurityContext, mergeEnv, mergeResources, omitEmpty, podPlacement, secretEnv, gpuPlacement } from './pod.ts';
import type { KubeObject, RenderContext } from './types.ts';
import { serviceHost } from './service.ts';

const DEFAULT_BACKEND_RESOURCES = { requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1500m', memory: '1Gi' } };

/** Environment that points the backend at the other tiers (see unmute-reference.md). */
export function backendEnv(cr: UnmuteDeployment) {
  const { spec } = cr;
  const env: { name: string; value?: string; valueFrom?: Record<string, unknown> }[] = [
    // Headless Services: DNS returns every ready STT/TTS pod, so the backend keeps its own failover.
    { name: 'KYUTAI_STT_URL', value: `ws://${serviceHost(cr, 'stt')}:${spec.stt.port}` },
    { name: 'KYUTAI_TTS_URL', value: `ws://${serviceHost(cr, 'tts')}:${spec.tts.port}` },
  ];
  if (spec.llm.inCluster) {
    env.push({ name: 'KYUTAI_LLM_URL', value: `http://${serviceHost(cr, 'llm')}:${spec.llm.inCluster.port}` });
    env.push({ name: 'KYUTAI_LLM_MODEL', value: spec.llm.inCluster.model });
    env.push(...secretEnv('KYUTAI_LLM_API_KEY', spec.llm.inCluster.apiKeySecretRef));
  } else if (spec.llm.external) {
    env.push({ name: 'KYUTAI_LLM_URL', value: spec.llm.external.url.replace(/\/+$/, '') });
    if (spec.llm.external.model !== undefined) env.push({ name: 'KYUTAI_LLM_MODEL', value: spec.llm.external.model });
    env.push(...secretEnv('KYUTAI_LLM_API_KEY', spec.llm.external.apiKeySecretRef));
  }
  if (spec.voiceCloning?.enabled) {
    env.push({ name: 'KYUTAI_VOICE_CLONING_URL', value: `http://${serviceHost(cr, 'voice-cloning')}:${spec.voiceCloning.port}` });
  }
  if (spec.redis?.inCluster) env.push({ name: 'KYUTAI_REDIS_URL', value: `redis://${serviceHost(cr, 'redis')}:6379` });
  else if (spec.redis?.external) env.push({ name: 'KYUTAI_REDIS_URL', value: spec.redis.external.url });
  return mergeEnv(env, spec.backend.env);
}

/**
 * Readiness reads the /v1/health body: Unmute answers 200 even when `ok` is false.
 * The backend image has Python (uvicorn), so an exec probe needs nothing extra.
 */
export function healthProbeCommand(port: number): string[] {
  const script = [
    'import json, sys, urllib.request',
    `body = json.load(urllib.request.urlopen("http://127.0.0.1:${port}/v1/health", timeout=3))`,
    'sys.exit(0 if body.get("ok") else 1)',
  ].join('\n');
  return ['python3', '-c', script];
}

/**
 * preStop waits until the process reports no session (or the grace period ends): the safety net
 * when something other than the autoscaler stops the pod (rollout, node drain, eviction).
 * By then the pod is already out of the Service endpoints, so no new session arrives.
 */
export function drainWaitCommand(port: number): string[] {
  const script = [
    'import time, urllib.request',
    'while True:',
    '    try:',
    `        text = urllib.request.urlopen("http://127.0.0.1:${port}/metrics", timeout=3).read().decode()`,
    '        lines = [l for l in text.splitlines() if l.startswith("worker_active_sessions ")]',
    '        if not lines or float(lines[0].split()[1]) <= 0:',
    '            break',
    '    except Exception:',
    '        break',
    '    time.sleep(2)',
  ].join('\n');
  return ['python3', '-c', script];
}

export function renderBackendDeployment(cr: UnmuteDeployment, ctx: RenderContext, podAnnotations: Record<string, string>): KubeObject {
  const { spec, metadata } = cr;
  const b = spec.backend;
  const labels = commonLabels(metadata.name, 'backend');
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName(metadata.name, 'backend'), namespace: metadata.namespace, labels },
    spec: {
      replicas: ctx.backendReplicas,
      selector: { matchLabels: selectorLabels(metadata.name, 'backend') },
      // Never take a serving pod away before its replacement is ready; old pods drain in preStop.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      revisionHistoryLimit: 5,
      template: {
        metadata: {
          labels: { ...b.podLabels, ...labels, [LABEL_SERVING]: 'true' },
          annotations: {
            ...b.podAnnotations,
            ...podAnnotations,
            // A pod holding conversations must not be moved by a node autoscaler.
            [ANNOTATION_SAFE_TO_EVICT]: 'false',
          },
        },
        spec: {
          ...podPlacement(b, gpuPlacement(cr, undefined)),
          terminationGracePeriodSeconds: b.drainGracePeriodSeconds,
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            omitEmpty({
              name: 'backend',
              image: b.image,
              imagePullPolicy: b.imagePullPolicy,
              ports: [{ name: 'http', containerPort: b.port, protocol: 'TCP' }],
              env: backendEnv(cr),
              envFrom: b.envFrom,
              resources: mergeResources(b.resources ?? DEFAULT_BACKEND_RESOURCES, {}),
              readinessProbe: {
                exec: { command: healthProbeCommand(b.port) },
                periodSeconds: 5,
                timeoutSeconds: 4,
                failureThreshold: 3,
              },
              livenessProbe: {
                httpGet: { path: '/metrics', port: 'http' },
                periodSeconds: 10,
                timeoutSeconds: 5,
                failureThreshold: 6,
              },
              lifecycle: { preStop: { exec: { command: drainWaitCommand(b.port) } } },
              // Port 80 in Unmute's image: bind it without running privileged.
              securityContext: containerSecurityContext(b.port < 1024 ? ['NET_BIND_SERVICE'] : []),
            }),
          ],
        },
      },
    },
  };
}

export function renderBackendPdb(cr: UnmuteDeployment): KubeObject {
  const { metadata } = cr;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: childName(metadata.name, 'backend'), namespace: metadata.namespace, labels: commonLabels(metadata.name, 'backend') },
    spec: {
      // One backend at a time may be evicted; its preStop hook then waits for its sessions.
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(metadata.name, 'backend') },
    },
  };
}
