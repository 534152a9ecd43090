// Scraping: which components get a monitor, on which port and path, with which labels; and the
// pod annotations for a Prometheus without the operator.
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { describe, expect, it } from 'vitest';
import { renderMonitoring, scrapeAnnotations } from '../../../src/monitoring/index.ts';
import { LABEL_METRICS_SERVICE } from '../../../src/api/v1alpha1/labels.ts';
import { renderScrapeObjects } from '../../../src/monitoring/scrape.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';
import { everything, podMonitorSample, sample } from '../../support/monitoring.ts';

type Endpoint = { port: string; path: string; interval: string; scrapeTimeout?: string; relabelings: Array<Record<string, string>> };
const monitors = (objs: KubeObject[]) => objs.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PodMonitor');
const spec = (o: KubeObject) => o['spec'] as Record<string, unknown> & { selector: { matchLabels: Record<string, string> } };
const endpoint = (o: KubeObject): Endpoint => {
  const s = spec(o) as { endpoints?: Endpoint[]; podMetricsEndpoints?: Endpoint[] };
  const e = (s.endpoints ?? s.podMetricsEndpoints)?.[0];
  if (e === undefined) throw new Error('no endpoint');
  return e;
};

describe('scrape objects', () => {
  it.each([
    ['an external LLM and no voice cloning', {}, ['backend', 'stt', 'tts']],
    ['an in-cluster LLM', { llm: { external: undefined, inCluster: { image: 'vllm', model: 'm' } } }, ['backend', 'stt', 'tts', 'llm']],
    ['voice cloning', { voiceCloning: { image: 'moshi' } }, ['backend', 'stt', 'tts', 'voice-cloning']],
    ['voice cloning disabled', { voiceCloning: { image: 'moshi', enabled: false } }, ['backend', 'stt', 'tts']],
    ['a frontend and Redis (no metrics)', { frontend: { image: 'f' }, redis: { inCluster: {} } }, ['backend', 'stt', 'tts']],
  ])('a fleet with %s gets monitors for %j', (_label, extra, components) => {
    const objs = renderScrapeObjects(anUnmuteDeployment(extra));
    expect(monitors(objs).map((o) => spec(o).selector.matchLabels['unmute.sh/component'])).toEqual(components);
  });

  it('validates every ServiceMonitor and PodMonitor against the prometheus-operator schema', () => {
    for (const o of monitors(renderScrapeObjects(sample()))) expect(() => new ServiceMonitor(o as never).validate()).not.toThrow();
    for (const o of monitors(renderScrapeObjects(podMonitorSample()))) expect(() => new PodMonitor(o as never).validate()).not.toThrow();
  });

  it('scrapes /metrics on the http port every 5 s by default, with job <name>-<component>', () => {
    const objs = monitors(renderScrapeObjects(anUnmuteDeployment({}, { name: 'demo' })));
    for (const o of objs) {
      const e = endpoint(o);
      const component = spec(o).selector.matchLabels['unmute.sh/component'];
      expect(e).toMatchObject({ port: 'http', path: '/metrics', interval: '5s' });
      expect(e.relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: `demo-${component}` });
    }
  });

  it('attaches the fleet and tier to every series through targetLabels or podTargetLabels', () => {
    const sm = monitors(renderScrapeObjects(sample()))[0]!;
    expect(spec(sm)['targetLabels']).toEqual(['unmute.sh/fleet', 'unmute.sh/component']);
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

  it('scrapes draining backends: the ServiceMonitor selects a metrics Service over every backend pod', () => {
    const objs = renderScrapeObjects(anUnmuteDeployment({}, { name: 'demo' }));
    const svc = objs.find((o) => o.kind === 'Service')!;
    expect(svc.metadata.name).toBe('demo-backend-metrics');
    expect(svc.metadata.labels?.[LABEL_METRICS_SERVICE]).toBe('true');
    const selector = (svc['spec'] as { selector: Record<string, string> }).selector;
    expect(selector).not.toHaveProperty('unmute.sh/serving');
    const backendMonitor = monitors(objs).find((o) => spec(o).selector.matchLabels['unmute.sh/component'] === 'backend')!;
    expect(spec(backendMonitor).selector.matchLabels[LABEL_METRICS_SERVICE]).toBe('true');
    for (const [k, v] of Object.entries(spec(backendMonitor).selector.matchLabels)) expect(svc.metadata.labels?.[k]).toBe(v);
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
