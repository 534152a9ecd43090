// The monitoring a kube-prometheus-stack user gets, end to end, on the full local cluster: the
// operator renders ServiceMonitors and a PrometheusRule for an UnmuteDeployment; the real
// prometheus-operator (scripts/cluster/prometheus-pipeline.ts) turns a `Prometheus` that selects
// them into a generated configuration and rule files; upstream Prometheus runs exactly that
// (API server address, credentials and rule paths rewritten, nothing else) inside the netns, where
// the backend pods are sim-workers and the STT/TTS pods serve moshi-server's metric names.
//
// Must hold: every backend, STT and TTS pod is a target that is up, with the namespace, fleet and
// component labels the rules filter on; the recording rules produce series; an alert of the
// rendered PrometheusRule fires when an STT pod's metrics stop. Last, the path `bench:fleet --peers`
// takes: KEDA's Prometheus scaler querying this Prometheus for the fleet's live sessions drives the
// real HPA.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterRef } from '../../scripts/cluster/addons.ts';
import { prometheusScaledObject, startKeda, type Keda } from '../../scripts/cluster/keda.ts';
import {
  applyPrometheus,
  startGeneratedPrometheus,
  startPrometheusOperator,
  type GeneratedPrometheus,
  type PrometheusOperator,
  type ScrapeTarget,
} from '../../scripts/cluster/prometheus-pipeline.ts';
import { selectorLabels } from '../../src/api/v1alpha1/labels.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { clusterInfo, createNamespace, kubeClient, kubeConfig, spawnInNetns, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { startInProcessController, type InProcessController } from '../support/operator.ts';
import { FleetControlClient } from './autoscaling-support.ts';

const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const FLEET = 'voice';
const SELECT = { release: 'unmute-pipeline-test' };
const COMPONENTS = ['backend', 'stt', 'tts'] as const;

interface PodObject extends KubeObject {
  status?: { phase?: string; podIP?: string };
}

const selector = (component: (typeof COMPONENTS)[number]) =>
  Object.entries(selectorLabels(FLEET, component))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

