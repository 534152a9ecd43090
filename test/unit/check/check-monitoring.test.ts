import { describe, expect, it } from 'vitest';
import { fleetGrafanaChecks, sidecarViews } from '../../../src/check/checks/grafana.ts';
import { fleetPrometheusCheck, prometheusOperatorCheck } from '../../../src/check/checks/prometheus.ts';
import { factOk } from '../../../src/check/types.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { aFleet, allServed, healthyFacts, one } from './support.ts';

function aPrometheus(namespace: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'monitoring.coreos.com/v1', kind: 'Prometheus', metadata: { name: 'kps', namespace }, spec };
}

const KPS = { matchLabels: { release: 'kube-prometheus-stack' } };
const labelled = aFleet({ monitoring: { labels: { release: 'kube-prometheus-stack' }, dashboards: { perFleet: true } } }, { namespace: 'voice' });

describe('the prometheus-operator check', () => {
  it('warns, with the way out, when the CRDs are missing', () => {
    const r = prometheusOperatorCheck(healthyFacts({ served: allServed(['ServiceMonitor', 'PrometheusRule']) }));
    expect(r.status).toBe('warn');
    expect(r.message).toContain('ServiceMonitor, PrometheusRule');
    expect(r.hint).toMatch(/podAnnotations/);
  });
});

describe('the Prometheus selection check', () => {
  it('passes when a Prometheus selects monitors and rules in every namespace', () => {
    const prom = aPrometheus('monitoring', { serviceMonitorSelector: KPS, serviceMonitorNamespaceSelector: {}, ruleSelector: KPS, ruleNamespaceSelector: {} });
    const r = fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), labelled);
    expect(r).toMatchObject({ status: 'pass', message: "Prometheus monitoring/kps selects the fleet's ServiceMonitors and PrometheusRule" });
  });

  it('fails with the labels looked for when the fleet carries none', () => {
    const prom = aPrometheus('monitoring', { serviceMonitorSelector: KPS, serviceMonitorNamespaceSelector: {}, ruleSelector: KPS, ruleNamespaceSelector: {} });
    const r = fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), aFleet({}, { namespace: 'voice' }))!;
    expect(r.status).toBe('fail');
    expect(r.message).toContain('spec.monitoring.labels (none)');
    expect(r.details).toEqual(['monitoring/kps: serviceMonitorSelector release=kube-prometheus-stack in {} (everything); ruleSelector release=kube-prometheus-stack in {} (everything)']);
  });

  it('treats an unset namespace selector as the Prometheus namespace only', () => {
    const prom = aPrometheus('monitoring', { serviceMonitorSelector: KPS, ruleSelector: KPS });
    const r = fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), labelled)!;
    expect(r.status).toBe('fail');
    expect(r.details![0]).toContain('in only namespace monitoring');
    const same = aFleet({ monitoring: { labels: { release: 'kube-prometheus-stack' } } }, { namespace: 'monitoring' });
    expect(fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), same)!.status).toBe('pass');
  });

  it('matches namespace selectors against the namespace labels', () => {
    const prom = aPrometheus('monitoring', { serviceMonitorSelector: {}, serviceMonitorNamespaceSelector: { matchLabels: { team: 'voice' } }, ruleSelector: {}, ruleNamespaceSelector: { matchLabels: { team: 'voice' } } });
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'voice', labels: { team: 'voice' } } };
    expect(fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), labelled)!.status).toBe('fail');
    expect(fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]), namespaces: { voice: factOk(ns) } }), labelled)!.status).toBe('pass');
  });

  it('fails when the monitors are scraped but the rules are not loaded', () => {
    const prom = aPrometheus('monitoring', { serviceMonitorSelector: KPS, serviceMonitorNamespaceSelector: {} });
    const r = fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), labelled)!;
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(/loads no rule/);
  });

  it('follows scrapeKind: PodMonitor', () => {
    const prom = aPrometheus('monitoring', { podMonitorSelector: {}, podMonitorNamespaceSelector: {}, ruleSelector: {}, ruleNamespaceSelector: {} });
    const pm = aFleet({ monitoring: { scrapeKind: 'PodMonitor' } });
    expect(fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), pm)!.status).toBe('pass');
    expect(fleetPrometheusCheck(healthyFacts({ prometheuses: factOk([prom]) }), aFleet())!.status).toBe('fail');
  });

  it('warns with the labels it looked for when no Prometheus kind is served', () => {
    const r = fleetPrometheusCheck(healthyFacts({ prometheuses: undefined }), labelled)!;
    expect(r.status).toBe('warn');
    expect(r.message).toContain('kind Prometheus is not served');
    expect(r.message).toContain('release=kube-prometheus-stack');
  });

  it('skips a fleet with monitoring off', () => {
    expect(fleetPrometheusCheck(healthyFacts(), aFleet({ monitoring: { enabled: false } }))!.status).toBe('skip');
  });
});

