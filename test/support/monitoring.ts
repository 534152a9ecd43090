// Shared by the monitoring tests: the sample fleets, every PromQL expression we ship (rules and
// dashboards) with where it comes from, and a lezer-based syntax check and metric-name extractor.
import { readFileSync } from 'node:fs';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { unmuteDeployment, type UnmuteDeployment } from '../../src/api/v1alpha1/unmute-deployment.ts';
import { ALL_DASHBOARDS, FLEET_DASHBOARDS, genericDashboard } from '../../src/monitoring/dashboards/catalog.ts';
import { variableQueries } from '../../src/monitoring/dashboards/build.ts';
import { operatorRuleGroups } from '../../src/monitoring/rules/operator.ts';
import { fleetRuleGroups } from '../../src/monitoring/rules/prometheus-rule.ts';
import type { RuleGroup } from '../../src/monitoring/rules/types.ts';
import type { ClusterCapabilities } from '../../src/render/types.ts';

export function loadFixture(name: string): UnmuteDeployment {
  const raw: unknown = parseYaml(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
  return unmuteDeployment.parse(raw);
}

export const sample = (): UnmuteDeployment => loadFixture('monitoring-sample.yaml');
export const podMonitorSample = (): UnmuteDeployment => loadFixture('monitoring-podmonitor.yaml');

export const OPERATOR_RULES = { namespace: 'unmute-system', jobLabel: 'unmute-operator' };

export const everything: ClusterCapabilities = { prometheusOperator: true, grafanaOperator: true, gatewayApi: false, httpRouteTimeouts: false, nodeDrains: true };

export interface Expression {
  /** Where it is used, for failure messages: `rule UnmuteHighErrorRate`, `dashboard latency / TTS ...`. */
  where: string;
  expr: string;
  kind: 'rule' | 'panel' | 'variable';
}

export function ruleExpressions(groups: RuleGroup[], label: string): Expression[] {
  return groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `${label} ${'alert' in r ? r.alert : r.record}`, expr: r.expr, kind: 'rule' as const })),
  );
}

/** Grafana's `label_values(selector, label)` as a PromQL query that has a result when the variable has values. */
export function variableAsQuery(q: string): string {
  const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/s.exec(q);
  if (m === null) throw new Error(`not a label_values() query: ${q}`);
  return `count by (${m[2]}) (${m[1]})`;
}

export function dashboardExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const spec of ALL_DASHBOARDS) {
    for (const [name, q] of Object.entries(variableQueries(spec.variables))) {
      out.push({ where: `dashboard ${spec.key} variable ${name}`, expr: variableAsQuery(q), kind: 'variable' });
    }
    for (const row of spec.rows)
      for (const p of row.panels)
        p.queries.forEach((q, i) => out.push({ where: `dashboard ${spec.key} / ${p.title} #${i}`, expr: q.expr, kind: 'panel' }));
  }
  return out;
}

/** Every expression the sample fleet and the operator ship. */
export function allExpressions(): Expression[] {
  return [
    ...ruleExpressions(fleetRuleGroups(sample()), 'rule'),
    ...ruleExpressions(fleetRuleGroups(podMonitorSample()), 'rule (podmonitor sample)'),
    ...ruleExpressions(operatorRuleGroups(OPERATOR_RULES), 'operator rule'),
    ...dashboardExpressions(),
  ];
}

/** Grafana variables replaced the way Grafana would for the sample fleet. */
export function substituteVariables(expr: string, values: { rateInterval?: string; range?: string } = {}): string {
  return expr
    .replaceAll('$__rate_interval', values.rateInterval ?? '1m')
    .replaceAll('$__range', values.range ?? '1h')
    .replaceAll('$namespace', 'voice')
    .replaceAll('$fleet', 'demo')
    .replaceAll('$job', OPERATOR_RULES.jobLabel);
}

/** Syntax errors lezer-promql finds (unknown functions included); empty when the expression parses. */
export function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(`error at ${n.from}: …${expr.slice(Math.max(0, n.from - 20), n.from + 20)}…`);
    },
  });
  return errors;
}

/** Metric names selected by an expression. */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const tree = parser.parse(expr);
  tree.iterate({
    enter: (n) => {
      if (n.name === 'Identifier' && n.node.parent?.name === 'VectorSelector') names.add(expr.slice(n.from, n.to));
    },
  });
  return [...names];
}

export interface ScrapeJob {
  job_name: string;
  kubernetes_sd_configs?: unknown[];
  static_configs?: unknown[];
  [key: string]: unknown;
}

/** The scrape configuration docs/monitoring.md gives for a Prometheus without the operator. */
export function docsScrapeConfig(): { scrape_configs: ScrapeJob[] } {
  const doc = readFileSync(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');
  const m = /<!-- prometheus-config -->\n```yaml\n([\s\S]*?)```/.exec(doc);
  if (m?.[1] === undefined) throw new Error('docs/monitoring.md has no <!-- prometheus-config --> yaml block');
  return parseYaml(m[1]) as { scrape_configs: ScrapeJob[] };
}

/**
 * The docs' jobs with Kubernetes discovery replaced by static targets carrying the same __meta_*
 * labels a pod would have (Debian's Prometheus is built without Kubernetes discovery).
 */
export function withStaticPods(jobs: ScrapeJob[], pods: Record<string, Array<{ target: string; meta: Record<string, string> }>>): ScrapeJob[] {
  return jobs.map((j) => {
    const { kubernetes_sd_configs: _sd, ...rest } = j;
    return { ...rest, static_configs: (pods[j.job_name] ?? []).map((p) => ({ targets: [p.target], labels: p.meta })) };
  });
}

export { FLEET_DASHBOARDS, genericDashboard };
