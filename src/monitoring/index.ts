// Monitoring as code for one UnmuteDeployment: scrape objects, rules, dashboards. Pure: the
// controller applies the result and adds owner references.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { ClusterCapabilities, DesiredObject } from '../render/types.ts';
import { renderDashboards } from './dashboards/deliver.ts';
import { renderPrometheusRule } from './rules/prometheus-rule.ts';
import { renderScrapeObjects } from './scrape.ts';

export { scrapeAnnotations, scrapeTargets, jobName } from './scrape.ts';
export { generatedDashboardFiles } from './dashboards/catalog.ts';
export { renderOperatorRules, type OperatorRulesOptions } from './rules/operator.ts';
export { fleetRuleGroups } from './rules/prometheus-rule.ts';
export { FleetMetrics, type FleetSnapshot, type ComponentSnapshot, type ScaleDirection } from './fleet-metrics.ts';

/**
 * Everything monitoring needs for a fleet. prometheus-operator objects only when its CRDs are
 * served (the controller reports a condition otherwise); dashboards always, as ConfigMaps.
 */
export function renderMonitoring(fleet: UnmuteDeployment, capabilities: ClusterCapabilities): DesiredObject[] {
  const m = fleet.spec.monitoring;
  if (!m.enabled) return [];
  const out: DesiredObject[] = [];
  if (capabilities.prometheusOperator) {
    out.push(...renderScrapeObjects(fleet));
    // Recording rules feed the dashboards, so the PrometheusRule exists even with alerts off.
    out.push(renderPrometheusRule(fleet));
  }
  out.push(...renderDashboards(fleet, capabilities));
  return out;
}
