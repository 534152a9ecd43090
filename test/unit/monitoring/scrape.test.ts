// Scraping: which components get a monitor, on which port and path, with which labels; and the
// pod annotations for a Prometheus without the operator.
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { describe, expect, it } from 'vitest';
import { renderMonitoring, scrapeAnnotations } from '../../../src/monitoring/index.ts';
import { LABEL_METRICS_SERVICE } from '../../../src/api/v1alpha1/labels.ts';
import { renderScrapeObjects } from '../../../src/monitoring/scrape.ts';
import { renderFleet } from '../../../src/render/index.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';
import { everything, podMonitorSample, sample } from '../../support/monitoring.ts';

type Endpoint = { port: string; path: string; interval: string; scrapeTimeout?: string; relabelings: Array<Record<string, unknown>> };
const monitors = (objs: KubeObject[]) => objs.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor');
const spec = (o: KubeObject) => o['spec'] as Record<string, unknown> & { selector: { matchLabels: Record<string, string> } };
const endpointsOf = (o: KubeObject): Endpoint[] => {
  const s = spec(o) as { endpoints?: Endpoint[]; podMetricsEndpoints?: Endpoint[] };
  return s.endpoints ?? s.podMetricsEndpoints ?? [];
};
const endpoint = (o: KubeObject): Endpoint => {
  const e = endpointsOf(o)[0];
  if (e === undefined) throw new Error('no endpoint');
  return e;
};
/** The component an endpoint keeps (its `keep` relabeling on the pod's component label). */
const keptComponent = (e: Endpoint) => e.relabelings.find((r) => r['action'] === 'keep' && (r['sourceLabels'] as string[])[0] === '__meta_kubernetes_pod_label_app_kubernetes_io_component')?.['regex'];

describe('scrape objects', () => {
  it.each([
    ['an external LLM and no voice cloning', {}, ['backend', 'stt', 'tts']],
    ['an in-cluster LLM', { llm: { external: undefined, inCluster: { image: 'vllm', model: 'm' } } }, ['backend', 'stt', 'tts', 'llm']],
    ['voice cloning', { voiceCloning: { image: 'moshi' } }, ['backend', 'stt', 'tts', 'voice-cloning']],
    ['voice cloning disabled', { voiceCloning: { image: 'moshi', enabled: false } }, ['backend', 'stt', 'tts']],
    ['a frontend and Redis (no metrics)', { frontend: { image: 'f' }, redis: { inCluster: {} } }, ['backend', 'stt', 'tts']],
  ])('a fleet with %s gets one monitor, with an endpoint for each of %j', (_label, extra, components) => {
    for (const scrapeKind of ['ServiceMonitor', 'PodMonitor'] as const) {
      const objs = monitors(renderScrapeObjects(anUnmuteDeployment({ ...extra, monitoring: { scrapeKind } })));
      expect(objs.map((o) => o.kind)).toEqual([scrapeKind]);
      expect(endpointsOf(objs[0]!).map(keptComponent)).toEqual(components);
    }
  });

  it('validates every ServiceMonitor and PodMonitor against the prometheus-operator schema', () => {
    for (const o of monitors(renderScrapeObjects(sample()))) expect(() => new ServiceMonitor(o as never).validate()).not.toThrow();
    for (const o of monitors(renderScrapeObjects(podMonitorSample()))) expect(() => new PodMonitor(o as never).validate()).not.toThrow();
  });

  it('scrapes /metrics on the http port every 5 s by default, with job <name>-<component>', () => {
    const [monitor] = monitors(renderScrapeObjects(anUnmuteDeployment({}, { name: 'demo' })));
    for (const e of endpointsOf(monitor!)) {
      expect(e).toMatchObject({ port: 'http', path: '/metrics', interval: '5s' });
      // The component is kept before the job is named after it.
      expect(e.relabelings.slice(0, 2)).toEqual([
        { action: 'keep', sourceLabels: ['__meta_kubernetes_pod_label_app_kubernetes_io_component'], regex: keptComponent(e) },
        { action: 'replace', targetLabel: 'job', replacement: `demo-${String(keptComponent(e))}` },
      ]);
    }
  });

  it('attaches the fleet and tier to every series from the pod labels', () => {
    const sm = monitors(renderScrapeObjects(sample()))[0]!;
    expect(spec(sm)['podTargetLabels']).toEqual(['unmute.sh/fleet', 'unmute.sh/component']);
    const pm = monitors(renderScrapeObjects(podMonitorSample()))[0]!;
    expect(spec(pm)['podTargetLabels']).toEqual(['unmute.sh/fleet', 'unmute.sh/component']);
  });

  it('adds the configured constant labels, escaping $', () => {
    const cr = anUnmuteDeployment({ monitoring: { targetLabels: { cluster: 'eu-1', cost: '$5' } } });
    const e = endpoint(monitors(renderScrapeObjects(cr))[0]!);
    expect(e.relabelings).toContainEqual({ action: 'replace', targetLabel: 'cluster', replacement: 'eu-1' });
    expect(e.relabelings).toContainEqual({ action: 'replace', targetLabel: 'cost', replacement: '$$5' });
  });

  it.each([['namespace'], ['job'], ['unmute_sh_fleet'], ['bad-name']])('refuses %s as a constant target label', (label) => {
    expect(() => anUnmuteDeployment({ monitoring: { targetLabels: { [label]: 'x' } } })).toThrow();
  });

  it('uses the configured interval, timeout and object labels', () => {
    const cr = podMonitorSample();
    for (const o of monitors(renderScrapeObjects(cr))) expect(endpoint(o)).toMatchObject({ interval: '30s', scrapeTimeout: '10s' });
    const labelled = anUnmuteDeployment({ monitoring: { labels: { release: 'kube-prometheus-stack' } } });
    for (const o of monitors(renderScrapeObjects(labelled))) expect(o.metadata.labels?.['release']).toBe('kube-prometheus-stack');
  });

  it('scrapes draining pods: the ServiceMonitor reads one headless metrics Service over every pod of the fleet', () => {
    const objs = renderScrapeObjects(anUnmuteDeployment({ llm: { external: undefined, inCluster: { image: 'vllm', model: 'm' } } }, { name: 'demo' }));
    const services = objs.filter((o) => o.kind === 'Service');
    expect(services.map((o) => o.metadata.name)).toEqual(['demo-metrics']);
    const svc = services[0]!;
    expect(svc.metadata.labels?.[LABEL_METRICS_SERVICE]).toBe('true');
    const svcSpec = svc['spec'] as { clusterIP: string; selector: Record<string, string>; ports: Array<{ name: string; targetPort: string }> };
    expect(svcSpec.clusterIP).toBe('None');
    expect(svcSpec.selector).toEqual({ 'app.kubernetes.io/name': 'unmute', 'app.kubernetes.io/instance': 'demo' });
    expect(svcSpec.ports.map((p) => [p.name, p.targetPort])).toEqual([['http', 'http']]);
    // The monitor selects this Service and no component's own Service (which select serving pods only).
    const monitor = monitors(objs)[0]!;
    for (const [k, v] of Object.entries(spec(monitor).selector.matchLabels)) expect(svc.metadata.labels?.[k]).toBe(v);
    const fleet = anUnmuteDeployment({ llm: { external: undefined, inCluster: { image: 'vllm', model: 'm' } } }, { name: 'demo' });
    for (const o of renderFleet(fleet, { capabilities: everything, replicas: {} }).filter((x) => x.kind === 'Service' && x.metadata.name !== 'demo-metrics')) {
      expect(Object.entries(spec(monitor).selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v)).toBe(false);
    }
  });

  it('never selects on unmute.sh/serving', () => {
    for (const cr of [sample(), podMonitorSample()])
      for (const o of renderScrapeObjects(cr)) expect(JSON.stringify(o)).not.toContain('unmute.sh/serving');
  });

  it('puts objects in the fleet namespace without owner references', () => {
    for (const o of renderMonitoring(sample(), everything)) {
      expect(o.metadata.namespace).toBe('voice');
      expect(o.metadata.ownerReferences).toBeUndefined();
    }
  });
});

