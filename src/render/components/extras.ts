// Optional CPU components: the Next.js frontend and the Redis voice-embedding cache.
import type { Component } from '../../api/v1alpha1/components.ts';
import { containerSecurityContext, omitUndefined, resources } from '../pod.ts';
import type { WorkloadParts } from '../workload.ts';

export function frontendWorkload(c: Component<'frontend'>): WorkloadParts {
  const s = c.settings;
  return {
    containers: [
      omitUndefined({
        name: c.name,
        image: s.image,
        imagePullPolicy: s.imagePullPolicy,
        ports: [{ name: c.portName, containerPort: c.port, protocol: 'TCP' }],
        env: s.env,
        envFrom: s.envFrom,
        resources: resources(s.resources, { requests: { cpu: '100m', memory: '256Mi' } }, undefined),
        readinessProbe: { tcpSocket: { port: c.portName }, periodSeconds: 5 },
        securityContext: containerSecurityContext(),
      }),
    ],
  };
}

export function redisWorkload(c: Component<'redis'>): WorkloadParts {
  const s = c.settings;
  return {
    // A cache with one writer: never two at once.
    strategy: { type: 'Recreate' },
    podSecurityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: c.name,
        image: s.image,
        // A cache only: no snapshots, no append-only file.
        args: ['--save', '', '--appendonly', 'no'],
        ports: [{ name: c.portName, containerPort: c.port, protocol: 'TCP' }],
        resources: resources(s.resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } }, undefined),
        readinessProbe: { tcpSocket: { port: c.portName }, periodSeconds: 5 },
        securityContext: { ...containerSecurityContext(), readOnlyRootFilesystem: true },
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      },
    ],
    volumes: [{ name: 'data', emptyDir: {} }],
  };
}
