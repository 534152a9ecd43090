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
//
// Upgrade from the version that rendered six dashboard ConfigMaps per fleet: the first fleet exists
// with those ConfigMaps (names, labels and owner reference as that version applied them) before the
// operator starts; afterwards no per-fleet dashboard object is left for it, a second fleet created
// after the upgrade with dashboards.perFleet has exactly its six new copies, and both statuses link
// their dashboards. The two fleets (same namespace, different names) are then used to run every
// panel of the chart's shared dashboards against this Prometheus with each fleet's variables: every
// query is valid, and each selects that fleet's series and never the other's.
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
import { API_VERSION, KIND } from '../../src/api/v1alpha1/unmute-deployment.ts';
import { fleetLabels, fleetSelector } from '../../src/api/v1alpha1/labels.ts';
import { FIELD_MANAGER } from '../../src/controller/reconciler.ts';
import { FLEET_DASHBOARDS, fleetDashboard, fleetDashboardUid, genericDashboardUid } from '../../src/monitoring/dashboards/catalog.ts';
import { instantQuery, labelValues, labelValuesQuery, panelQueries, readDashboards, substitute, vectorSelectors, type VectorSample } from '../support/dashboard-queries.ts';

const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const CONFIG_MAP = { apiVersion: 'v1', kind: 'ConfigMap' } as const;
const SERVICE = { apiVersion: 'v1', kind: 'Service' } as const;
const SERVICE_MONITOR = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' } as const;
const UMD = { apiVersion: API_VERSION, kind: KIND } as const;
const FLEET = 'voice';
/** Created after the upgrade, with its own dashboard copies (dashboards.perFleet); backends: fixture exporters. */
const FLEET_B = 'voice-b';
const SELECT = { release: 'unmute-pipeline-test' };
const COMPONENTS = ['backend', 'stt', 'tts'] as const;

interface PodObject extends KubeObject {
  status?: { phase?: string; podIP?: string };
}

interface FleetObject extends KubeObject {
  status?: { dashboards?: Array<{ title: string; path: string }> };
}

interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
}

const fleetResource = (name: string, namespace: string, backends: number, dashboards: Record<string, unknown> = {}) => ({
  ...UMD,
  metadata: { name, namespace },
  spec: {
    backend: { image: 'sim.invalid/unmute-backend:sim', replicas: backends, port: 8000 },
    stt: { image: 'sim.invalid/moshi:sim' },
    tts: { image: 'sim.invalid/moshi:sim' },
    llm: { external: { url: 'http://llm.invalid' } },
    monitoring: {
      labels: SELECT,
      interval: '1s',
      // Fires as soon as a target is down for 3 s (default 5m), so the test can force it.
      alerts: { targetDown: { for: '3s' } },
      dashboards,
    },
  },
});

/**
 * A dashboard ConfigMap as the previous version applied it for every fleet (src/monitoring/
 * dashboards/deliver.ts before e712008): `<fleet>-dashboard-<key>`, the monitoring labels, the
 * fleet's labels and the sidecar's label, one `unmute-<namespace>-<fleet>-<key>.json` key, owned by
 * the fleet through a controller reference, applied with the operator's field manager.
 */
const previousVersionDashboard = (fleet: KubeObject, key: string, json: string) => ({
  ...CONFIG_MAP,
  metadata: {
    name: `${fleet.metadata.name}-dashboard-${key}`,
    namespace: fleet.metadata.namespace,
    labels: { ...SELECT, ...fleetLabels(fleet.metadata.name!), grafana_dashboard: '1' },
    ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name: fleet.metadata.name!, uid: fleet.metadata.uid!, controller: true, blockOwnerDeletion: true }],
  },
  data: { [`unmute-${fleet.metadata.namespace}-${fleet.metadata.name}-${key}.json`]: json },
});

/**
 * The per-component scrape objects of versions before one monitor per fleet: a ServiceMonitor
 * `<fleet>-<component>` and the headless Service `<fleet>-<component>-metrics` it read, owned by the
 * fleet, applied with the operator's field manager.
 */
