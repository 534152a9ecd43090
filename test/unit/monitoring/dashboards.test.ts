// Dashboards: generated files are current, every panel has a unit and a description and uses the
// data source variable, and each fleet gets its own ConfigMaps (and GrafanaDashboards if asked).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_DASHBOARDS, DASHBOARDS_DIR, FLEET_DASHBOARDS, generatedDashboardFiles, genericDashboard } from '../../../src/monitoring/dashboards/catalog.ts';
import { dashboardLinks, renderDashboards } from '../../../src/monitoring/dashboards/deliver.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';
import { everything, sample } from '../../support/monitoring.ts';

const repo = new URL('../../../', import.meta.url);

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>;
}
interface Json {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; current?: { value: string } }> };
}

const asJson = (d: unknown) => JSON.parse(JSON.stringify(d)) as Json;
const dataPanels = (d: Json) => d.panels.filter((p) => p.type !== 'row');

describe('generated dashboard files', () => {
  it('are committed and current (regenerate with npm run generate)', () => {
    const files = generatedDashboardFiles();
    for (const [path, content] of Object.entries(files)) {
      let committed = '';
      try {
        committed = readFileSync(new URL(path, repo), 'utf8');
      } catch {
        // reported by the comparison below
      }
      expect(committed, `${path} is stale: run npm run generate`).toBe(content);
    }
    const onDisk = readdirSync(new URL(`${DASHBOARDS_DIR}/`, repo)).filter((f) => f.endsWith('.json'));
    expect(onDisk.map((f) => `${DASHBOARDS_DIR}/${f}`).sort(), 'dashboard files nobody generates').toEqual(Object.keys(files).sort());
  });
});

describe.each(ALL_DASHBOARDS.map((s) => [s.title, s] as const))('the %s dashboard', (_title, spec) => {
  const d = asJson(genericDashboard(spec));

  it('takes its data source from a variable, never a hard-coded uid', () => {
    expect(d.templating.list[0]).toMatchObject({ name: 'datasource', type: 'datasource' });
    for (const p of dataPanels(d)) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe('${datasource}');
    }
  });

  it('has scope variables', () => {
    const names = d.templating.list.map((v) => v.name);
    expect(names).toEqual(spec.variables === 'operator' ? ['datasource', 'job'] : ['datasource', 'namespace', 'fleet']);
  });

  it('gives every panel a unit, a description and queries with distinct refIds', () => {
    for (const p of dataPanels(d)) {
      expect(p.fieldConfig?.defaults?.unit, p.title).toBeTruthy();
      expect(p.description?.length ?? 0, p.title).toBeGreaterThan(20);
      const refIds = (p.targets ?? []).map((t) => t.refId);
      expect(refIds.length, p.title).toBeGreaterThan(0);
      expect(new Set(refIds).size).toBe(refIds.length);
    }
  });

  it('numbers panels uniquely', () => {
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shows durations in seconds and word counts in words', () => {
    for (const p of dataPanels(d)) {
      const exprs = (p.targets ?? []).map((t) => t.expr).join(' ');
      const unit = p.fieldConfig?.defaults?.unit;
      if (/(ttft|find_time|ping_time|gen_duration|session_duration):?/.test(exprs) && !/1 - \(/.test(exprs)) expect(unit, p.title).toBe('s');
      if (/(request_length|reply_length|num_words)/.test(exprs)) expect(unit, p.title).toBe('suffix: words');
      if (/recv_words|sent_words/.test(exprs)) expect(unit, p.title).toBe('suffix: words/s');
    }
  });
});

describe('fleet dashboards', () => {
  it('are the guide five plus Fleet, with the expected panel counts', () => {
    const counts = Object.fromEntries(FLEET_DASHBOARDS.map((s) => [s.key, dataPanels(asJson(genericDashboard(s))).length]));
    expect(counts).toEqual({ overview: 9, latency: 9, throughput: 8, 'service-health': 10, 'user-behaviour': 8, fleet: 13 });
  });
});

