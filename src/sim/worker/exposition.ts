// Renders prom-client metrics the way Unmute's Python prometheus_client does in the classic text
// format (version 0.0.4), so scrapers, recording rules and dashboards see the same series:
// - counters as `<name>_total`, plus an OpenMetrics-style `<name>_created` gauge family;
// - histograms as `_bucket{le}`, `_count`, `_sum`, then `<name>_created`; summaries `_count`, `_sum`, `_created`;
// - floats in Go style as Python writes them (`1.0`, `0.025`, `1.718e+09`), `le="+Inf"`;
// - empty HELP text (Unmute registers every metric with an empty description);
// - label names sorted, as prometheus_client prints them;
// - no blank lines between families.
// The helpers (familyHeader, sampleText) also write the families that are not prom-client's: the
// process/python collectors and the HTTP instrumentator (runtime-metrics.ts, http-metrics.ts).
import { performance } from 'node:perf_hooks';
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

/** A label set as prometheus_client prints it: names sorted, values escaped, `le`/`quantile` as Go floats. */
export function labelText(labels: Record<string, string | number | undefined>): string {
  const parts: string[] = [];
  for (const k of Object.keys(labels).sort()) {
    const v = labels[k];
    if (v === undefined) continue;
    const value = k === 'le' || k === 'quantile' ? floatToGoString(typeof v === 'number' ? v : v === '+Inf' ? Infinity : Number(v)) : String(v);
    parts.push(`${k}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`);
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** One sample line: `name{labels} value`. */
export function sampleText(name: string, labels: Record<string, string | number | undefined>, value: number): string {
  return `${name}${labelText(labels)} ${floatToGoString(value)}\n`;
}

/** A family's `# HELP` and `# TYPE` lines (an empty HELP keeps its trailing space, as Python writes it). */
export function familyHeader(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

function sampleLine(name: string, v: NamedValue): string {
  return sampleText(name, v.labels as Record<string, string | number | undefined>, v.value);
}

/**
 * `families` in registration order; `createdSeconds` is the Unix time each metric was created
 * (Python's `_created` sample), one time for all or per base name (without `_total`).
 */
export function renderPythonExposition(
  families: readonly MetricObjectWithValues<MetricValue<string>>[],
  createdSeconds: number | ((baseName: string) => number),
  opts: { help?: boolean } = {},
): string {
  let out = '';
  const createdOf = typeof createdSeconds === 'number' ? () => createdSeconds : createdSeconds;
  for (const f of families) {
    const type = String(f.type);
    const exposedName = f.name;
    const baseName = type === 'counter' ? exposedName.replace(/_total$/, '') : exposedName;
    const help = opts.help === true ? f.help : '';
    out += familyHeader(exposedName, help, type);
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
      out += `${familyHeader(`${baseName}_created`, help, 'gauge')}${baseName}_created ${floatToGoString(createdOf(baseName))}\n`;
    }
  }
  return out;
}

export const PYTHON_EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Python's time.time(): Unix seconds with sub-millisecond digits, as the `_created` samples show them. */
export function unixSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}
