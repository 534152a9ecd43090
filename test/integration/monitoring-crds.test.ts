// The rendered monitoring objects against a real kube-apiserver loaded with the prometheus-operator
// CRDs: ServiceMonitors, PodMonitors, PrometheusRules, the metrics Service and the dashboard
// ConfigMaps must be accepted by a server-side dry-run create with strict field validation (an
// unknown or misspelled field is an error, not silently pruned).
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { unmuteDeployment } from '../../src/api/v1alpha1/unmute-deployment.ts';
import { renderMonitoring } from '../../src/monitoring/index.ts';
import { renderOperatorRules } from '../../src/monitoring/rules/operator.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import type { ClusterCapabilities } from '../../src/render/types.ts';
import { createNamespace, kubeConfig } from '../support/cluster.ts';
import { aRawUnmuteDeployment } from '../support/factories.ts';

const PLURALS: Record<string, string> = {
  ServiceMonitor: 'servicemonitors',
  PodMonitor: 'podmonitors',
  PrometheusRule: 'prometheusrules',
  Service: 'services',
  ConfigMap: 'configmaps',
};

interface Reply {
  status: number;
  body: string;
  warnings: string[];
}

async function dryRunCreate(kc: KubeConfig, o: KubeObject): Promise<Reply> {
  const plural = PLURALS[o.kind];
  if (plural === undefined) throw new Error(`no REST path known for ${o.kind}`);
  const group = o.apiVersion.includes('/') ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const path = `${group}/namespaces/${o.metadata.namespace}/${plural}?dryRun=All&fieldValidation=Strict&fieldManager=unmute-monitoring-test`;
  const url = new URL(path, kc.getCurrentCluster()?.server);
  const opts: RequestOptions = { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...opts, signal: AbortSignal.timeout(30_000) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const w = res.headers['warning'];
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), warnings: w === undefined ? [] : Array.isArray(w) ? w : [w] });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(o));
  });
}

async function problems(kc: KubeConfig, objs: KubeObject[]): Promise<string[]> {
  const out: string[] = [];
  for (const o of objs) {
    const r = await dryRunCreate(kc, o);
    if (r.status !== 201) out.push(`${o.kind} ${o.metadata.name}: HTTP ${r.status} ${r.body.slice(0, 600)}`);
    for (const w of r.warnings) out.push(`${o.kind} ${o.metadata.name}: warning ${w}`);
  }
  return out;
}

// The test cluster has the prometheus-operator CRDs, not grafana-operator's.
const ctx: ClusterCapabilities = { prometheusOperator: true, grafanaOperator: false, gatewayApi: false };

function fleet(namespace: string, monitoring: Record<string, unknown>) {
  return unmuteDeployment.parse(
    aRawUnmuteDeployment(
      {
        llm: { external: undefined, inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'google/gemma-3-12b-it' } },
        voiceCloning: { image: 'example.com/unmute/moshi:1' },
        autoscaling: { enabled: true },
        gpu: { maxTotal: 8 },
        monitoring,
      },
      { namespace, name: 'demo' },
    ),
  );
}

describe('monitoring objects against the prometheus-operator CRDs', () => {
  const kc = kubeConfig();

  it.each([
    ['ServiceMonitors', { labels: { release: 'kube-prometheus-stack' }, targetLabels: { cluster: 'eu-1' }, dashboards: { folder: 'Unmute' } }, 'ServiceMonitor'],
    ['PodMonitors', { scrapeKind: 'PodMonitor', interval: '30s', scrapeTimeout: '10s', alerts: { drainStuck: { thresholdSeconds: 900 } } }, 'PodMonitor'],
  ])('accepts a fleet scraped by %s, with its rules and dashboards', async (_label, monitoring, monitorKind) => {
    const namespace = await createNamespace(kc, 'mon');
    const objs = renderMonitoring(fleet(namespace, monitoring), ctx);
    expect(objs.map((o) => o.kind)).toEqual(expect.arrayContaining([monitorKind, 'PrometheusRule', 'ConfigMap']));
    expect(await problems(kc, objs)).toEqual([]);
  });

  it("accepts the operator's PrometheusRule", async () => {
    const namespace = await createNamespace(kc, 'mon-op');
    expect(await problems(kc, [renderOperatorRules({ namespace, jobLabel: 'unmute-operator', labels: { release: 'kube-prometheus-stack' } })])).toEqual([]);
  });

  it('rejects a misspelled field, so the checks above mean something', async () => {
    const namespace = await createNamespace(kc, 'mon-neg');
    const [monitor] = renderMonitoring(fleet(namespace, {}), ctx).filter((o) => o.kind === 'ServiceMonitor');
    const broken = { ...monitor!, spec: { ...(monitor!['spec'] as object), endpoint: [] } };
    const r = await dryRunCreate(kc, broken);
    expect(r.status).toBe(400);
    expect(r.body).toContain('endpoint');
  });
});
