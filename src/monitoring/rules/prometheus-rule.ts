// The PrometheusRule of one fleet: its recording rules and alerts, scoped to its namespace and name.
// Types only: the models' runtime pulls a WebAssembly RE2 for their validators (16 MiB the operator
// would hold for good); the unit tests validate what is rendered against them.
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { UnmuteDeployment } from '../../api/v1alpha1/unmute-deployment.ts';
import { fleetLabels } from '../../api/v1alpha1/labels.ts';
import type { Desired, DesiredObject } from '../../render/types.ts';
import { monitoringObjectLabels } from '../scrape.ts';
import { alertRules } from './alerts.ts';
import { recordingRules } from './recording.ts';
import type { RuleGroup } from './types.ts';

function prometheusRuleName(cr: UnmuteDeployment): string {
  return `${cr.metadata.name}-rules`;
}

/**
 * Rule groups of a fleet, also usable as a plain Prometheus rule file (`groups:`). Group names carry
 * the fleet so that several fleets' groups stay apart in one Prometheus.
 */
export function fleetRuleGroups(cr: UnmuteDeployment): RuleGroup[] {
  const { namespace, name } = cr.metadata;
  const groups: RuleGroup[] = [
    { name: `unmute.${namespace}.${name}.recording`, rules: recordingRules({ namespace, fleet: name }) },
  ];
  const alerts = cr.spec.monitoring.alerts.enabled ? alertRules(cr) : [];
  if (alerts.length > 0) groups.push({ name: `unmute.${namespace}.${name}.alerts`, rules: alerts });
  return groups;
}

export function renderPrometheusRule(cr: UnmuteDeployment): DesiredObject {
  const rule: Desired<IPrometheusRule> = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: prometheusRuleName(cr),
      namespace: cr.metadata.namespace,
      labels: monitoringObjectLabels(cr, fleetLabels(cr.metadata.name)),
    },
    spec: { groups: fleetRuleGroups(cr) },
  };
  return rule;
}