const previousVersionScrapeObjects = (fleet: KubeObject, component: string): KubeObject[] => {
  const name = fleet.metadata.name!;
  const labels = { ...fleetLabels(name), ...selectorLabels(name, component as 'backend'), 'unmute.sh/component': component };
  const ownerReferences = [{ apiVersion: API_VERSION, kind: KIND, name, uid: fleet.metadata.uid!, controller: true, blockOwnerDeletion: true }];
  return [
    {
      ...SERVICE,
      metadata: { name: `${name}-${component}-metrics`, namespace: fleet.metadata.namespace, labels: { ...labels, 'unmute.sh/metrics': 'true' }, ownerReferences },
      spec: { clusterIP: 'None', selector: selectorLabels(name, component as 'backend'), ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] },
    },
    {
      ...SERVICE_MONITOR,
      metadata: { name: `${name}-${component}`, namespace: fleet.metadata.namespace, labels: { ...SELECT, ...labels }, ownerReferences },
      spec: {
        selector: { matchLabels: { 'unmute.sh/fleet': name, 'unmute.sh/component': component, 'unmute.sh/metrics': 'true' } },
        targetLabels: ['unmute.sh/fleet', 'unmute.sh/component'],
        endpoints: [{ port: 'http', path: '/metrics', relabelings: [{ action: 'replace', targetLabel: 'job', replacement: `${name}-${component}` }] }],
      },
    },
  ];
};

/**
 * Panels of the shared dashboards whose series the simulated pods feed (sim-workers and fixture
 * exporters for the backends, moshi-server's families for STT/TTS, and the recording rules over
 * them): each target must return series for each fleet. The other panels read the operator's own
 * metrics (the in-process operator is not scraped), vLLM (the fleets use an external LLM) or
 * families the sim-workers leave empty; for them the test asks only for valid queries that
 * select nothing of another fleet.
 */
const FED_PANELS: ReadonlyArray<readonly [dashboard: string, panel: string, refId?: string]> = [
  ['unmute-overview', 'Active sessions'],
  ['unmute-overview', 'Sessions started'],
  ['unmute-overview', 'Backends scraped'],
  ['unmute-overview', 'Active sessions per backend'],
  ['unmute-overview', 'Active sessions, fleet'],
  ['unmute-overview', 'Sessions started per second'],
  ['unmute-overview', 'Scrape targets up by component'],
  ['unmute-service-health', 'moshi-server open channels per pod'],
  ['unmute-service-health', 'Backend health checks ok'],
  ['unmute-service-health', 'Scrape targets up'],
  // C: the backends' own count; A and B are the operator's.
  ['unmute-fleet', 'Sessions and capacity', 'C'],
];
const isFed = (q: { dashboard: string; panel: string; refId: string }) => FED_PANELS.some(([d, p, r]) => q.dashboard === d && q.panel === p && (r === undefined || q.refId === r));

