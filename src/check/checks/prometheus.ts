// Will a Prometheus actually scrape the fleet? The prometheus-operator CRDs must be served, and a
// `Prometheus` must select the fleet's ServiceMonitors (or PodMonitors) and PrometheusRule, both by
// their labels and by their namespace. A mismatch fails silently in the cluster: it is reported here.
import { DOC } from '../docs.ts';
import { KINDS, servedKey } from '../kinds.ts';
import { renderedObjects } from '../fleets.ts';
import { selectorMatches, showLabels, showSelector, toSelector, type Selector } from '../selectors.ts';
import type { CheckResult, Facts, FleetInput } from '../types.ts';
import type { KubeObject } from '../../runtime/object.ts';

const group = 'monitoring' as const;

export function prometheusOperatorCheck(f: Facts): CheckResult {
  const kinds = [KINDS.serviceMonitor, KINDS.podMonitor, KINDS.prometheusRule];
  const missing = kinds.filter((k) => !f.served[servedKey(k)]).map((k) => k.kind);
  const base = { group, id: 'monitoring.crds', title: 'prometheus-operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule)' };
  if (missing.length === 0) return { ...base, status: 'pass', message: 'served' };
  return {
    ...base,
    status: 'warn',
    message: `not served: ${missing.join(', ')}; the operator will skip those objects`,
    hint: 'install kube-prometheus-stack (or the prometheus-operator), or set spec.monitoring.podAnnotations for a plain Prometheus',
    doc: DOC.prometheus,
  };
}

interface PromView {
  name: string;
  namespace: string;
  monitor: Selector;
  monitorNamespace: Selector;
  rule: Selector;
  ruleNamespace: Selector;
}

function viewOf(p: KubeObject, scrapeKind: 'ServiceMonitor' | 'PodMonitor'): PromView {
  // Each selector is parsed by toSelector; anything else in the spec is irrelevant here.
  const raw = p['spec'];
  const spec = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const sm = scrapeKind === 'ServiceMonitor';
  return {
    name: p.metadata.name ?? '',
    namespace: p.metadata.namespace ?? '',
    monitor: toSelector(sm ? spec['serviceMonitorSelector'] : spec['podMonitorSelector']),
    monitorNamespace: toSelector(sm ? spec['serviceMonitorNamespaceSelector'] : spec['podMonitorNamespaceSelector']),
    rule: toSelector(spec['ruleSelector']),
    ruleNamespace: toSelector(spec['ruleNamespaceSelector']),
  };
}

// prometheus-operator: a null object selector selects nothing; a null namespace selector means
// the Prometheus' own namespace only; {} selects everything.
function selects(objSel: Selector, nsSel: Selector, prom: PromView, obj: { labels: Record<string, string>; namespace: string; nsLabels: Record<string, string> }): boolean {
  if (objSel === null || !selectorMatches(objSel, obj.labels)) return false;
  return nsSel === null ? obj.namespace === prom.namespace : selectorMatches(nsSel, obj.nsLabels);
}

const showNs = (s: Selector, prom: PromView) => (s === null ? `only namespace ${prom.namespace}` : showSelector(s));

export function fleetPrometheusCheck(f: Facts, fleet: FleetInput): CheckResult | undefined {
  if (!fleet.parsed.ok) return undefined;
  const cr = fleet.parsed.fleet;
  const fleetName = `${fleet.namespace}/${fleet.name}`;
  const m = cr.spec.monitoring;
  const base = { group, id: 'monitoring.prometheus', title: `A Prometheus selects the monitoring of ${fleetName}`, fleet: fleetName };
  if (!m.enabled) return { ...base, status: 'skip', message: 'spec.monitoring.enabled is false' };
  const operatorServed = f.served[servedKey(KINDS.serviceMonitor)] && f.served[servedKey(KINDS.prometheusRule)];
  if (!operatorServed) {
    return m.podAnnotations
      ? { ...base, status: 'pass', message: 'no prometheus-operator; pods carry prometheus.io annotations for a plain Prometheus' }
      : {
          ...base,
          status: 'warn',
          message: 'no prometheus-operator and spec.monitoring.podAnnotations is false: nothing will scrape this fleet',
          hint: 'install kube-prometheus-stack, or set spec.monitoring.podAnnotations: true and use the scrape configuration in the docs',
          doc: DOC.monitoringWithoutOperator,
        };
  }
  const objects = renderedObjects(cr);
  const monitors = objects.filter((o) => o.kind === m.scrapeKind);
  const rules = objects.filter((o) => o.kind === 'PrometheusRule');
  const nsObj = f.namespaces[fleet.namespace];
  const nsLabels = (nsObj?.ok ? nsObj.value?.metadata.labels : undefined) ?? { 'kubernetes.io/metadata.name': fleet.namespace };
  const carried = `its ${m.scrapeKind}s and PrometheusRule carry spec.monitoring.labels ${showLabels(m.labels)}`;
  const proms = f.prometheuses;
  if (proms === undefined || (proms.ok && proms.value.length === 0)) {
    return {
      ...base,
      status: 'warn',
      message: `no Prometheus object found${proms === undefined ? ' (kind Prometheus is not served)' : ''}; ${carried}`,
      hint: 'make sure the Prometheus that should scrape the fleet selects these labels (kube-prometheus-stack: release=<release name>)',
      doc: DOC.prometheus,
    };
  }
  if (!proms.ok) return { ...base, status: 'warn', message: `cannot list Prometheus objects: ${proms.error}; ${carried}` };
  const views = proms.value.map((p) => viewOf(p, m.scrapeKind));
  const target = (o: { metadata: { labels?: Record<string, string> } }) => ({ labels: o.metadata.labels ?? {}, namespace: fleet.namespace, nsLabels });
  const scrapes = (v: PromView) => monitors.every((o) => selects(v.monitor, v.monitorNamespace, v, target(o)));
  const evaluates = (v: PromView) => rules.every((o) => selects(v.rule, v.ruleNamespace, v, target(o)));
  const full = views.find((v) => scrapes(v) && evaluates(v));
  if (full !== undefined) {
    return { ...base, status: 'pass', message: `Prometheus ${full.namespace}/${full.name} selects the fleet's ${m.scrapeKind}s and PrometheusRule` };
  }
  const details = views.map(
    (v) =>
      `${v.namespace}/${v.name}: ${m.scrapeKind.charAt(0).toLowerCase()}${m.scrapeKind.slice(1)}Selector ${v.monitor === null ? '(unset: selects nothing)' : showSelector(v.monitor)} in ${showNs(v.monitorNamespace, v)}; ruleSelector ${v.rule === null ? '(unset: selects nothing)' : showSelector(v.rule)} in ${showNs(v.ruleNamespace, v)}`,
  );
  const partial = views.find(scrapes);
  return {
    ...base,
    status: 'fail',
    message:
      partial !== undefined
        ? `Prometheus ${partial.namespace}/${partial.name} scrapes the fleet but loads no rule of it (no alerts, and the dashboards need the recording rules); ${carried}`
        : `no Prometheus selects the fleet's ${m.scrapeKind}s; ${carried}`,
    hint: 'set spec.monitoring.labels to labels your Prometheus selects (e.g. release: <kube-prometheus-stack release>), and check its namespace selectors',
    doc: DOC.monitoringConfig,
    details,
  };
}