function aGrafana(env: { name: string; value?: string }[], namespace = 'monitoring'): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'kps-grafana', namespace },
    spec: { template: { spec: { containers: [{ name: 'grafana' }, { name: 'grafana-sc-dashboard', env: [{ name: 'FOLDER', value: '/tmp/dashboards' }, ...env] }] } } },
  };
}

describe('the Grafana sidecar check', () => {
  it('reads k8s-sidecar settings, with its defaults', () => {
    expect(sidecarViews(aGrafana([{ name: 'LABEL', value: 'grafana_dashboard' }]))[0]).toMatchObject({
      label: 'grafana_dashboard',
      labelValue: undefined,
      namespaces: ['monitoring'],
      resource: 'configmap',
      folderAnnotation: 'k8s-sidecar-target-directory',
    });
  });

  it('checks nothing per fleet when the shared dashboards serve it', () => {
    const g = aGrafana([{ name: 'LABEL', value: 'grafana_dashboard' }]);
    expect(fleetGrafanaChecks(healthyFacts({ grafanaSidecars: factOk([g]) }), aFleet({}, { namespace: 'voice' }))).toEqual([]);
  });

  it('passes a sidecar watching the label in all namespaces', () => {
    const g = aGrafana([{ name: 'LABEL', value: 'grafana_dashboard' }, { name: 'LABEL_VALUE', value: '1' }, { name: 'NAMESPACE', value: 'ALL' }, { name: 'RESOURCE', value: 'both' }]);
    const r = fleetGrafanaChecks(healthyFacts({ grafanaSidecars: factOk([g]) }), labelled);
    expect(one(r, 'monitoring.grafana-sidecar').status).toBe('pass');
  });

  it('fails a sidecar that only watches its own namespace, listing what it watches', () => {
    const g = aGrafana([{ name: 'LABEL', value: 'grafana_dashboard' }]);
    const r = one(fleetGrafanaChecks(healthyFacts({ grafanaSidecars: factOk([g]) }), labelled), 'monitoring.grafana-sidecar');
    expect(r.status).toBe('fail');
    expect(r.details).toEqual(['monitoring/kps-grafana: label grafana_dashboard on configmaps in monitoring']);
    expect(r.hint).toMatch(/searchNamespace=ALL/);
  });

  it('fails a sidecar with another label value', () => {
    const g = aGrafana([{ name: 'LABEL', value: 'grafana_dashboard' }, { name: 'LABEL_VALUE', value: 'yes' }, { name: 'NAMESPACE', value: 'ALL' }]);
    expect(one(fleetGrafanaChecks(healthyFacts({ grafanaSidecars: factOk([g]) }), labelled), 'monitoring.grafana-sidecar').status).toBe('fail');
  });

  it('warns when no sidecar is found', () => {
    const r = one(fleetGrafanaChecks(healthyFacts(), labelled), 'monitoring.grafana-sidecar');
    expect(r.status).toBe('warn');
    expect(r.message).toContain('label grafana_dashboard=1 in namespace voice');
  });

  it('warns when the folder annotation differs', () => {
    const g = aGrafana([{ name: 'LABEL', value: 'grafana_dashboard' }, { name: 'NAMESPACE', value: 'voice,other' }]);
    const fleet = aFleet({ monitoring: { dashboards: { perFleet: true, folder: 'Unmute' } } }, { namespace: 'voice' });
    expect(one(fleetGrafanaChecks(healthyFacts({ grafanaSidecars: factOk([g]) }), fleet), 'monitoring.grafana-folder').status).toBe('warn');
  });

  it('fails grafana-operator dashboards without the GrafanaDashboard kind', () => {
    const fleet = aFleet({ monitoring: { dashboards: { perFleet: true, grafanaOperator: { enabled: true } } } });
    const r = one(fleetGrafanaChecks(healthyFacts({ served: allServed(['GrafanaDashboard']) }), fleet), 'monitoring.grafana-operator');
    expect(r.status).toBe('fail');
  });
});