const selector = (component: (typeof COMPONENTS)[number], fleet = FLEET) =>
  Object.entries(selectorLabels(fleet, component))
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
  const podsB: Record<string, string[]> = {};
  let previousDashboards: string[] = [];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const t0 = Date.now();
    client = await kubeClient();
    const ref = clusterRef(clusterInfo().name);
    const log = (m: string) => process.stderr.write(`[pipeline] ${m}\n`);
    promOperator = await startPrometheusOperator(ref, { log });
    [namespace, monitoringNs] = await Promise.all([createNamespace('mon-fleet'), createNamespace('monitoring')]);
    await applyPrometheus(client, { namespace: monitoringNs, name: 'k8s', serviceAccountName: 'prometheus', selector: SELECT, scrapeInterval: '1s', evaluationInterval: '1s' });

    // The previous version's state: the fleet and its six per-fleet dashboard ConfigMaps.
    const previous = await client.create<FleetObject>(fleetResource(FLEET, namespace, 2));
    for (const spec of FLEET_DASHBOARDS) {
      await client.apply(previousVersionDashboard(previous, spec.key, JSON.stringify(fleetDashboard(spec, namespace, FLEET))), { fieldManager: FIELD_MANAGER, force: true });
    }
    previousDashboards = (await client.list(CONFIG_MAP, { namespace, labelSelector: fleetSelector(FLEET) })).items.map((c) => c.metadata.name!).sort();
    // ... and its per-component ServiceMonitors and metrics Services.
    for (const c of COMPONENTS) for (const o of previousVersionScrapeObjects(previous, c)) await client.apply(o, { fieldManager: FIELD_MANAGER, force: true });
    // The upgrade: the new operator starts; the second fleet is created after it.
    operator = await startInProcessController({ kubeConfig: kubeConfig(), namespace });
    await client.create(fleetResource(FLEET_B, namespace, 1, { perFleet: true }));
    writeFileSync(controlFile, JSON.stringify({ stopped: [] }));
    const backends = spawnInNetns(process.execPath, [
      'src/sim/cli/main.ts', 'fleet', '--namespace', namespace, '--selector', selector('backend'), '--service', `${FLEET}-backend`,
      '--control-socket', fleetSocket, '--strategy', 'least-connections', '--duration', '900', '--log-level', 'info',
    ]);
    const moshi = spawnInNetns(process.execPath, [
      'test/support/component-exporters.ts', namespace, controlFile, `stt=${selector('stt')}`, `tts=${selector('tts')}`,
      `backend=${selector('backend', FLEET_B)}`, `stt=${selector('stt', FLEET_B)}`, `tts=${selector('tts', FLEET_B)}`,
    ]);
    await Promise.all([backends.waitForOutput(/sim-fleet ready/, 30_000), moshi.waitForOutput(/component-exporters ready/, 30_000)]);

    for (const [fleet, into, backends] of [[FLEET, pods, 2], [FLEET_B, podsB, 1]] as const) {
      for (const c of COMPONENTS) {
        into[c] = await waitFor(`running ${fleet} ${c} pods`, async () => {
          const list = (await client.list<PodObject>(POD, { namespace, labelSelector: selector(c, fleet) })).items.filter((p) => p.status?.phase === 'Running' && p.status.podIP);
          return list.length === (c === 'backend' ? backends : 1) ? list.map((p) => p.metadata.name!) : undefined;
        }, { timeoutMs: 90_000 });
      }
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
      const targets = (await prom!.targets()).filter((t) => t.labels['namespace'] === namespace && t.labels['unmute_sh_fleet'] === FLEET);
      const map = new Map<string, ScrapeTarget>(targets.map((t) => [t.labels['pod']!, t]));
      const all = COMPONENTS.flatMap((c) => pods[c]!);
      return all.every((p) => map.get(p)?.health === 'up') ? map : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    timings['allTargetsUpMs'] = Date.now() - t0;
    for (const c of COMPONENTS) {
      for (const pod of pods[c]!) {
        const t = byPod.get(pod)!;
        expect(t.labels).toMatchObject({ namespace, pod, job: `${FLEET}-${c}`, unmute_sh_fleet: FLEET, unmute_sh_component: c });
        // The fleet's ServiceMonitor, generated by prometheus-operator: one endpoint per component (in
        // render order), each the pod's IP, its own `http` port (one named port on the metrics Service), /metrics.
        const ip = (await client.get<PodObject>(POD, pod, namespace)).status!.podIP!;
        expect(t.scrapeUrl).toBe(`http://${ip}:${c === 'backend' ? 8000 : 8080}/metrics`);
        expect(t.scrapePool).toBe(`serviceMonitor/${namespace}/${FLEET}-metrics/${COMPONENTS.indexOf(c)}`);
      }
    }
    // Nothing else of this fleet is scraped (the frontend has no metrics; no double scrape).
    expect([...byPod.keys()].sort()).toEqual(COMPONENTS.flatMap((c) => pods[c]!).sort());
    // And of the namespace, only the two fleets' backend, STT and TTS pods.
    const both = COMPONENTS.flatMap((c) => [...pods[c]!, ...podsB[c]!]).sort();
    const inNamespace = await waitFor('both fleets scraped', async () => {
      const targets = (await prom!.targets()).filter((t) => t.labels['namespace'] === namespace);
      return targets.length >= both.length && targets.every((t) => t.health === 'up') ? targets.map((t) => t.labels['pod']!).sort() : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });
    expect(inNamespace).toEqual(both);
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

  it("upgrade: the previous version's per-fleet dashboard ConfigMaps and per-component monitors are gone, only a perFleet fleet has copies, both statuses link their dashboards", async () => {
    // What the previous version left: six dashboard ConfigMaps for the first fleet.
    expect(previousDashboards).toEqual(FLEET_DASHBOARDS.map((d) => `${FLEET}-dashboard-${d.key}`).sort());
    const configMaps = async (labelSelector: string) => (await client.list<ConfigMapObject>(CONFIG_MAP, { namespace, labelSelector })).items;
    const t0 = Date.now();
    await waitFor("the previous version's dashboard ConfigMaps pruned", async () => (await configMaps(fleetSelector(FLEET))).length === 0, { timeoutMs: 60_000, intervalMs: 250 });
    timings['previousDashboardsPrunedMs'] = Date.now() - t0;
    // The previous version's per-component monitors and metrics Services are gone too: one of each per fleet.
    const names = async (ref: { apiVersion: string; kind: string }) => (await client.list(ref, { namespace, labelSelector: fleetSelector(FLEET) })).items.map((o) => o.metadata.name!);
    expect(await waitFor('the per-component ServiceMonitors pruned', async () => {
      const monitors = await names(SERVICE_MONITOR);
      return monitors.length === 1 ? monitors : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 })).toEqual([`${FLEET}-metrics`]);
    expect((await names(SERVICE)).filter((n) => n.endsWith('-metrics'))).toEqual([`${FLEET}-metrics`]);
    const copies = await waitFor("the second fleet's six copies", async () => {
      const items = await configMaps(fleetSelector(FLEET_B));
      return items.length === FLEET_DASHBOARDS.length ? items : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });

    // Exactly the new objects: in the namespace, the sidecar's label is on the second fleet's copies
    // only, each the current generator's per-fleet dashboard, owned by that fleet.
    const fleetB = await client.get<FleetObject>(UMD, FLEET_B, namespace);
    expect((await configMaps('grafana_dashboard=1')).map((c) => c.metadata.name).sort()).toEqual(FLEET_DASHBOARDS.map((d) => `${FLEET_B}-dashboard-${d.key}`).sort());
    for (const spec of FLEET_DASHBOARDS) {
      const cm = copies.find((c) => c.metadata.name === `${FLEET_B}-dashboard-${spec.key}`);
      expect(cm, spec.key).toBeDefined();
      expect(Object.keys(cm!.data ?? {})).toEqual([`unmute-${namespace}-${FLEET_B}-${spec.key}.json`]);
      const json = JSON.parse(Object.values(cm!.data!)[0]!) as { uid: string };
      expect(json).toEqual(JSON.parse(JSON.stringify(fleetDashboard(spec, namespace, FLEET_B))));
      expect(json.uid).toBe(fleetDashboardUid(spec, namespace, FLEET_B));
      expect(cm!.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: KIND, name: FLEET_B, uid: fleetB.metadata.uid, controller: true })]);
    }

    // Status links: the shared set (the chart's dashboards) for the first fleet, the copies for the second.
    const shared = new Set([...readDashboards().values()].map((d) => d.uid));
    const query = (fleet: string) => new URLSearchParams({ 'var-namespace': namespace, 'var-fleet': fleet }).toString();
    const links = async (fleet: string) =>
      waitFor(`${fleet} status.dashboards`, async () => (await client.get<FleetObject>(UMD, fleet, namespace)).status?.dashboards, { timeoutMs: 30_000, intervalMs: 250 });
    const linksA = await links(FLEET);
    expect(linksA).toEqual(FLEET_DASHBOARDS.map((d) => ({ title: d.title, path: `/d/${genericDashboardUid(d)}?${query(FLEET)}` })));
    for (const l of linksA) expect(shared.has(l.path.slice('/d/'.length, l.path.indexOf('?')))).toBe(true);
    expect(linksA).toContainEqual({ title: 'Fleet', path: `/d/unmute-fleet?var-namespace=${namespace}&var-fleet=${FLEET}` });
    expect(await links(FLEET_B)).toEqual(FLEET_DASHBOARDS.map((d) => ({ title: d.title, path: `/d/${fleetDashboardUid(d, namespace, FLEET_B)}?${query(FLEET_B)}` })));
  });

  it("the shared dashboards' variables select each fleet's series: every panel's query, run on this Prometheus", async () => {
    const dashboards = [...readDashboards().values()];
    const fleets = [
      { fleet: FLEET, pods: pods, backends: 2 },
      { fleet: FLEET_B, pods: podsB, backends: 1 },
    ];
    // Grafana's values for the built-in variables: $__rate_interval is at least 4 scrape intervals
    // (1 s here); 30 s leaves room for a few missed scrapes. The operator dashboard's job has no series here.
    const builtins = { __rate_interval: '30s', __interval: '15s', __range: '5m', job: 'unmute-operator' };
    const t0 = Date.now();

    // The variables' own queries (label_values over `up`) offer this namespace, and in it both fleets.
    for (const d of dashboards) {
      for (const v of d.templating.list) {
        const lv = labelValuesQuery(v.query);
        if (lv === undefined || !lv.match.startsWith('up{')) continue;
        const values = await waitFor(`${d.uid} $${v.name} options`, async () => {
          const got = await labelValues(prom!.url, lv.label, substitute(lv.match, { namespace }));
          return v.name === 'namespace' ? (got.includes(namespace) ? got : undefined) : got.length >= 2 ? got : undefined;
        }, { timeoutMs: 30_000, intervalMs: 500 });
        if (v.name === 'fleet') expect(values, d.uid).toEqual([FLEET, FLEET_B].sort());
      }
    }

    // Every series the fed panels need exists for both fleets (rules: the first evaluations after the scrapes).
    const queries = dashboards.flatMap(panelQueries);
    for (const [dashboard, panel, refId] of FED_PANELS) {
      expect(queries.some((q) => q.dashboard === dashboard && q.panel === panel && (refId === undefined || q.refId === refId)), `${dashboard} / ${panel}`).toBe(true);
    }
    const fed = queries.filter(isFed);
    for (const { fleet } of fleets) {
      await waitFor(`${fleet}: a series for every fed panel`, async () => {
        for (const q of fed) {
          const r = await instantQuery(prom!.url, substitute(q.expr, { ...builtins, namespace, fleet }));
          if (!r.ok || r.samples.length === 0) return undefined;
        }
        return true;
      }, { timeoutMs: 60_000, intervalMs: 1000 });
    }

    const errors: string[] = [];
    const foreign: string[] = [];
    const empty: string[] = [];
    let selectorsChecked = 0;
    for (const { fleet, pods: own, backends } of fleets) {
      const ownPods = new Set(COMPONENTS.flatMap((c) => own[c]!));
      const vars = { ...builtins, namespace, fleet };
      for (const q of queries) {
        const where = `${fleet}: ${q.dashboard} / ${q.panel} / ${q.refId}`;
        const expr = substitute(q.expr, vars);
        expect(expr, where).not.toMatch(/\$|\[\[/);
        const r = await instantQuery(prom!.url, expr);
        if (!r.ok) {
          errors.push(`${where}: ${r.error}`);
          continue;
        }
        const perFleet = dashboardOf(q.dashboard).templating.list.some((v) => v.name === 'fleet');
        // Every selector of the query, alone: the series it picks carry this fleet's namespace and fleet labels only.
        if (perFleet) {
          for (const sel of vectorSelectors(expr)) {
            const picked = await instantQuery(prom!.url, `count by (namespace, unmute_sh_fleet, fleet) (${sel})`);
            if (!picked.ok) {
              errors.push(`${where}: ${sel}: ${picked.error}`);
              continue;
            }
            selectorsChecked++;
            for (const s of picked.samples) {
              if (s.metric['namespace'] !== namespace || (s.metric['unmute_sh_fleet'] ?? s.metric['fleet']) !== fleet) foreign.push(`${where}: ${sel} picks ${JSON.stringify(s.metric)}`);
            }
          }
        }
        if (!isFed(q)) continue;
        // The panels the simulated pods feed: series for this fleet, labelled as this fleet, of its pods.
        if (r.samples.length === 0) empty.push(where);
        for (const s of r.samples) {
          if (!sampleOf(s, namespace, fleet, ownPods)) foreign.push(`${where}: answer ${JSON.stringify(s.metric)}`);
        }
        if (q.panel === 'Backends scraped') expect(r.samples.map((s) => Number(s.value[1])), where).toEqual([backends]);
        if (q.panel.startsWith('Scrape targets up')) {
          expect(Object.fromEntries(r.samples.map((s) => [s.metric['unmute_sh_component'], Number(s.value[1])])), where).toEqual({ backend: backends, stt: 1, tts: 1 });
        }
        if (q.panel === 'Active sessions per backend' || q.panel === 'Sessions started per second') {
          expect(r.samples.map((s) => s.metric['pod']).sort(), where).toEqual([...own['backend']!].sort());
        }
        if (q.panel === 'moshi-server open channels per pod') {
          expect(r.samples.map((s) => s.metric['pod']), where).toEqual([q.expr.includes('asr_') ? own['stt']![0] : own['tts']![0]]);
        }
      }
    }
    timings['dashboardQueriesMs'] = Date.now() - t0;
    process.stderr.write(`[pipeline] dashboards: ${queries.length} targets x ${fleets.length} fleets, ${selectorsChecked} selectors checked, ${fed.length} fed targets\n`);
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    expect(empty).toEqual([]);
    expect(selectorsChecked).toBeGreaterThan(100);

    function dashboardOf(uid: string) {
      return dashboards.find((x) => x.uid === uid)!;
    }
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

/** A sample of a dashboard answer belongs to the fleet: its namespace, fleet and pod labels, where it has them, are the fleet's. */
function sampleOf(s: VectorSample, namespace: string, fleet: string, pods: Set<string>): boolean {
  const m = s.metric;
  if (m['namespace'] !== undefined && m['namespace'] !== namespace) return false;
  if (m['unmute_sh_fleet'] !== undefined && m['unmute_sh_fleet'] !== fleet) return false;
  if (m['fleet'] !== undefined && m['fleet'] !== fleet) return false;
  return m['pod'] === undefined || pods.has(m['pod']);
}