describe('dashboard delivery', () => {
  const perFleet = { monitoring: { dashboards: { perFleet: true } } };
  const configMaps = (objs: KubeObject[]) => objs.filter((o) => o.kind === 'ConfigMap');

  it('delivers one ConfigMap per dashboard with the sidecar label and folder annotation', () => {
    const cms = configMaps(renderDashboards(sample(), everything));
    expect(cms).toHaveLength(FLEET_DASHBOARDS.length);
    for (const cm of cms) {
      expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1', release: 'kube-prometheus-stack' });
      expect(cm.metadata.annotations).toEqual({ grafana_folder: 'Unmute' });
    }
  });

  it('uses the configured sidecar label', () => {
    const cr = anUnmuteDeployment({ monitoring: { dashboards: { perFleet: true, labelKey: 'dashboards', labelValue: 'unmute', folderAnnotation: 'k8s-sidecar-target-directory', folder: '/tmp/unmute' } } });
    const [cm] = configMaps(renderDashboards(cr, everything));
    expect(cm?.metadata.labels?.['dashboards']).toBe('unmute');
    expect(cm?.metadata.annotations).toEqual({ 'k8s-sidecar-target-directory': '/tmp/unmute' });
  });

  it('gives each fleet its own uids, titles and file names, with its variables preselected', () => {
    const a = configMaps(renderDashboards(anUnmuteDeployment(perFleet, { namespace: 'a', name: 'x' }), everything));
    const b = configMaps(renderDashboards(anUnmuteDeployment(perFleet, { namespace: 'b', name: 'x' }), everything));
    const parse = (cm: KubeObject) => {
      const data = cm['data'] as Record<string, string>;
      const [key, json] = Object.entries(data)[0]!;
      return { key, d: JSON.parse(json) as Json };
    };
    const uids = new Set<string>();
    const titles = new Set<string>();
    const keys = new Set<string>();
    for (const cm of [...a, ...b]) {
      const { key, d } = parse(cm);
      expect(d.uid.length).toBeLessThanOrEqual(40);
      uids.add(d.uid);
      titles.add(d.title);
      keys.add(key);
    }
    expect(uids.size).toBe(2 * FLEET_DASHBOARDS.length);
    expect(titles.size).toBe(2 * FLEET_DASHBOARDS.length);
    expect(keys.size).toBe(2 * FLEET_DASHBOARDS.length);
    const first = parse(a[0]!).d;
    expect(first.templating.list.find((v) => v.name === 'namespace')?.current?.value).toBe('a');
    expect(first.templating.list.find((v) => v.name === 'fleet')?.current?.value).toBe('x');
  });

  it.each([
    [true, true, FLEET_DASHBOARDS.length],
    [true, false, 0],
    [false, true, 0],
  ])('renders GrafanaDashboards when enabled=%s and the CRD is served=%s', (enabled, served, count) => {
    const cr = anUnmuteDeployment({ monitoring: { dashboards: { perFleet: true, grafanaOperator: { enabled, instanceSelector: { dashboards: 'grafana' } } } } });
    const gds = renderDashboards(cr, { ...everything, grafanaOperator: served }).filter((o) => o.kind === 'GrafanaDashboard');
    expect(gds).toHaveLength(count);
    for (const g of gds) {
      expect(g.apiVersion).toBe('grafana.integreatly.org/v1beta1');
      expect(g['spec']).toMatchObject({ instanceSelector: { matchLabels: { dashboards: 'grafana' } }, allowCrossNamespaceImport: true });
    }
  });

  it('renders no per-fleet copies by default: the shared set serves the fleet, and status links to it with the fleet selected', () => {
    const cr = anUnmuteDeployment({}, { namespace: 'voice', name: 'prod' });
    expect(renderDashboards(cr, everything)).toEqual([]);
    const links = dashboardLinks(cr);
    expect(links).toHaveLength(FLEET_DASHBOARDS.length);
    expect(links.find((l) => l.title === 'Fleet')?.path).toBe('/d/unmute-fleet?var-namespace=voice&var-fleet=prod');
    for (const l of links) expect(FLEET_DASHBOARDS.map((s) => `/d/${genericDashboard(s).uid}`)).toContain(l.path.split('?')[0]);
  });

  it("links a fleet with its own copies to them", () => {
    const cr = anUnmuteDeployment(perFleet, { namespace: 'voice', name: 'prod' });
    const uids = configMaps(renderDashboards(cr, everything)).map((cm) => (JSON.parse(Object.values(cm['data'] as Record<string, string>)[0]!) as Json).uid);
    expect(dashboardLinks(cr).map((l) => l.path.split('?')[0])).toEqual(uids.map((u) => `/d/${u}`));
  });

  it('renders no dashboards when they are disabled', () => {
    expect(renderDashboards(anUnmuteDeployment({ monitoring: { dashboards: { enabled: false } } }), everything)).toEqual([]);
  });
});
