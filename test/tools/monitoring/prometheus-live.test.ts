// Every expression we ship runs on a real Prometheus: fixture exporters serve Unmute's metric
// families and the operator's, Prometheus scrapes them every second with the target labels the
// ServiceMonitors attach, loads our rule files, and then every dashboard query must return data
// and every rule must evaluate without error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { unmuteDeployment } from '../../../src/api/v1alpha1/unmute-deployment.ts';
import { leMatcher } from '../../../src/monitoring/promql.ts';
import { operatorRuleGroups } from '../../../src/monitoring/rules/operator.ts';
import { startSession } from '../../../src/sim/loadgen/session.ts';
import { startSimWorker, type SimWorker } from '../../../src/sim/worker/server.ts';
import { fleetRuleGroups } from '../../../src/monitoring/rules/prometheus-rule.ts';
import { startPrometheus, type RunningPrometheus } from '../../support/prometheus.ts';
import { tools } from '../../support/tools.ts';
import { startOperatorExporter, startUnmuteExporter, type FixtureExporter, type MetricSource } from '../../support/unmute-fixture-exporter.ts';
import {
  OPERATOR_RULES,
  dashboardExpressions,
  metricNames,
  docsScrapeConfig,
  ruleExpressions,
  sample,
  substituteVariables,
  withStaticPods,
} from '../../support/monitoring.ts';

const binary = tools().prometheus;
const RATE_INTERVAL = '10s';

describe('rules and dashboards on a real Prometheus', { timeout: 90_000 }, () => {
  const exporters: FixtureExporter[] = [];
  let prom: RunningPrometheus | undefined;
  const cr = sample();

  beforeAll(async () => {
    const fleetTargets: Array<{ source: MetricSource; pod: string; salt: number }> = [
      { source: 'backend', pod: 'demo-backend-a', salt: 1 },
      { source: 'backend', pod: 'demo-backend-b', salt: 2 },
      { source: 'stt', pod: 'demo-stt-0', salt: 3 },
      { source: 'tts', pod: 'demo-tts-0', salt: 4 },
      { source: 'llm', pod: 'demo-llm-0', salt: 5 },
    ];
    const byJob = new Map<string, Array<{ targets: string[]; labels: Record<string, string> }>>();
    for (const t of fleetTargets) {
      const e = await startUnmuteExporter(t.source, { salt: t.salt });
      exporters.push(e);
      const job = `demo-${t.source}`;
      // The labels a ServiceMonitor/PodMonitor gives each target (see src/monitoring/scrape.ts).
      const labels = { namespace: 'voice', unmute_sh_fleet: 'demo', unmute_sh_component: t.source, pod: t.pod };
      byJob.set(job, [...(byJob.get(job) ?? []), { targets: [e.target], labels }]);
    }
    const op = await startOperatorExporter({ namespace: 'voice', name: 'demo' });
    exporters.push(op);
    const scrapeConfigs: unknown[] = [...byJob].map(([job, statics]) => ({ job_name: job, static_configs: statics }));
    // The operator's fleet metrics carry the fleet's namespace: keep it (honor_labels), as its chart does.
    scrapeConfigs.push({
      job_name: OPERATOR_RULES.jobLabel,
      honor_labels: true,
      static_configs: [{ targets: [op.target], labels: { namespace: OPERATOR_RULES.namespace, pod: 'unmute-operator-0' } }],
    });
    prom = await startPrometheus({
      binary,
      scrapeConfigs,
      ruleFiles: {
        'fleet.rules.yaml': stringify({ groups: fleetRuleGroups(cr) }, { lineWidth: 0 }),
        'operator.rules.yaml': stringify({ groups: operatorRuleGroups(OPERATOR_RULES) }, { lineWidth: 0 }),
      },
    });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await Promise.all(exporters.map((e) => e.close()));
  });

  it('returns data for every dashboard panel and variable', async () => {
    const p = prom!;
    const pending = new Map(dashboardExpressions().map((e) => [e.where, substituteVariables(e.expr, { rateInterval: RATE_INTERVAL, range: '1m' })]));
    const errors: string[] = [];
    const deadline = Date.now() + 45_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const [where, expr] of pending) {
        const r = await p.query(expr);
        if (r.status !== 'success') errors.push(`${where}: ${r.error}`);
        if (r.status !== 'success' || (r.data?.result.length ?? 0) > 0) pending.delete(where);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(errors).toEqual([]);
    expect([...pending.keys()], 'panels without data').toEqual([]);
  });

  it('evaluates every rule without error', async () => {
    const p = prom!;
    const expressions = [...ruleExpressions(fleetRuleGroups(cr), 'rule'), ...ruleExpressions(operatorRuleGroups(OPERATOR_RULES), 'operator rule')];
    const errors: string[] = [];
    for (const e of expressions) {
      const r = await p.query(e.expr);
      if (r.status !== 'success') errors.push(`${e.where}: ${r.error}`);
    }
    expect(errors).toEqual([]);

    type RulesResponse = { data: { groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string }> }> } };
    const rules = (await p.api('rules')) as RulesResponse;
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.length).toBe(expressions.length);
    const unhealthy = loaded.filter((r) => r.health !== 'ok' && r.health !== 'unknown').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
    expect(unhealthy).toEqual([]);
  });

  it('records fleet quantiles from every pod', async () => {
    const r = await prom!.query('unmute_fleet:worker_tts_ttft:p95_5m{namespace="voice", unmute_sh_fleet="demo"}');
    expect(r.data?.result).toHaveLength(1);
    const value = Number(r.data?.result[0]?.value[1]);
    expect(value).toBeGreaterThan(0);
    expect(value).toBeLessThanOrEqual(0.55);
  });
});

