// How Prometheus finds the fleet's metrics: ServiceMonitors or PodMonitors for the
// prometheus-operator, or prometheus.io/* pod annotations for a Prometheus without it.
// One monitor per fleet, an endpoint per component. Every target gets the same labels either way:
// namespace, pod, job=<fleet>-<component>, unmute_sh_fleet and unmute_sh_component, so every query
// can be scoped to one fleet and component.
// Types only: the models' runtime pulls a WebAssembly RE2 for their validators (16 MiB the operator
// would hold for good); the unit tests validate what is rendered against them.
import type { IPodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IService } from 'kubernetes-models/v1/Service';
import { describeComponent, fleetComponents, type AnyComponent, type ComponentName } from '../api/v1alpha1/components.ts';
import { LABEL_APP_COMPONENT, LABEL_COMPONENT, LABEL_FLEET, LABEL_METRICS_SERVICE, childName, fleetLabels, fleetPodSelectorLabels } from '../api/v1alpha1/labels.ts';
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

/**
 * Relabelings of one component's endpoint, shared by ServiceMonitor and PodMonitor: keep that
 * component's pods (one monitor covers the fleet, every component on the same port name), the job
 * name, and the user's constant labels.
 */
function relabelings(fleet: UnmuteDeployment, component: ComponentName) {
  const extra = Object.entries(fleet.spec.monitoring.targetLabels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return [
    { action: 'keep' as const, sourceLabels: [POD_COMPONENT_META_LABEL], regex: component },
    // Without this the job would be the Service name (ServiceMonitor) or <namespace>/<PodMonitor>
    // (PodMonitor): switching scrapeKind would then break every saved query.
    { action: 'replace' as const, targetLabel: 'job', replacement: jobName(fleet, component) },
    // `$` in a replacement refers to regex groups; a literal value must escape it.
    ...extra.map(([k, v]) => ({ action: 'replace' as const, targetLabel: k, replacement: v.replaceAll('$', '$$$$') })),
  ];
}

/** The pod's component label as Kubernetes service discovery names it (`.` and `/` become `_`). */
const POD_COMPONENT_META_LABEL = `__meta_kubernetes_pod_label_${LABEL_APP_COMPONENT.replace(/[^a-zA-Z0-9_]/g, '_')}`;

function endpointTiming(fleet: UnmuteDeployment) {
  const m = fleet.spec.monitoring;
  return m.scrapeTimeout === undefined ? { interval: m.interval } : { interval: m.interval, scrapeTimeout: m.scrapeTimeout };
}

/** Series labels copied from the pod: every component's pods carry the fleet and component. */
const COPIED_LABELS = [LABEL_FLEET, LABEL_COMPONENT];

/** Name of the fleet's monitor and of the metrics Service its ServiceMonitor reads. */
function metricsObjectName(fleet: UnmuteDeployment): string {
  return `${fleet.metadata.name}-metrics`;
}

function endpoints(fleet: UnmuteDeployment, targets: AnyComponent[]) {
  return targets.map((c) => ({ port: c.portName, path: c.metricsPath, ...endpointTiming(fleet), relabelings: relabelings(fleet, c.name) }));
}

function serviceMonitor(fleet: UnmuteDeployment, targets: AnyComponent[]): DesiredObject {
  const name = fleet.metadata.name;
  const sm: Desired<IServiceMonitor> = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: metricsObjectName(fleet), namespace: fleet.metadata.namespace, labels: monitoringObjectLabels(fleet, fleetLabels(name)) },
    spec: {
      selector: { matchLabels: { [LABEL_FLEET]: name, [LABEL_METRICS_SERVICE]: 'true' } },
      podTargetLabels: COPIED_LABELS,
      endpoints: endpoints(fleet, targets),
    },
  };
  return sm;
}

function podMonitor(fleet: UnmuteDeployment, targets: AnyComponent[]): DesiredObject {
  const name = fleet.metadata.name;
  const pm: Desired<IPodMonitor> = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: metricsObjectName(fleet), namespace: fleet.metadata.namespace, labels: monitoringObjectLabels(fleet, fleetLabels(name)) },
    spec: {
      // Not on unmute.sh/serving: a draining pod must still be scraped.
      selector: { matchLabels: fleetPodSelectorLabels(name) },
      podTargetLabels: COPIED_LABELS,
      podMetricsEndpoints: endpoints(fleet, targets),
    },
  };
  return pm;
}

/**
 * A headless Service over every pod of the fleet, for its ServiceMonitor: the components' own
 * Services select serving pods only, and a drained pod leaves rotation exactly when its sessions and
 * its drain matter most, so it must stay scraped. One per fleet, not one per component: every
 * component serves its metrics on a port of the same name, and the monitor's endpoints keep each
 * component's pods. Headless because nothing connects through it.
 */
function metricsService(fleet: UnmuteDeployment, targets: AnyComponent[]): Desired<IService> {
  const name = fleet.metadata.name;
  // One port per port name: the first such component's number (numbers only label a headless Service's ports).
  const ports = new Map<string, number>();
  const taken = (n: number) => [...ports.values()].includes(n);
  for (const c of targets) {
    if (ports.has(c.portName)) continue;
    let port = c.port;
    while (taken(port)) port++;
    ports.set(c.portName, port);
  }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: metricsObjectName(fleet), namespace: fleet.metadata.namespace, labels: { ...fleetLabels(name), [LABEL_METRICS_SERVICE]: 'true' } },
    spec: {
      clusterIP: 'None',
      selector: fleetPodSelectorLabels(name),
      // Each pod's targetPort resolves by name: backend and STT pods answer on their own numbers.
      ports: [...ports].map(([portName, port]) => ({ name: portName, port, targetPort: portName, protocol: 'TCP' as const })),
    },
  };
}

/**
 * One monitor per fleet with an endpoint per component with metrics: a ServiceMonitor and the
 * metrics Service it reads, or a PodMonitor. (Earlier versions rendered one of each per component;
 * the reconciler prunes those on upgrade.)
 */
export function renderScrapeObjects(fleet: UnmuteDeployment): DesiredObject[] {
  const targets = scrapeTargets(fleet);
  if (targets.length === 0) return [];
  if (fleet.spec.monitoring.scrapeKind === 'PodMonitor') return [podMonitor(fleet, targets)];
  return [metricsService(fleet, targets), serviceMonitor(fleet, targets)];
}
