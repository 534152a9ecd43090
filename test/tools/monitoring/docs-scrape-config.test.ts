// The scrape configuration docs/monitoring.md gives for a Prometheus without the operator is one
// promtool accepts, and keeps the operator's labels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { docsScrapeConfig, withStaticPods } from '../../support/monitoring.ts';
import { promtool } from '../../support/prometheus.ts';
import { tools } from '../../support/tools.ts';

describe('docs/monitoring.md', () => {
  // Debian's promtool has no Kubernetes discovery: the check runs with static targets instead, which
  // leaves the relabeling (the part that matters) to be checked. prometheus-live.test.ts runs it.
  it('gives a scrape configuration promtool accepts, keeping the operator labels', () => {
    const config = docsScrapeConfig();
    const text = JSON.stringify(config);
    for (const needle of ['prometheus_io_scrape', 'unmute_sh_fleet', 'unmute_sh_component', '"honor_labels":true']) expect(text).toContain(needle);
    const dir = mkdtempSync(join(tmpdir(), 'unmute-docs-'));
    try {
      const pods = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, [{ target: '127.0.0.1:9', meta: {} }]]));
      writeFileSync(join(dir, 'prometheus.yml'), stringify({ scrape_configs: withStaticPods(config.scrape_configs, pods) }));
      const r = promtool(tools().promtool, ['check', 'config', '--syntax-only', join(dir, 'prometheus.yml')]);
      expect(r.ok, r.output).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
