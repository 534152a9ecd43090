// Optional CPU components: the Next.js frontend and the Redis voice cache.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { childName, commonLabels, selectorLabels } from './labels.ts';
import { containerSecurityContext, mergeResources, omitEmpty, podPlacement, gpuPlacement } from './pod.ts';
import type { KubeObject } from './types.ts';

type Frontend = NonNullable<UnmuteDeployment['spec']['frontend']>;
type RedisInCluster = NonNullable<NonNullable<UnmuteDeployment['spec']['redis']>['inCluster']>;

export function renderFrontendDeployment(cr: UnmuteDeployment, frontend: Frontend): KubeObject {
  const { metadata } = cr;
  const labels = commonLabels(metadata.name, 'frontend');
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName(metadata.name, 'frontend'), namespace: metadata.namespace, labels },
    spec: {
      replicas: frontend.replicas,
      selector: { matchLabels: selectorLabels(metadata.name, 'frontend') },
      template: {
        metadata: omitEmpty({ labels: { ...frontend.podLabels, ...labels }, annotations: frontend.podAnnotations }),
        spec: {
          ...podPlacement(frontend, gpuPlacement(cr, undefined)),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            omitEmpty({
              name: 'frontend',
              image: frontend.image,
              imagePullPolicy: frontend.imagePullPolicy,
              ports: [{ name: 'http', containerPort: frontend.port, protocol: 'TCP' }],
              env: frontend.env,
              envFrom: frontend.envFrom,
              resources: mergeResources(frontend.resources ?? { requests: { cpu: '100m', memory: '256Mi' } }, {}),
              readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 5 },
              securityContext: containerSecurityContext(),
            }),
          ],
        },
      },
    },
  };
}

export function renderRedisDeployment(cr: UnmuteDeployment, redis: RedisInCluster): KubeObject {
  const { metadata } = cr;
  const labels = commonLabels(metadata.name, 'redis');
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName(metadata.name, 'redis'), namespace: metadata.namespace, labels },
    spec: {
      replicas: 1,
      // A cache with one writer: never two at once.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selectorLabels(metadata.name, 'redis') },
      template: {
        metadata: omitEmpty({ labels: { ...redis.podLabels, ...labels }, annotations: redis.podAnnotations }),
        spec: {
          ...podPlacement(redis, gpuPlacement(cr, undefined)),
          securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'redis',
              image: redis.image,
              args: ['--save', '', '--appendonly', 'no'],
              ports: [{ name: 'http', containerPort: 6379, protocol: 'TCP' }],
              resources: mergeResources(redis.resources ?? { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } }, {}),
              readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 5 },
              securityContext: { ...containerSecurityContext(), readOnlyRootFilesystem: true },
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          volumes: [{ name: 'data', emptyDir: {} }],
        },
      },
    },
  };
}