describe('renderMonitoring', () => {
  it('skips prometheus-operator objects when the operator is not installed, keeping dashboards', () => {
    const kinds = renderMonitoring(sample(), { ...everything, prometheusOperator: false }).map((o) => o.kind);
    expect(kinds).not.toContain('ServiceMonitor');
    expect(kinds).not.toContain('PrometheusRule');
    expect(kinds).toContain('ConfigMap');
  });

  it('renders nothing when monitoring is disabled', () => {
    expect(renderMonitoring(anUnmuteDeployment({ monitoring: { enabled: false } }), everything)).toEqual([]);
  });

  it('keeps the PrometheusRule for its recording rules when alerts are disabled', () => {
    const objs = renderMonitoring(anUnmuteDeployment({ monitoring: { alerts: { enabled: false } } }), everything);
    const rule = objs.find((o) => o.kind === 'PrometheusRule')!;
    const groups = (rule['spec'] as { groups: Array<{ rules: Array<Record<string, unknown>> }> }).groups;
    expect(groups.flatMap((g) => g.rules).every((r) => 'record' in r)).toBe(true);
  });
});

describe('scrapeAnnotations', () => {
  const withAnnotations = (extra: Record<string, unknown> = {}) =>
    anUnmuteDeployment({ monitoring: { podAnnotations: true }, backend: { port: 8000 }, ...extra });

  it.each([
    ['backend', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8000', 'prometheus.io/path': '/metrics' }],
    ['stt', { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' }],
    ['frontend', {}],
    ['redis', {}],
    ['llm', {}],
  ] as const)('annotates %s pods with %j', (component, expected) => {
    expect(scrapeAnnotations(withAnnotations(), component)).toEqual(expected);
  });

  it('annotates nothing unless podAnnotations is set', () => {
    expect(scrapeAnnotations(anUnmuteDeployment(), 'backend')).toEqual({});
  });

  it('annotates nothing when monitoring is disabled', () => {
    expect(scrapeAnnotations(anUnmuteDeployment({ monitoring: { enabled: false, podAnnotations: true } }), 'backend')).toEqual({});
  });
});
