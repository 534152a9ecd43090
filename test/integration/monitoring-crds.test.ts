// The rendered monitoring objects against a real kube-apiserver loaded with the prometheus-operator
// CRDs: ServiceMonitors, PodMonitors, PrometheusRules, the metrics Service and the dashboard
// ConfigMaps must be accepted by a server-side dry-run create with strict field validation (an
// unknown or misspelled field is an error, not silently pruned).
import { describe, expect, it } from 'vitest';
import { unmuteDeployment } from '../../src/api/v1alpha1/unmute-deployment.ts';
import { renderMonitoring } from '../../src/monitoring/index.ts';
import { renderOperatorRules } from '../../src/monitoring/rules/operator.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import type { ClusterCapabilities } from '../../src/render/types.ts';
import { KubeApiError } from '../../src/runtime/errors.ts';
import { createNamespace, kubeClient } from '../support/cluster.ts';
import { aRawUnmuteDeployment } from '../support/factories.ts';

/** Server-side dry-run create with strict field validation; returns the warnings. */
async function dryRunCreate(o: KubeObject): Promise<string[]> {
  const warnings: string[] = [];
  const client = await kubeClient();
  await client.create(o, { dryRun: true, fieldValidation: 'Strict', fieldManager: 'unmute-monitoring-test', onWarning: (w) => warnings.push(w) });
  return warnings;
}

async function problems(objs: KubeObject[]): Promise<string[]> {
  const out: string[] = [];
  for (const o of objs) {
    try {
      for (const w of await dryRunCreate(o)) out.push(`${o.kind} ${o.metadata.name}: warning ${w}`);
    } catch (err) {
      if (!(err instanceof KubeApiError)) throw err;
      out.push(`${o.kind} ${o.metadata.name}: HTTP ${err.code} ${err.message.slice(0, 600)}`);
    }
  }
  return out;
}

// The test cluster has the prometheus-operator CRDs, not grafana-operator's.
const ctx: ClusterCapabilities = { prometheusOperator: true, grafanaOperator: false, gatewayApi: false, httpRouteTimeouts: false, nodeDrains: true };

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
  it.each([
    ['ServiceMonitors', { labels: { release: 'kube-prometheus-stack' }, targetLabels: { cluster: 'eu-1' }, dashboards: { perFleet: true, folder: 'Unmute' } }, 'ServiceMonitor'],
    ['PodMonitors', { scrapeKind: 'PodMonitor', interval: '30s', scrapeTimeout: '10s', alerts: { drainStuck: { thresholdSeconds: 900 } } }, 'PodMonitor'],
  ])('accepts a fleet scraped by %s, with its rules and dashboards', async (_label, monitoring, monitorKind) => {
    const namespace = await createNamespace('mon');
    const objs = renderMonitoring(fleet(namespace, monitoring), ctx);
    expect(objs.map((o) => o.kind)).toEqual(expect.arrayContaining([monitorKind, 'PrometheusRule']));
    expect(await problems(objs)).toEqual([]);
  });

  it("accepts the operator's PrometheusRule", async () => {
    const namespace = await createNamespace('mon-op');
    expect(await problems([renderOperatorRules({ namespace, jobLabel: 'unmute-operator', labels: { release: 'kube-prometheus-stack' } })])).toEqual([]);
  });

  it('rejects a misspelled field, so the checks above mean something', async () => {
    const namespace = await createNamespace('mon-neg');
    const [monitor] = renderMonitoring(fleet(namespace, {}), ctx).filter((o) => o.kind === 'ServiceMonitor');
    const broken = { ...monitor!, spec: { ...(monitor!['spec'] as object), endpoint: [] } };
    const err = await dryRunCreate(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ code: 400, message: expect.stringContaining('endpoint') });
  });
});
