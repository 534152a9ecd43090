// The helper the monitoring pipeline test uses to run the shared dashboards against Prometheus:
// it must see every target of the chart's dashboards, fill every variable and find every selector.
import { describe, expect, it } from 'vitest';
import { FLEET_DASHBOARDS, genericDashboard } from '../../../src/monitoring/dashboards/catalog.ts';
import { labelValuesQuery, panelQueries, QueryAnswer, readDashboards, substitute, variableNames, vectorSelectors } from '../../support/dashboard-queries.ts';

const VARS = { namespace: 'ns-a', fleet: 'voice', job: 'op', __rate_interval: '30s', __interval: '15s', __range: '5m' };

describe('dashboard queries as Grafana sends them', () => {
  const dashboards = readDashboards();

  it("reads the chart's shared set: the generator's generic dashboards, one file each", () => {
    for (const spec of FLEET_DASHBOARDS) {
      const d = dashboards.get(`unmute-${spec.key}.json`);
      expect(d?.uid).toBe(`unmute-${spec.key}`);
      expect(panelQueries(d!)).toEqual(panelQueries(readDashboardsFromGenerator(spec)));
      expect(variableNames(d!)).toEqual(expect.arrayContaining(['namespace', 'fleet']));
    }
  });

  it('fills every variable of every target and finds at least one selector in each', () => {
    const all = [...dashboards.values()].flatMap(panelQueries);
    expect(all.length).toBeGreaterThan(80);
    for (const q of all) {
      const expr = substitute(q.expr, VARS);
      expect(expr, `${q.dashboard} / ${q.panel}`).not.toMatch(/\$|\[\[/);
      expect(vectorSelectors(expr).length, `${q.dashboard} / ${q.panel}`).toBeGreaterThan(0);
    }
  });

  it('substitutes the forms Grafana knows and leaves unknown names', () => {
    expect(substitute('a{x="$namespace",y="${fleet}",z="${fleet:raw}",w="[[namespace]]"}[$__rate_interval] $other', VARS)).toBe('a{x="ns-a",y="voice",z="voice",w="ns-a"}[30s] $other');
  });

  it('finds selectors with colons, regex matchers and braces in strings, without the range', () => {
    expect(vectorSelectors('1 - (sum(rate(x_bucket{le=~"1(\\\\.0)?", a="}"}[5m])) / sum(vllm:num{n="a"}))')).toEqual(['x_bucket{le=~"1(\\\\.0)?", a="}"}', 'vllm:num{n="a"}']);
  });

  it("splits label_values variable queries, in Grafana's string and object forms", () => {
    expect(labelValuesQuery('label_values(up{namespace="$namespace", unmute_sh_fleet!=""}, unmute_sh_fleet)')).toEqual({ match: 'up{namespace="$namespace", unmute_sh_fleet!=""}', label: 'unmute_sh_fleet' });
    expect(labelValuesQuery({ query: 'label_values(m, job)', refId: 'A' })).toEqual({ match: 'm', label: 'job' });
    expect(labelValuesQuery('prometheus')).toBeUndefined();
  });

  it("parses Prometheus' answers: vectors, scalars and errors", () => {
    expect(QueryAnswer.parse({ status: 'success', data: { resultType: 'vector', result: [{ metric: { a: 'b' }, value: [1, '2'] }] } }).status).toBe('success');
    expect(QueryAnswer.parse({ status: 'success', data: { resultType: 'scalar', result: [1, '2'] } }).status).toBe('success');
    expect(QueryAnswer.parse({ status: 'error', errorType: 'bad_data', error: 'parse error' }).status).toBe('error');
    expect(() => QueryAnswer.parse({ status: 'success', data: { resultType: 'matrix', result: [] } })).toThrow();
  });
});

function readDashboardsFromGenerator(spec: (typeof FLEET_DASHBOARDS)[number]) {
  return JSON.parse(JSON.stringify(genericDashboard(spec))) as Parameters<typeof panelQueries>[0];
}
