// How dashboards reach Grafana: ConfigMaps for the kube-prometheus-stack sidecar (label + folder
// annotation), and optionally grafana-operator GrafanaDashboard objects.
import type { UnmuteDeployment } from '../../api/v1alpha1/unmute-deployment.ts';
import { fleetLabels } from '../../api/v1alpha1/labels.ts';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ClusterCapabilities, Desired, DesiredMeta, DesiredObject } from '../../render/types.ts';
import { monitoringObjectLabels } from '../scrape.ts';
import { FLEET_DASHBOARDS, fleetDashboard, fleetDashboardUid, genericDashboardUid } from './catalog.ts';

const GRAFANA_DASHBOARD_API_VERSION = 'grafana.integreatly.org/v1beta1';

/** The fields of a grafana-operator GrafanaDashboard the operator sets. */
type DesiredGrafanaDashboard = {
  apiVersion: typeof GRAFANA_DASHBOARD_API_VERSION;
  kind: 'GrafanaDashboard';
  metadata: DesiredMeta;
  spec: { instanceSelector: { matchLabels: Record<string, string> }; allowCrossNamespaceImport: boolean; folder?: string; json: string };
};

function objectName(cr: UnmuteDeployment, key: string): string {
  return `${cr.metadata.name}-dashboard-${key}`;
}

/**
 * ConfigMaps (and GrafanaDashboards when asked for and served) of a fleet's own dashboard copies.
 * Only with perFleet: by default the shared set (one per cluster, from the chart) serves every
 * fleet, so dashboards cost nothing per fleet; copies of the previous version are pruned.
 */
export function renderDashboards(cr: UnmuteDeployment, capabilities: ClusterCapabilities): DesiredObject[] {
  const d = cr.spec.monitoring.dashboards;
  if (!d.enabled || !d.perFleet) return [];
  const { namespace, name } = cr.metadata;
  const out: DesiredObject[] = [];
  const withOperator = d.grafanaOperator.enabled && capabilities.grafanaOperator;
  for (const spec of FLEET_DASHBOARDS) {
    // Compact JSON: a ConfigMap holds at most 1 MiB and the sidecar does not care about layout.
    const json = JSON.stringify(fleetDashboard(spec, namespace, name));
    const annotations = d.folder === undefined ? undefined : { [d.folderAnnotation]: d.folder };
    const configMap: Desired<IConfigMap> = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: objectName(cr, spec.key),
        namespace,
        labels: { ...monitoringObjectLabels(cr, fleetLabels(name)), [d.labelKey]: d.labelValue },
        ...(annotations === undefined ? {} : { annotations }),
      },
      data: { [`unmute-${namespace}-${name}-${spec.key}.json`]: json },
    };
    out.push(configMap);
    if (withOperator) {
      const dashboard: DesiredGrafanaDashboard = {
        apiVersion: GRAFANA_DASHBOARD_API_VERSION,
        kind: 'GrafanaDashboard',
        metadata: { name: objectName(cr, spec.key), namespace, labels: monitoringObjectLabels(cr, fleetLabels(name)) },
        spec: {
          instanceSelector: { matchLabels: d.grafanaOperator.instanceSelector ?? {} },
          // Grafana usually runs in another namespace than the fleet.
          allowCrossNamespaceImport: true,
          ...(d.folder === undefined ? {} : { folder: d.folder }),
          json,
        },
      };
      out.push(dashboard);
    }
  }
  return out;
}

/** Where each of the fleet's dashboards is, as a Grafana path with the variables filled in. */
export function dashboardLinks(cr: UnmuteDeployment): { title: string; path: string }[] {
  const m = cr.spec.monitoring;
  if (!m.enabled || !m.dashboards.enabled) return [];
  const { namespace, name } = cr.metadata;
  const query = new URLSearchParams({ 'var-namespace': namespace, 'var-fleet': name }).toString();
  return FLEET_DASHBOARDS.map((spec) => {
    const uid = m.dashboards.perFleet ? fleetDashboardUid(spec, namespace, name) : genericDashboardUid(spec);
    return { title: spec.title, path: `/d/${uid}?${query}` };
  });
}
