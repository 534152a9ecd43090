// Turns a DashboardSpec into Grafana dashboard JSON with grafana-foundation-sdk. The data source is
// a template variable (no hard-coded uid), so the same JSON works in any Grafana.
import {
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
  ReduceDataOptionsBuilder,
  LegendDisplayMode,
  LegendPlacement,
  TooltipDisplayMode,
  SortOrder,
  GraphDrawStyle,
  BigValueGraphMode,
  BigValueColorMode,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { OPERATOR_LABEL_FLEET, SERIES_LABEL_FLEET } from '../promql.ts';
import type { DashboardSpec, PanelSpec, VariableSet } from './spec.ts';

const DATASOURCE_VARIABLE = 'datasource';
const DATASOURCE = { type: 'prometheus', uid: `\${${DATASOURCE_VARIABLE}}` };

export interface BuildOptions {
  uid: string;
  title: string;
  /** Preselected values of the namespace/fleet variables (per-fleet dashboards). */
  current?: { namespace: string; fleet: string };
  tags?: string[];
}

/** The query behind each template variable (Grafana's label_values() form). */
export function variableQueries(set: VariableSet): Record<string, string> {
  switch (set) {
    case 'unmute':
      return {
        namespace: `label_values(up{${SERIES_LABEL_FLEET}!=""}, namespace)`,
        fleet: `label_values(up{namespace="$namespace", ${SERIES_LABEL_FLEET}!=""}, ${SERIES_LABEL_FLEET})`,
      };
    case 'fleet':
      return {
        namespace: 'label_values(unmute_operator_replicas_desired, namespace)',
        fleet: `label_values(unmute_operator_replicas_desired{namespace="$namespace"}, ${OPERATOR_LABEL_FLEET})`,
      };
    case 'operator':
      return { job: 'label_values(controller_runtime_reconcile_total, job)' };
  }
}

const VARIABLE_LABELS: Record<string, string> = { namespace: 'Namespace', fleet: 'Fleet', job: 'Operator job' };

function variables(set: VariableSet, current: BuildOptions['current']) {
  const out = [new DatasourceVariableBuilder(DATASOURCE_VARIABLE).label('Data source').type('prometheus')];
  for (const [name, query] of Object.entries(variableQueries(set))) {
    const v = new QueryVariableBuilder(name)
      .label(VARIABLE_LABELS[name] ?? name)
      .datasource(DATASOURCE)
      .query(query)
      .definition(query)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc);
    const value = current === undefined ? undefined : name === 'namespace' ? current.namespace : name === 'fleet' ? current.fleet : undefined;
    if (value !== undefined) v.current({ text: value, value });
    out.push(v as unknown as DatasourceVariableBuilder);
  }
  return out;
}

function target(expr: string, legend: string, refId: string, instant: boolean) {
  const q = new DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId).datasource(DATASOURCE);
  return instant ? q.instant() : q.range();
}

function flagMappings(flag: NonNullable<PanelSpec['flag']>): ValueMapping[] {
  return [
    {
      type: 'value',
      options: { '0': { text: flag.off, color: 'green', index: 0 }, '1': { text: flag.on, color: 'red', index: 1 } },
    } as unknown as ValueMapping,
  ];
}

function panel(p: PanelSpec) {
  const refIds = 'ABCDEFGHIJ';
  const instant = p.kind === 'stat';
  const targets = p.queries.map((q, i) => target(q.expr, q.legend, refIds[i] ?? `Q${i}`, instant));
  if (p.kind === 'stat') {
    const b = new stat.PanelBuilder()
      .title(p.title)
      .description(p.description)
      .datasource(DATASOURCE)
      .unit(p.unit)
      .span(p.w ?? 6)
      .height(p.h ?? 4)
      .graphMode(BigValueGraphMode.None)
      .colorMode(BigValueColorMode.Value)
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    if (p.flag !== undefined) b.mappings(flagMappings(p.flag));
    if (p.min !== undefined) b.min(p.min);
    if (p.max !== undefined) b.max(p.max);
    for (const t of targets) b.withTarget(t);
    return b;
  }
  const b = new timeseries.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DATASOURCE)
    .unit(p.unit)
    .span(p.w ?? 12)
    .height(p.h ?? 8)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
    .fillOpacity(p.bars ? 80 : 10);
  if (p.bars) b.drawStyle(GraphDrawStyle.Bars);
  if (p.min !== undefined) b.min(p.min);
  if (p.max !== undefined) b.max(p.max);
  for (const t of targets) b.withTarget(t);
  return b;
}

/** Grafana JSON of a dashboard, with panel ids numbered in layout order. */
export function buildDashboard(spec: DashboardSpec, opts: BuildOptions): Dashboard {
  const d = new DashboardBuilder(opts.title)
    .uid(opts.uid)
    .description(spec.description)
    .tags(opts.tags ?? ['unmute'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser');
  for (const v of variables(spec.variables, opts.current)) d.withVariable(v);
  for (const row of spec.rows) {
    d.withRow(new RowBuilder(row.title));
    for (const p of row.panels) d.withPanel(panel(p));
  }
  const json = d.build();
  // Grafana reads annotations.list; the builder leaves an empty object.
  json.annotations = { list: [] };
  let id = 1;
  for (const p of json.panels ?? []) (p as { id?: number }).id = id++;
  return json;
}
