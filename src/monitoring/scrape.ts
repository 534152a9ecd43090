// How Prometheus finds the fleet's metrics: ServiceMonitors or PodMonitors for the
// prometheus-operator, or prometheus.io/* pod annotations for a Prometheus without it.
// Every target gets the same labels either way: namespace, pod, job=<name>-<component>,
// unmute_sh_deployment and unmute_sh_component, so every query can be scoped to one fleet and tier.
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { LABEL_DEPLOYMENT, LABEL_TIER, childName, commonLabels, selectorLabels, type Component } from '../render/labels.ts';
import type { KubeObject } from '../render/types.ts';
import { METRICS_PATH } from './unmute-metrics.ts';

/**
 * Marks the Service that exists only to be scraped. The backend's own Service selects serving pods
 * only, so a ServiceMonitor on it would lose a backend the moment it starts draining: exactly when
 * its sessions and its drain matter most.
 */
export const LABEL_METRICS_SERVICE = 'unmute.sh/metrics';
/** Service and container port name on every component (see src/render/service.ts). */
export const METRICS_PORT_NAME = 'http';

export const ANNOTATION_SCRAPE = 'prometheus.io/scrape';
export const ANNOTATION_PORT = 'prometheus.io/port';
export const ANNOTATION_PATH = 'prometheus.io/path';

export interface ScrapeTarget {
  component: Component;
  /** Container port serving /metrics. */
  port: number;
  path: string;
}

/** Components that expose metrics, in a fixed order. Frontend and Redis expose none. */
export function scrapeTargets(cr: UnmuteDeployment): ScrapeTarget[] {
  const { spec } = cr;
  const targets: ScrapeTarget[] = [
    { component: 'backend', port: spec.backend.port, path: METRICS_PATH },
    { component: 'stt', port: spec.stt.port, path: METRICS_PATH },
    { component: 'tts', port: spec.tts.port, path: METRICS_PATH },
  ];
  if (spec.llm.inCluster) targets.push({ component: 'llm', port: spec.llm.inCluster.port, path: METRICS_PATH });
  if (spec.voiceCloning?.enabled) targets.push({ component: 'voice-cloning', port: spec.voiceCloning.port, path: METRICS_PATH });
  return targets;
}

/**
 * prometheus.io/* annotations for a component's pod template (empty when not asked for, or when the
 * component has no metrics). The workload renderers merge them into the pod annotations.
 */
export function scrapeAnnotations(cr: UnmuteDeployment, component: Component): Record<string, string> {
  const m = cr.spec.monitoring;
  if (!m.enabled || !m.podAnnotations) return {};
  const target = scrapeTargets(cr).find((t) => t.component === component);
  if (target === undefined) return {};
  return { [ANNOTATION_SCRAPE]: 'true', [ANNOTATION_PORT]: String(target.port), [ANNOTATION_PATH]: target.path };
}

/** Stable job name of a component's targets, whatever discovers them. */
export function jobName(cr: UnmuteDeployment, component: Component): string {
  return childName(cr.metadata.name, component);
}

/** Labels on every monitoring object of the fleet: ours plus the user's (so their Prometheus selects them). */
export function monitoringObjectLabels(cr: UnmuteDeployment, base: Record<string, string>): Record<string, string> {
  return { ...cr.spec.monitoring.labels, ...base };
}

/** Relabelings shared by ServiceMonitor and PodMonitor endpoints: the job name and the user's constant labels. */
function relabelings(cr: UnmuteDeployment, component: Component) {
  const extra = Object.entries(cr.spec.monitoring.targetLabels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return [
    // Without this the job would be the Service name (ServiceMonitor) or <namespace>/<PodMonitor>
    // (PodMonitor): switching scrapeKind would then break every saved query.
    { action: 'replace' as const, targetLabel: 'job', replacement: jobName(cr, component) },
    // `$` in a replacement refers to regex groups; a literal value must escape it.
    ...extra.map(([k, v]) => ({ action: 'replace' as const, targetLabel: k, replacement: v.replaceAll('$', '$$$$') })),
  ];
}

function endpointTiming(cr: UnmuteDeployment) {
  const m = cr.spec.monitoring;
  return m.scrapeTimeout === undefined ? { interval: m.interval } : { interval: m.interval, scrapeTimeout: m.scrapeTimeout };
}

/** Series labels copied from the Service (ServiceMonitor) or pod (PodMonitor) labels. */
const COPIED_LABELS = [LABEL_DEPLOYMENT, LABEL_TIER];

function serviceMonitor(cr: UnmuteDeployment, target: ScrapeTarget): KubeObject {
  const name = cr.metadata.name;
  const matchLabels: Record<string, string> = { [LABEL_DEPLOYMENT]: name, [LABEL_TIER]: target.component };
  if (target.component === 'backend') matchLabels[LABEL_METRICS_SERVICE] = 'true';
  const sm = new ServiceMonitor({
    metadata: {
      name: childName(name, target.component),
      namespace: cr.metadata.namespace,
      labels: monitoringObjectLabels(cr, commonLabels(name, target.component)),
    },
    spec: {
      selector: { matchLabels },
      targetLabels: COPIED_LABELS,
      endpoints: [
        {
          port: METRICS_PORT_NAME,
          path: target.path,
          ...endpointTiming(cr),
          relabelings: relabelings(cr, target.component),
        },
      ],
    },
  });
  return sm.toJSON() as KubeObject;
}

function podMonitor(cr: UnmuteDeployment, target: ScrapeTarget): KubeObject {
  const name = cr.metadata.name;
  const pm = new PodMonitor({
    metadata: {
      name: childName(name, target.component),
      namespace: cr.metadata.namespace,
      labels: monitoringObjectLabels(cr, commonLabels(name, target.component)),
    },
    spec: {
      // Not on unmute.sh/serving: a draining backend must still be scraped.
      selector: { matchLabels: selectorLabels(name, target.component) },
      podTargetLabels: COPIED_LABELS,
      podMetricsEndpoints: [
        {
          port: METRICS_PORT_NAME,
          path: target.path,
          ...endpointTiming(cr),
          relabelings: relabelings(cr, target.component),
        },
      ],
    },
  });
  return pm.toJSON() as KubeObject;
}

/**
 * A headless Service over every backend pod, serving or draining, for the backend ServiceMonitor.
 * Headless because nothing connects through it: it only publishes endpoints.
 */
function backendMetricsService(cr: UnmuteDeployment): KubeObject {
  const name = cr.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: `${childName(name, 'backend')}-metrics`,
      namespace: cr.metadata.namespace,
      labels: { ...commonLabels(name, 'backend'), [LABEL_METRICS_SERVICE]: 'true' },
    },
    spec: {
      clusterIP: 'None',
      selector: selectorLabels(name, 'backend'),
      ports: [{ name: METRICS_PORT_NAME, port: cr.spec.backend.port, targetPort: METRICS_PORT_NAME, protocol: 'TCP' }],
    },
  };
}

/** ServiceMonitors (plus the backend metrics Service) or PodMonitors, one per component with metrics. */
export function renderScrapeObjects(cr: UnmuteDeployment): KubeObject[] {
  const targets = scrapeTargets(cr);
  if (cr.spec.monitoring.scrapeKind === 'PodMonitor') return targets.map((t) => podMonitor(cr, t));
  return [backendMetricsService(cr), ...targets.map((t) => serviceMonitor(cr, t))];
}
