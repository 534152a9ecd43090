// Renders prom-client metrics the way Unmute's Python prometheus_client does in the classic text
// format (version 0.0.4), so scrapers, recording rules and dashboards see the same series:
// - counters as `<name>_total`, plus an OpenMetrics-style `<name>_created` gauge family;
// - histograms as `_bucket{le}`, `_count`, `_sum`, then `<name>_created`; summaries `_count`, `_sum`, `_created`;
// - floats in Go style as Python writes them (`1.0`, `0.025`, `1.718e+09`), `le="+Inf"`;
// - empty HELP text (Unmute registers every metric with an empty description);
// - no blank lines between families.
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

// Histogram and summary values carry the sample name (`x_bucket`, `x_sum`, `x_count`).
type NamedValue = MetricValue<string> & { metricName?: string };

/** Python's repr() of a float. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() without digits gives the shortest round-trip mantissa, as repr() does.
  const [mantissa, e] = x.toExponential().split('e') as [string, string];
  const e10 = Number(e);
  // Python switches to exponent notation below 1e-4 and from 1e16 upward.
  if (e10 < -4 || e10 >= 16) {
    const sign = e10 < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(e10)).padStart(2, '0')}`;
  }
  const fixed = String(x);
  return /[.e]/.test(fixed) ? fixed : `${fixed}.0`;
}

/** prometheus_client.utils.floatToGoString, including its quirks. */
export function floatToGoString(x: number): string {
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (Number.isNaN(x)) return 'NaN';
  const s = pythonFloatRepr(x);
  const dot = s.indexOf('.');
  // "Go switches to exponents sooner than Python." (only positive values are rewritten)
  if (x > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

function labelText(labels: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (v === undefined) continue;
    const value = k === 'le' || k === 'quantile' ? floatToGoString(typeof v === 'number' ? v : v === '+Inf' ? Infinity : Number(v)) : String(v);
    parts.push(`${k}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function sampleLine(name: string, v: NamedValue): string {
  return `${name}${labelText(v.labels as Record<string, string | number | undefined>)} ${floatToGoString(v.value)}\n`;
}

/**
 * `families` in registration order; `createdSeconds` is the Unix time the metrics were created
 * (Python exposes one per metric; ours share the process' start).
 */
export function renderPythonExposition(families: readonly MetricObjectWithValues<MetricValue<string>>[], createdSeconds: number, opts: { help?: boolean } = {}): string {
  let out = '';
  const created = floatToGoString(createdSeconds);
  for (const f of families) {
    const type = String(f.type);
    const exposedName = f.name;
    const baseName = type === 'counter' ? exposedName.replace(/_total$/, '') : exposedName;
    const help = opts.help === true ? f.help : '';
    out += `# HELP ${exposedName} ${help}\n# TYPE ${exposedName} ${type}\n`;
    const values = f.values as NamedValue[];
    if (type === 'histogram') {
      const buckets = values.filter((v) => v.metricName === `${baseName}_bucket`);
      const count = values.filter((v) => v.metricName === `${baseName}_count`);
      const sum = values.filter((v) => v.metricName === `${baseName}_sum`);
      for (const v of buckets) out += sampleLine(`${baseName}_bucket`, v);
      for (const v of count) out += sampleLine(`${baseName}_count`, v);
      for (const v of sum) out += sampleLine(`${baseName}_sum`, v);
    } else if (type === 'summary') {
      const count = values.filter((v) => v.metricName === `${baseName}_count`);
      const sum = values.filter((v) => v.metricName === `${baseName}_sum`);
      for (const v of count) out += sampleLine(`${baseName}_count`, v);
      for (const v of sum) out += sampleLine(`${baseName}_sum`, v);
    } else {
      for (const v of values) out += sampleLine(exposedName, v);
    }
    if (type === 'counter' || type === 'histogram' || type === 'summary') {
      out += `# HELP ${baseName}_created \n# TYPE ${baseName}_created gauge\n${baseName}_created ${created}\n`;
    }
  }
  return out;
}

export const PYTHON_EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
