// Will Grafana load the fleet's dashboards? kube-prometheus-stack's Grafana runs k8s-sidecar,
// which loads ConfigMaps with one label (LABEL, optionally LABEL_VALUE) from the namespaces in
// NAMESPACE (its own by default, ALL for every one). The dashboards' label and namespace must match.
import { z } from 'zod';
import { DOC } from '../docs.ts';
import { KINDS, servedKey } from '../kinds.ts';
import type { CheckResult, Facts, FleetInput } from '../types.ts';
import type { KubeObject } from '../../runtime/object.ts';

const group = 'monitoring' as const;

const envSchema = z.array(z.looseObject({ name: z.string(), value: z.string().optional(), valueFrom: z.unknown().optional() }));

export interface SidecarView {
  workload: string;
  namespace: string;
  label: string | undefined;
  /** undefined: any value. */
  labelValue: string | undefined;
  /** `ALL`, or the namespaces watched. */
  namespaces: 'ALL' | string[];
  resource: string;
  folderAnnotation: string;
  /** Some of the env comes from valueFrom: the view may be incomplete. */
  indirect: boolean;
}

export function sidecarViews(workload: KubeObject): SidecarView[] {
  const spec = (workload['spec'] as { template?: { spec?: { containers?: unknown[]; initContainers?: unknown[] } } } | undefined)?.template?.spec;
  const out: SidecarView[] = [];
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    const env = envSchema.safeParse((c as { env?: unknown }).env ?? []);
    if (!env.success) continue;
    const get = (n: string) => env.data.find((e) => e.name === n);
    if (get('LABEL') === undefined || get('FOLDER') === undefined) continue;
    const ns = get('NAMESPACE')?.value;
    const own = workload.metadata.namespace ?? '';
    out.push({
      workload: `${own}/${workload.metadata.name}`,
      namespace: own,
      label: get('LABEL')?.value,
      labelValue: get('LABEL_VALUE')?.value || undefined,
      namespaces: ns === undefined || ns === '' ? [own] : ns.trim().toUpperCase() === 'ALL' ? 'ALL' : ns.split(',').map((s) => s.trim()),
      resource: (get('RESOURCE')?.value ?? 'configmap').toLowerCase(),
      folderAnnotation: get('FOLDER_ANNOTATION')?.value ?? 'k8s-sidecar-target-directory',
      indirect: env.data.some((e) => ['LABEL', 'LABEL_VALUE', 'NAMESPACE', 'RESOURCE'].includes(e.name) && e.valueFrom !== undefined),
    });
  }
  return out;
}

const describe = (s: SidecarView) =>
  `${s.workload}: label ${s.label ?? '?'}${s.labelValue === undefined ? '' : `=${s.labelValue}`} on ${s.resource}s in ${s.namespaces === 'ALL' ? 'all namespaces' : s.namespaces.join(', ')}`;

export function fleetGrafanaChecks(f: Facts, fleet: FleetInput): CheckResult[] {
  if (!fleet.parsed.ok) return [];
  const d = fleet.parsed.fleet.spec.monitoring.dashboards;
  const fleetName = `${fleet.namespace}/${fleet.name}`;
  // Without per-fleet copies the fleet has no dashboard objects of its own: the chart's shared set serves it.
  if (!fleet.parsed.fleet.spec.monitoring.enabled || !d.enabled || !d.perFleet) return [];
  const out: CheckResult[] = [];
  if (d.grafanaOperator.enabled) {
    const served = f.served[servedKey(KINDS.grafanaDashboard)] === true;
    out.push({
      group,
      id: 'monitoring.grafana-operator',
      title: `grafana-operator serves GrafanaDashboard for ${fleetName}`,
      fleet: fleetName,
      status: served ? 'pass' : 'fail',
      message: served ? 'grafana.integreatly.org/v1beta1 GrafanaDashboard served' : 'spec.monitoring.dashboards.grafanaOperator.enabled, but GrafanaDashboard is not served',
      ...(served ? {} : { hint: 'install grafana-operator, or turn grafanaOperator off', doc: DOC.grafana }),
    });
  }
  const base = { group, id: 'monitoring.grafana-sidecar', title: `Grafana's sidecar loads the dashboards of ${fleetName}`, fleet: fleetName };
  const wanted = `label ${d.labelKey}=${d.labelValue} in namespace ${fleet.namespace}`;
  if (!f.grafanaSidecars.ok) {
    out.push({ ...base, status: 'warn', message: `cannot list Deployments to find Grafana: ${f.grafanaSidecars.error}; the dashboards carry ${wanted}` });
    return out;
  }
  const views = f.grafanaSidecars.value.flatMap(sidecarViews);
  if (views.length === 0) {
    out.push({
      ...base,
      status: 'warn',
      message: `no Grafana dashboard sidecar found (a container with LABEL and FOLDER env); the dashboards are ConfigMaps with ${wanted}`,
      hint: 'with kube-prometheus-stack: grafana.sidecar.dashboards.enabled=true and searchNamespace=ALL',
      doc: DOC.grafana,
    });
    return out;
  }
  const match = views.find(
    (s) =>
      s.label === d.labelKey &&
      (s.labelValue === undefined || s.labelValue === d.labelValue) &&
      (s.namespaces === 'ALL' || s.namespaces.includes(fleet.namespace)) &&
      (s.resource === 'configmap' || s.resource === 'both'),
  );
  if (match === undefined) {
    const indirect = views.some((s) => s.indirect);
    out.push({
      ...base,
      status: indirect ? 'warn' : 'fail',
      message: `no sidecar watches ${wanted}${indirect ? ' (some sidecar settings come from valueFrom and could not be read)' : ''}`,
      hint: 'set spec.monitoring.dashboards.labelKey/labelValue to the sidecar label, and let it search this namespace (kube-prometheus-stack: grafana.sidecar.dashboards.searchNamespace=ALL)',
      doc: DOC.grafana,
      details: views.map(describe),
    });
    return out;
  }
  out.push({ ...base, status: 'pass', message: describe(match) });
  if (d.folder !== undefined && match.folderAnnotation !== d.folderAnnotation) {
    out.push({
      ...base,
      id: 'monitoring.grafana-folder',
      title: `Grafana folder of ${fleetName}`,
      status: 'warn',
      message: `spec.monitoring.dashboards.folder is set through annotation ${d.folderAnnotation}, but ${match.workload} reads ${match.folderAnnotation}`,
      hint: `set spec.monitoring.dashboards.folderAnnotation: ${match.folderAnnotation}`,
      doc: DOC.grafana,
    });
  }
  return out;
}
