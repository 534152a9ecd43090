// docs/monitoring.md is the runbook the alerts link to: a section per alert, every dashboard with
// its panels. Its scrape configuration is checked with promtool in test/tools/monitoring/.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_DASHBOARDS } from '../../../src/monitoring/dashboards/catalog.ts';
import { FLEET_ALERTS, OPERATOR_ALERTS, runbookAnchor } from '../../../src/monitoring/rules/runbooks.ts';

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
});
