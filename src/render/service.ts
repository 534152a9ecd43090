// Services of every component. STT and TTS are headless so that the backend's DNS lookup
// returns every ready instance (Unmute's own failover, like Swarm's `tasks.stt`).
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { LABEL_SERVING, childName, commonLabels, selectorLabels, type Component } from './labels.ts';
import type { KubeObject } from './types.ts';

/** In-cluster DNS name of a component's Service, qualified by namespace so it works from anywhere. */
export function serviceHost(cr: UnmuteDeployment, component: Component): string {
  return `${childName(cr.metadata.name, component)}.${cr.metadata.namespace}.svc`;
}

export interface ServiceOptions {
  port: number;
  headless: boolean;
  /** Backend only: select pods that are in rotation, so a draining pod gets no new session. */
  servingOnly?: boolean;
}

export function renderService(cr: UnmuteDeployment, component: Component, opts: ServiceOptions): KubeObject {
  const { metadata } = cr;
  const selector: Record<string, string> = { ...selectorLabels(metadata.name, component) };
  if (opts.servingOnly) selector[LABEL_SERVING] = 'true';
  const spec: Record<string, unknown> = {
    selector,
    ports: [{ name: 'http', port: opts.port, targetPort: 'http', protocol: 'TCP' }],
  };
  if (opts.headless) spec['clusterIP'] = 'None';
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: childName(metadata.name, component), namespace: metadata.namespace, labels: commonLabels(metadata.name, component) },
    spec,
  };
}