describe('the real monitoring pipeline: prometheus-operator, its generated configuration, Prometheus', () => {
  let client: KubeClient;
  let operator: InProcessController | undefined;
  let promOperator: PrometheusOperator | undefined;
  let prom: GeneratedPrometheus | undefined;
  let namespace = '';
  let monitoringNs = '';
  const controlFile = join(tmpdir(), `component-exporters-${process.pid}.json`);
  const fleetSocket = join(tmpdir(), `pipeline-fleet-${process.pid}.sock`);
  let keda: Keda | undefined;
  const pods: Record<string, string[]> = {};
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    client = await kubeClient();
    const ref = clusterRef(clusterInfo().name);
    const log = (m: string) => process.stderr.write(`[pipeline] ${m}\n`);
    promOperator = await startPrometheusOperator(ref, { log });
    [namespace, monitoringNs] = await Promise.all([createNamespace('mon-fleet'), createNamespace('monitoring')]);
    await applyPrometheus(client, { namespace: monitoringNs, name: 'k8s', serviceAccountName: 'prometheus', selector: SELECT, scrapeInterval: '1s', evaluationInterval: '1s' });

    operator = await startInProcessController({ kubeConfig: kubeConfig(), namespace });
    await client.create({
      apiVersion: 'unmute.sh/v1alpha1',
      kind: 'UnmuteDeployment',
      metadata: { name: FLEET, namespace },
      spec: {
        backend: { image: 'sim.invalid/unmute-backend:sim', replicas: 2, port: 8000 },
        stt: { image: 'sim.invalid/moshi:sim' },
        tts: { image: 'sim.invalid/moshi:sim' },
        llm: { external: { url: 'http://llm.invalid' } },
        monitoring: {
          labels: SELECT,
          interval: '1s',
          // Fires as soon as a target is down for 3 s (default 5m), so the test can force it.
          alerts: { targetDown: { for: '3s' } },
        },
      },
    });
    writeFileSync(controlFile, JSON.stringify({ stopped: [] }));
    const backends = spawnInNetns(process.execPath, [
      'src/sim/cli/main.ts', 'fleet', '--namespace', namespace, '--selector', selector('backend'), '--service', `${FLEET}-backend`,
      '--control-socket', fleetSocket, '--strategy', 'least-connections', '--duration', '900', '--log-level', 'info',
    ]);
    const moshi = spawnInNetns(process.execPath, ['test/support/component-exporters.ts', namespace, controlFile, `stt=${selector('stt')}`, `tts=${selector('tts')}`]);
    await Promise.all([backends.waitForOutput(/sim-fleet ready/, 30_000), moshi.waitForOutput(/component-exporters ready/, 30_000)]);

    for (const c of COMPONENTS) {
      pods[c] = await waitFor(`running ${c} pods`, async () => {
        const list = (await client.list<PodObject>(POD, { namespace, labelSelector: selector(c) })).items.filter((p) => p.status?.phase === 'Running' && p.status.podIP);
        return list.length === (c === 'backend' ? 2 : 1) ? list.map((p) => p.metadata.name!) : undefined;
      }, { timeoutMs: 90_000 });
    }
    timings['fleetRunningMs'] = Date.now() - t0;
    prom = await startGeneratedPrometheus(ref, { namespace: monitoringNs, name: 'k8s', log });
    timings['prometheusReadyMs'] = Date.now() - t0;
  }, 240_000);

  afterAll(async () => {
    if (namespace) await client.delete({ apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject' }, 'peer', namespace).catch(() => undefined);
    await keda?.stop();
    await prom?.stop();
    await operator?.stop();
    await promOperator?.stop();
    await stopNetnsProcesses();
    process.stderr.write(`[pipeline] timings ${JSON.stringify(timings)}\n`);
  });

  it('changes only the API server address, the credentials and the rule file paths of the generated configuration', () => {
    const changes = prom!.changes();
    expect(changes.length).toBeGreaterThan(0);
    for (const c of changes) {
      expect(c).toMatch(/kubernetes_sd_configs\[\d+\]: api_server https:\/\/127\.0\.0\.1:6443, tls_config\.ca_file, authorization\.credentials_file|^rule_files: \/etc\/prometheus\/rules\/prometheus-k8s-rulefiles-\d+\/|^\$\((POD_NAME|SHARD)\) -> (prometheus-k8s-0|0) \(\d+x, config-reloader expansion\)$/);
    }
    expect(changes.some((c) => c.startsWith('rule_files:'))).toBe(true);
  });

  it('scrapes every backend, STT and TTS pod, up, with the labels the rules use', async () => {
    const t0 = Date.now();
    const byPod = await waitFor('a healthy target per pod', async () => {
      const targets = (await prom!.targets()).filter((t) => t.labels['namespace'] === namespace);
      const map = new Map<string, ScrapeTarget>(targets.map((t) => [t.labels['pod']!, t]));
      const all = COMPONENTS.flatMap((c) => pods[c]!);
      return all.every((p) => map.get(p)?.health === 'up') ? map : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    timings['allTargetsUpMs'] = Date.now() - t0;
    for (const c of COMPONENTS) {
      for (const pod of pods[c]!) {
        const t = byPod.get(pod)!;
        expect(t.labels).toMatchObject({ namespace, pod, job: `${FLEET}-${c}`, unmute_sh_fleet: FLEET, unmute_sh_component: c });
        // The ServiceMonitor's endpoint, generated by prometheus-operator: the pod's IP, its `http` port, /metrics.
        const ip = (await client.get<PodObject>(POD, pod, namespace)).status!.podIP!;
        expect(t.scrapeUrl).toBe(`http://${ip}:${c === 'backend' ? 8000 : 8080}/metrics`);
        expect(t.scrapePool).toBe(`serviceMonitor/${namespace}/${FLEET}-${c}/0`);
      }
    }
    // Nothing else of this namespace is scraped (the frontend has no metrics; no double scrape).
    expect([...byPod.keys()].sort()).toEqual(COMPONENTS.flatMap((c) => pods[c]!).sort());
  });

  it('loads the PrometheusRule from the generated rule files, and its recording rules produce series', async () => {
    const groups = await waitFor('the fleet rule groups', async () => {
      const g = (await prom!.api<{ groups: Array<{ name: string; file: string; rules: Array<{ name: string; health: string; lastError?: string }> }> }>('rules')).groups;
      return g.some((x) => x.name === `unmute.${namespace}.${FLEET}.recording`) ? g : undefined;
    });
    const recording = groups.find((g) => g.name === `unmute.${namespace}.${FLEET}.recording`)!;
    expect(recording.file).toContain(`${prom!.dir}/rules/prometheus-k8s-rulefiles-0/`);
    expect(groups.some((g) => g.name === `unmute.${namespace}.${FLEET}.alerts`)).toBe(true);
    const scope = `namespace="${namespace}",unmute_sh_fleet="${FLEET}"`;
    for (const series of ['unmute_fleet:worker_active_sessions:sum', 'unmute_fleet:worker_sessions:rate5m', 'unmute_pod:worker_health_ok:ratio_rate5m', 'unmute_fleet:worker_tts_ttft_bucket:rate5m']) {
      const result = await waitFor(`recorded ${series}`, async () => {
        const r = await prom!.query(`${series}{${scope}}`);
        return r.length > 0 ? r : undefined;
      }, { timeoutMs: 30_000, intervalMs: 500 });
      expect(result[0]!.metric).toMatchObject({ namespace, unmute_sh_fleet: FLEET });
    }
    for (const rule of recording.rules) expect(rule.health, `${rule.name}: ${rule.lastError ?? ''}`).not.toBe('err');
    // moshi-server's own families arrive under the STT/TTS pods' labels too.
    expect(await prom!.query(`asr_open_channels{${scope},unmute_sh_component="stt"}`)).toHaveLength(1);
    expect(await prom!.query(`py_open_channels{${scope},unmute_sh_component="tts"}`)).toHaveLength(1);
  });

  it('fires UnmuteTargetDown for an STT pod whose metrics stop, and clears it when they come back', async () => {
    const stt = pods['stt']![0]!;
    writeFileSync(controlFile, JSON.stringify({ stopped: [stt] }));
    const t0 = Date.now();
    const alert = await waitFor('UnmuteTargetDown firing', async () => {
      const alerts = await prom!.alerts();
      return alerts.find((a) => a.labels['alertname'] === 'UnmuteTargetDown' && a.state === 'firing' && a.labels['pod'] === stt);
    }, { timeoutMs: 60_000, intervalMs: 500 });
    timings['alertFiringMs'] = Date.now() - t0;
    expect(alert.labels).toMatchObject({ namespace, unmute_sh_fleet: FLEET, unmute_sh_component: 'stt', job: `${FLEET}-stt`, severity: 'warning' });
    expect(alert.annotations['runbook_url']).toMatch(/#unmutetargetdown$/);
    // Only that pod.
    const others = (await prom!.alerts()).filter((a) => a.labels['alertname'] === 'UnmuteTargetDown' && a.labels['pod'] !== stt);
    expect(others).toEqual([]);

    writeFileSync(controlFile, JSON.stringify({ stopped: [] }));
    await waitFor('UnmuteTargetDown cleared', async () => !(await prom!.alerts()).some((a) => a.labels['alertname'] === 'UnmuteTargetDown' && a.labels['pod'] === stt), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
  });

  it("drives the real HPA through KEDA's Prometheus scaler from the fleet's sessions in this Prometheus", async () => {
    const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;
    const t0 = Date.now();
    keda = await startKeda(clusterRef(clusterInfo().name));
    timings['kedaStartMs'] = Date.now() - t0;
    await client.create({
      ...DEPLOYMENT,
      metadata: { name: 'peer', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'peer' } },
        template: { metadata: { labels: { app: 'peer' } }, spec: { containers: [{ name: 'peer', image: 'sim.invalid/peer:1' }] } },
      },
    });
    await client.create(
      prometheusScaledObject({
        namespace,
        name: 'peer',
        deployment: 'peer',
        serverAddress: prom!.urlInNetns,
        // What a KEDA user would write: the fleet's live sessions, from the series the operator's monitors produce.
        query: `sum(worker_active_sessions{namespace="${namespace}",unmute_sh_fleet="${FLEET}",unmute_sh_component="backend"})`,
        threshold: 2,
        minReplicas: 1,
        maxReplicas: 5,
        pollingInterval: 1,
        behavior: { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }] } },
      }),
    );
    const replicas = async () => (await client.get<KubeObject & { spec: { replicas?: number } }>(DEPLOYMENT, 'peer', namespace)).spec.replicas;
    const control = new FleetControlClient(fleetSocket);
    await control.openSessions(6);
    await control.heldBy(6);
    const t1 = Date.now();
    await waitFor('3 replicas for 6 sessions at 2 per pod', async () => (await replicas()) === 3, { timeoutMs: 60_000, intervalMs: 200 });
    timings['peerScaleUpMs'] = Date.now() - t1;
    await control.endSessions(6);
    const t2 = Date.now();
    await waitFor('back to 1 replica', async () => (await replicas()) === 1, { timeoutMs: 60_000, intervalMs: 200 });
    timings['peerScaleDownMs'] = Date.now() - t2;
  });
});
