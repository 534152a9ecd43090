// docs/monitoring.md is the runbook the alerts link to: a section per alert, every dashboard with
// its panels, and a scrape configuration that Prometheus accepts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_DASHBOARDS } from '../../../src/monitoring/dashboards/catalog.ts';
import { FLEET_ALERTS, OPERATOR_ALERTS, runbookAnchor } from '../../../src/monitoring/rules/runbooks.ts';
import { stringify } from 'yaml';
import { promtool, requireBinary } from '../../support/prometheus.ts';
import { docsScrapeConfig, withStaticPods } from './support.ts';

const doc = readFileSync(new URL('../../../docs/monitoring.md', import.meta.url), 'utf8');

/** The text from a `### title` heading to the next heading of level 2 or 3. */
function section(title: string): string | undefined {
  const start = doc.indexOf(`\n### ${title}\n`);
  if (start < 0) return undefined;
  const rest = doc.slice(start + title.length + 6);
  const end = rest.search(/\n##+ /);
  return end < 0 ? rest : rest.slice(0, end);
}

/** GitHub's anchor of a heading: lower case, spaces to dashes, punctuation dropped. */
const githubAnchor = (heading: string) => heading.toLowerCase().replace(/[^a-z0-9 -]/g, '').replaceAll(' ', '-');

describe('docs/monitoring.md', () => {
  it.each([...FLEET_ALERTS, ...OPERATOR_ALERTS])('has a runbook section for %s that its runbook_url reaches', (alert) => {
    const text = section(alert);
    expect(text, `### ${alert}`).toBeDefined();
    expect(text).toContain('**Meaning.**');
    expect(text).toContain('**Fix.**');
    expect(githubAnchor(alert)).toBe(runbookAnchor(alert));
    expect(doc).toContain(`](#${runbookAnchor(alert)})`);
  });

  it.each(ALL_DASHBOARDS.map((d) => [d.title, d] as const))('lists every panel of the %s dashboard', (title, spec) => {
    const text = section(title);
    expect(text, `### ${title}`).toBeDefined();
    const panels = spec.rows.flatMap((r) => r.panels);
    expect(text).toContain(`${panels.length} panels.`);
    expect(text).toContain(`dashboards/unmute-${spec.key}.json`);
    for (const p of panels) expect(text, p.title).toContain(`| ${p.title} |`);
  });

  const tool = requireBinary('promtool');
  // Debian's promtool has no Kubernetes discovery: the check runs with static targets instead, which
  // leaves the relabeling (the part that matters) to be checked. prometheus-live.test.ts runs it.
  it.skipIf('skip' in tool)('gives a scrape configuration promtool accepts, keeping the operator labels', () => {
    const config = docsScrapeConfig();
    const text = JSON.stringify(config);
    for (const needle of ['prometheus_io_scrape', 'unmute_sh_fleet', 'unmute_sh_component', '"honor_labels":true']) expect(text).toContain(needle);
    const dir = mkdtempSync(join(tmpdir(), 'unmute-docs-'));
    try {
      const pods = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, [{ target: '127.0.0.1:9', meta: {} }]]));
      writeFileSync(join(dir, 'prometheus.yml'), stringify({ scrape_configs: withStaticPods(config.scrape_configs, pods) }));
      const r = promtool('path' in tool ? tool.path : '', ['check', 'config', '--syntax-only', join(dir, 'prometheus.yml')]);
      expect(r.ok, r.output).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