describe("the docs' scrape configuration for a Prometheus without the operator", { timeout: 60_000 }, () => {
  const exporters: FixtureExporter[] = [];
  let prom: RunningPrometheus | undefined;

  // Pods as Kubernetes discovery would describe them: annotated Unmute pods, one unannotated pod,
  // one finished pod, and the operator pod with its `metrics` port.
  beforeAll(async () => {
    const backend = await startUnmuteExporter('backend');
    const stt = await startUnmuteExporter('stt');
    const op = await startOperatorExporter({ namespace: 'voice', name: 'demo' });
    exporters.push(backend, stt, op);
    const port = (e: FixtureExporter) => e.target.split(':')[1] ?? '';
    const unmutePod = (e: FixtureExporter, name: string, component: string, extra: Record<string, string> = {}) => ({
      // Discovery gives the container port; the annotation's port must win.
      target: '127.0.0.1:1',
      meta: {
        __meta_kubernetes_namespace: 'voice',
        __meta_kubernetes_pod_name: name,
        __meta_kubernetes_pod_phase: 'Running',
        __meta_kubernetes_pod_label_unmute_sh_fleet: 'demo',
        __meta_kubernetes_pod_label_unmute_sh_component: component,
        __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true',
        __meta_kubernetes_pod_annotation_prometheus_io_port: port(e),
        __meta_kubernetes_pod_annotation_prometheus_io_path: '/metrics',
        ...extra,
      },
    });
    const jobs = withStaticPods(docsScrapeConfig().scrape_configs, {
      unmute: [
        unmutePod(backend, 'demo-backend-a', 'backend'),
        unmutePod(stt, 'demo-stt-0', 'stt'),
        unmutePod(backend, 'demo-backend-old', 'backend', { __meta_kubernetes_pod_phase: 'Succeeded' }),
        unmutePod(backend, 'demo-frontend-0', 'frontend', { __meta_kubernetes_pod_annotation_prometheus_io_scrape: '' }),
      ],
      'unmute-operator': [
        {
          target: op.target,
          meta: {
            __meta_kubernetes_namespace: 'unmute-system',
            __meta_kubernetes_pod_name: 'unmute-operator-0',
            __meta_kubernetes_pod_label_app_kubernetes_io_name: 'unmute-operator',
            __meta_kubernetes_pod_container_port_name: 'metrics',
          },
        },
      ],
    });
    prom = await startPrometheus({ binary, scrapeConfigs: jobs.map((j) => ({ ...j, scrape_interval: '1s' })) });
  }, 40_000);

  afterAll(async () => {
    await prom?.stop();
    await Promise.all(exporters.map((e) => e.close()));
  });

  it('gives the same target labels as the ServiceMonitors and keeps only running, annotated pods', async () => {
    type Targets = { data: { activeTargets: Array<{ labels: Record<string, string>; health: string }> } };
    let targets: Targets['data']['activeTargets'] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      targets = ((await prom!.api('targets')) as Targets).data.activeTargets;
      if (targets.length === 3 && targets.every((t) => t.health === 'up')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const labels = targets.map(({ labels: { instance: _i, ...rest } }) => rest).sort((a, b) => (a['job'] ?? '').localeCompare(b['job'] ?? ''));
    expect(labels).toEqual([
      { job: 'demo-backend', namespace: 'voice', pod: 'demo-backend-a', unmute_sh_fleet: 'demo', unmute_sh_component: 'backend' },
      { job: 'demo-stt', namespace: 'voice', pod: 'demo-stt-0', unmute_sh_fleet: 'demo', unmute_sh_component: 'stt' },
      { job: 'unmute-operator', namespace: 'unmute-system', pod: 'unmute-operator-0' },
    ]);
    expect(targets.map((t) => t.health)).toEqual(['up', 'up', 'up']);
  });

  it("keeps the fleet namespace on the operator's fleet metrics", async () => {
    const deadline = Date.now() + 10_000;
    let result: unknown[] = [];
    while (Date.now() < deadline && result.length === 0) {
      result = (await prom!.query('unmute_operator_replicas_desired{namespace="voice", fleet="demo"}')).data?.result ?? [];
      if (result.length === 0) await new Promise((r) => setTimeout(r, 500));
    }
    expect(result.length).toBeGreaterThan(0);
  });
});

// The project's simulated backend writes the exposition exactly as Unmute's Python client does
// (`le="1.0"`, `_created` series): the backend panels and rules must work on it as they do on the
// prom-client fixtures above.
describe('the simulated Unmute backend (src/sim) under a short load', { timeout: 60_000 }, () => {
  let worker: SimWorker | undefined;
  let prom: RunningPrometheus | undefined;
  const abort = new AbortController();
  let sessions: Promise<unknown> = Promise.resolve();
  const cr = unmuteDeployment.parse({ ...sampleRaw(), metadata: { name: 'sim', namespace: 'voice' } });

  function sampleRaw(): Record<string, unknown> {
    const { apiVersion, kind, spec } = sample();
    return { apiVersion, kind, spec };
  }

  beforeAll(async () => {
    worker = await startSimWorker({ audioFrames: false, seed: 7 });
    const url = worker.url;
    const session = () =>
      startSession({ url, turns: 2, speechMs: { kind: 'constant', value: 600 }, replyTimeoutMs: 20_000, signal: abort.signal });
    sessions = Promise.allSettled([session(), session(), session()]);
    prom = await startPrometheus({
      binary,
      scrapeConfigs: [
        {
          job_name: 'sim-backend',
          static_configs: [
            {
              targets: [url.replace('http://', '')],
              labels: { namespace: 'voice', unmute_sh_fleet: 'sim', unmute_sh_component: 'backend', pod: 'sim-backend-0' },
            },
          ],
        },
      ],
      ruleFiles: { 'sim.rules.yaml': stringify({ groups: fleetRuleGroups(cr) }, { lineWidth: 0 }) },
    });
  }, 30_000);

  afterAll(async () => {
    abort.abort();
    await sessions;
    await prom?.stop();
    await worker?.shutdown();
  });

  it('answers every backend-only panel and matches its le="1.0" buckets', async () => {
    const p = prom!;
    const backendOnly = dashboardExpressions().filter(
      (e) =>
        e.kind === 'panel' &&
        metricNames(e.expr).every((n) => n.startsWith('worker_') || n.startsWith('unmute_fleet:') || n.startsWith('unmute_pod:')),
    );
    expect(backendOnly.length).toBeGreaterThan(25);
    const substitute = (expr: string) => substituteVariables(expr, { rateInterval: RATE_INTERVAL, range: '1m' }).replaceAll('"demo"', '"sim"');
    const pending = new Map(backendOnly.map((e) => [e.where, substitute(e.expr)]));
    const errors: string[] = [];
    const deadline = Date.now() + 30_000;
    while (pending.size > 0 && Date.now() < deadline) {
      for (const [where, expr] of pending) {
        const r = await p.query(expr);
        if (r.status !== 'success') errors.push(`${where}: ${r.error}`);
        if (r.status !== 'success' || (r.data?.result.length ?? 0) > 0) pending.delete(where);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 1_000));
    }
    expect(errors).toEqual([]);
    expect([...pending.keys()], 'panels without data').toEqual([]);

    const le = await p.query(`count(worker_vllm_ttft_bucket{unmute_sh_fleet="sim", ${leMatcher(1)}})`);
    const spelled = await p.query('count by (le) (worker_vllm_ttft_bucket{unmute_sh_fleet="sim", le="1.0"})');
    expect(spelled.data?.result).toHaveLength(1);
    expect(le.data?.result[0]?.value[1]).toBe('1');
    const started = await p.query('max(worker_sessions_total{unmute_sh_fleet="sim"})');
    expect(Number(started.data?.result[0]?.value[1])).toBeGreaterThan(0);
  });
});
