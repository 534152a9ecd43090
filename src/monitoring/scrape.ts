// How Prometheus finds the fleet's metrics: ServiceMonitors or PodMonitors for the
// prometheus-operator, or prometheus.io/* pod annotations for a Prometheus without it.
// Every target gets the same labels either way: namespace, pod, job=<fleet>-<component>,
// unmute_sh_fleet and unmute_sh_component, so every query can be scoped to one fleet and component.
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IService } from 'kubernetes-models/v1/Service';
import { describeComponent, fleetComponents, type AnyComponent, type ComponentName } from '../api/v1alpha1/components.ts';
import { LABEL_COMPONENT, LABEL_FLEET, LABEL_METRICS_SERVICE, childName, componentLabels, selectorLabels } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { Desired, DesiredObject } from '../render/types.ts';

const ANNOTATION_SCRAPE = 'prometheus.io/scrape';
const ANNOTATION_PORT = 'prometheus.io/port';
const ANNOTATION_PATH = 'prometheus.io/path';

/** Components that expose metrics, in render order. Frontend and Redis expose none. */
export function scrapeTargets(fleet: UnmuteDeployment): AnyComponent[] {
  return fleetComponents(fleet.spec).filter((c) => c.metricsPath !== undefined);
}

/**
 * prometheus.io/* annotations for a component's pod template (empty when not asked for, or when the
 * component has no metrics). The workload renderers merge them into the pod annotations.
 */
export function scrapeAnnotations(fleet: UnmuteDeployment, component: ComponentName): Record<string, string> {
  const m = fleet.spec.monitoring;
  const c = describeComponent(fleet.spec, component);
  if (!m.enabled || !m.podAnnotations || c?.metricsPath === undefined) return {};
  return { [ANNOTATION_SCRAPE]: 'true', [ANNOTATION_PORT]: String(c.port), [ANNOTATION_PATH]: c.metricsPath };
}

/** Stable job name of a component's targets, whatever discovers them. */
export function jobName(fleet: UnmuteDeployment, component: ComponentName): string {
  return childName(fleet.metadata.name, component);
}

/** Labels on every monitoring object of the fleet: ours plus the user's (so their Prometheus selects them). */
export function monitoringObjectLabels(fleet: UnmuteDeployment, base: Record<string, string>): Record<string, string> {
  return { ...fleet.spec.monitoring.labels, ...base };
}

/** Relabelings shared by ServiceMonitor and PodMonitor endpoints: the job name and the user's constant labels. */
function relabelings(fleet: UnmuteDeployment, component: ComponentName) {
  const extra = Object.entries(fleet.spec.monitoring.targetLabels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return [
    // Without this the job would be the Service name (ServiceMonitor) or <namespace>/<PodMonitor>
    // (PodMonitor): switching scrapeKind would then break every saved query.
    { action: 'replace' as const, targetLabel: 'job', replacement: jobName(fleet, component) },
    // `$` in a replacement refers to regex groups; a literal value must escape it.
    ...extra.map(([k, v]) => ({ action: 'replace' as const, targetLabel: k, replacement: v.replaceAll('$', '$$$$') })),
  ];
}

function endpointTiming(fleet: UnmuteDeployment) {
  const m = fleet.spec.monitoring;
  return m.scrapeTimeout === undefined ? { interval: m.interval } : { interval: m.interval, scrapeTimeout: m.scrapeTimeout };
}

/** Series labels copied from the Service (ServiceMonitor) or pod (PodMonitor) labels. */
const COPIED_LABELS = [LABEL_FLEET, LABEL_COMPONENT];

function serviceMonitor(fleet: UnmuteDeployment, c: AnyComponent): DesiredObject {
  const name = fleet.metadata.name;
  // The sessions component's own Service selects serving pods only: its monitor reads the metrics Service.
  const matchLabels: Record<string, string> = { [LABEL_FLEET]: name, [LABEL_COMPONENT]: c.name };
  if (c.service.selectsServing) matchLabels[LABEL_METRICS_SERVICE] = 'true';
  const sm = new ServiceMonitor({
    metadata: { name: childName(name, c.name), namespace: fleet.metadata.namespace, labels: monitoringObjectLabels(fleet, componentLabels(name, c.name)) },
    spec: {
      selector: { matchLabels },
      targetLabels: COPIED_LABELS,
      endpoints: [{ port: c.portName, path: c.metricsPath, ...endpointTiming(fleet), relabelings: relabelings(fleet, c.name) }],
    },
  });
  return sm.toJSON() as DesiredObject;
}

function podMonitor(fleet: UnmuteDeployment, c: AnyComponent): DesiredObject {
  const name = fleet.metadata.name;
  const pm = new PodMonitor({
    metadata: { name: childName(name, c.name), namespace: fleet.metadata.namespace, labels: monitoringObjectLabels(fleet, componentLabels(name, c.name)) },
    spec: {
      // Not on unmute.sh/serving: a draining pod must still be scraped.
      selector: { matchLabels: selectorLabels(name, c.name) },
      podTargetLabels: COPIED_LABELS,
      podMetricsEndpoints: [{ port: c.portName, path: c.metricsPath, ...endpointTiming(fleet), relabelings: relabelings(fleet, c.name) }],
    },
  });
  return pm.toJSON() as DesiredObject;
}

/**
 * A headless Service over every pod of a component whose own Service selects serving pods only,
 * for its ServiceMonitor: a drained pod leaves rotation exactly when its sessions and its drain
 * matter most, and must stay scraped. Headless because nothing connects through it.
 */
function metricsService(fleet: UnmuteDeployment, c: AnyComponent): Desired<IService> {
  const name = fleet.metadata.name;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: `${childName(name, c.name)}-metrics`,
      namespace: fleet.metadata.namespace,
      labels: { ...componentLabels(name, c.name), [LABEL_METRICS_SERVICE]: 'true' },
    },
    spec: {
      clusterIP: 'None',
      selector: selectorLabels(name, c.name),
      ports: [{ name: c.portName, port: c.port, targetPort: c.portName, protocol: 'TCP' }],
    },
  };
}

/** ServiceMonitors (plus the metrics Services they need) or PodMonitors, one per component with metrics. */
export function renderScrapeObjects(fleet: UnmuteDeployment): DesiredObject[] {
  const targets = scrapeTargets(fleet);
  if (fleet.spec.monitoring.scrapeKind === 'PodMonitor') return targets.map((c) => podMonitor(fleet, c));
  return [...targets.filter((c) => c.service.selectsServing).map((c) => metricsService(fleet, c)), ...targets.map((c) => serviceMonitor(fleet, c))];
}

