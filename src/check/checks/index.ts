// Every check, in report order. Each is a pure function of the gathered facts.
import type { CheckResult, Facts } from '../types.ts';
import { fleetExposureChecks } from './exposure.ts';
import { fleetChecks, fleetSchemaCheck } from './fleet.ts';
import { gpuChecks } from './gpu.ts';
import { fleetGrafanaChecks } from './grafana.ts';
import { kubernetesChecks } from './kubernetes.ts';
import { operatorChecks } from './operator.ts';
import { fleetPrometheusCheck, prometheusOperatorCheck } from './prometheus.ts';
import { rbacChecks } from './rbac.ts';

function fleetsNotice(f: Facts): CheckResult[] {
  const out: CheckResult[] = f.ignoredDocuments.map((d) => ({
    group: 'fleet' as const,
    id: 'fleet.ignored',
    title: 'Document is not an UnmuteDeployment',
    status: 'skip' as const,
    message: `${d}: not checked`,
  }));
  if (f.fleets.length === 0) {
    const where = f.fleetScope.namespace === '' ? 'any namespace' : `namespace ${f.fleetScope.namespace}`;
    out.push({
      group: 'fleet',
      id: 'fleet.none',
      title: 'UnmuteDeployments',
      status: 'skip',
      message: f.fleetScope.fromFile ? 'the file holds no UnmuteDeployment' : `none in ${where}: pass -f <file> to check one before applying it`,
    });
  }
  return out;
}

export function runChecks(f: Facts): CheckResult[] {
  const out = kubernetesChecks(f);
  // Without a cluster, a file's CRs can still be checked against the schema.
  if (!f.server.ok) return [...out, ...f.fleets.map(fleetSchemaCheck)];
  out.push(...operatorChecks(f), ...rbacChecks(f), ...gpuChecks(f), prometheusOperatorCheck(f));
  for (const fleet of f.fleets) {
    const p = fleetPrometheusCheck(f, fleet);
    if (p !== undefined) out.push(p);
    out.push(...fleetGrafanaChecks(f, fleet), ...fleetExposureChecks(f, fleet), ...fleetChecks(f, fleet));
  }
  out.push(...fleetsNotice(f));
  return out;
}
