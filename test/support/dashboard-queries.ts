// What Grafana would send to Prometheus for a dashboard: every panel target's PromQL with the
// template variables filled in, and the vector selectors in it. Used to run the shared dashboards
// (the chart's dashboards/*.json) against a real Prometheus for one fleet at a time.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** The chart's copy of the shared set: the one ConfigMap (templates/dashboard.yaml) holds these files. */
export const CHART_DASHBOARDS_DIR = 'helm/unmute-operator/dashboards';

interface PanelJson {
  title: string;
  targets?: Array<{ refId?: string | undefined; expr?: string | undefined }> | undefined;
  panels?: PanelJson[] | undefined;
}

const Panel: z.ZodType<PanelJson> = z.lazy(() =>
  z.object({
    title: z.string(),
    targets: z.array(z.object({ refId: z.string().optional(), expr: z.string().optional() })).optional(),
    panels: z.array(Panel).optional(),
  }),
);

export const DashboardJson = z.object({
  uid: z.string(),
  title: z.string(),
  templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.string(), query: z.unknown().optional() })) }),
  panels: z.array(Panel),
});
export type DashboardJson = z.infer<typeof DashboardJson>;

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

/** file name → dashboard, read from a directory of dashboard JSON files. */
export function readDashboards(dir = CHART_DASHBOARDS_DIR): Map<string, DashboardJson> {
  const out = new Map<string, DashboardJson>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) out.set(f, DashboardJson.parse(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
  return out;
}

/** Every Prometheus target of every panel (rows' nested panels too). */
export function panelQueries(d: DashboardJson): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: PanelJson[]) => {
    for (const p of panels) {
      for (const [i, t] of (p.targets ?? []).entries()) if (t.expr !== undefined && t.expr.trim() !== '') out.push({ dashboard: d.uid, panel: p.title, refId: t.refId ?? String(i), expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return out;
}

/** The names of a dashboard's template variables. */
export function variableNames(d: DashboardJson): string[] {
  return d.templating.list.map((v) => v.name);
}

/**
 * Grafana's interpolation of `$name`, `${name}`, `${name:format}` and `[[name]]` (single values;
 * the shared dashboards have no multi-value variables). Unknown names are left as they are.
 */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    return Object.hasOwn(vars, name) ? vars[name]! : whole;
  });
}

/** The instant-vector selectors (`metric{matchers}`) of an expression, in order, without range or offset. */
export function vectorSelectors(expr: string): string[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}/g)].map((m) => `${m[1]}{${m[2]}}`);
}

/** Grafana's `label_values(selector, label)` variable query, split; undefined for other forms. */
export function labelValuesQuery(query: unknown): { match: string; label: string } | undefined {
  const q = typeof query === 'string' ? query : z.object({ query: z.string() }).safeParse(query).data?.query;
  const m = q?.match(/^label_values\((.+),\s*([a-zA-Z_]\w*)\)$/s);
  return m ? { match: m[1]!.trim(), label: m[2]! } : undefined;
}

const Sample = z.tuple([z.number(), z.string()]);
const VectorSample = z.object({ metric: z.record(z.string(), z.string()), value: Sample });
export type VectorSample = z.infer<typeof VectorSample>;

/** Prometheus' answer to GET/POST /api/v1/query (instant vector or scalar). */
export const QueryAnswer = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.discriminatedUnion('resultType', [
      z.object({ resultType: z.literal('vector'), result: z.array(VectorSample) }),
      z.object({ resultType: z.literal('scalar'), result: Sample }),
    ]),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({ status: z.literal('error'), errorType: z.string(), error: z.string() }),
]);

const LabelValuesAnswer = z.object({ status: z.literal('success'), data: z.array(z.string()) });

export type QueryOutcome = { ok: true; samples: VectorSample[] } | { ok: false; error: string };

/** An instant query; errors (HTTP 400/422 with a JSON body) come back as `ok: false`. */
export async function instantQuery(prometheusUrl: string, expr: string): Promise<QueryOutcome> {
  const res = await fetch(`${prometheusUrl}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: expr }),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = QueryAnswer.parse(await res.json());
  if (answer.status === 'error') return { ok: false, error: `${answer.errorType}: ${answer.error}` };
  const { data } = answer;
  return { ok: true, samples: data.resultType === 'vector' ? data.result : [{ metric: {}, value: data.result }] };
}

/** GET /api/v1/label/<label>/values?match[]=<selector>: what Grafana offers for a label_values variable. */
export async function labelValues(prometheusUrl: string, label: string, match: string): Promise<string[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match }).toString()}`, {
    signal: AbortSignal.timeout(10_000),
  });
  return LabelValuesAnswer.parse(await res.json()).data.sort();
}
