// Small builders for the PromQL shared by rules and dashboards. Rules scope every expression to one
// fleet with literal values; dashboards use the same builders with Grafana variables instead, so a
// panel and the alert about it cannot disagree on what they measure.

/** Which fleet an expression is about: literal values (rules) or `$namespace`/`$fleet` (dashboards). */
export interface Scope {
  namespace: string;
  fleet: string;
}

export const DASHBOARD_SCOPE: Scope = { namespace: '$namespace', fleet: '$fleet' };

/** Label names of scraped series (Prometheus sanitizes `unmute.sh/fleet` into `unmute_sh_fleet`). */
export const SERIES_LABEL_FLEET = 'unmute_sh_fleet';
const SERIES_LABEL_COMPONENT = 'unmute_sh_component';
/** Label names of the operator's own fleet metrics. */
export const OPERATOR_LABEL_FLEET = 'fleet';

/** A PromQL double-quoted string literal. */
export function str(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Matchers selecting one fleet's scraped series, optionally one component. */
export function workerMatchers(scope: Scope, component?: string): string {
  const m = [`namespace=${str(scope.namespace)}`, `${SERIES_LABEL_FLEET}=${str(scope.fleet)}`];
  if (component !== undefined) m.push(`${SERIES_LABEL_COMPONENT}=${str(component)}`);
  return m.join(', ');
}

/** Matchers selecting one fleet's operator metrics. */
export function fleetMatchers(scope: Scope, component?: string): string {
  const m = [`namespace=${str(scope.namespace)}`, `${OPERATOR_LABEL_FLEET}=${str(scope.fleet)}`];
  if (component !== undefined) m.push(`component=${str(component)}`);
  return m.join(', ');
}

/** `metric{matchers, extra}`. */
export function sel(metric: string, matchers: string, extra?: string): string {
  return `${metric}{${extra === undefined ? matchers : `${matchers}, ${extra}`}}`;
}

/** The labels fleet-level aggregations keep: enough to tell fleets apart, nothing per pod. */
export const FLEET_BY = `namespace, ${SERIES_LABEL_FLEET}`;

/**
 * A matcher for one histogram bucket. Python's client writes whole bounds as `1.0`, Go and JS
 * clients as `1`, and Prometheus 3 normalizes on ingestion: accept both spellings.
 */
export function leMatcher(bound: number): string {
  if (Number.isInteger(bound)) return `le=~${str(`${bound}(\\.0)?`)}`;
  return `le=${str(String(bound))}`;
}

/**
 * The smallest bucket bound at or above `threshold`, capped at the highest finite bound: what a
 * histogram can actually say about "slower than threshold".
 */
export function bucketBoundAtLeast(buckets: readonly number[], threshold: number): number {
  const found = buckets.find((b) => b >= threshold - 1e-9);
  const top = buckets[buckets.length - 1];
  if (top === undefined) throw new Error('a histogram needs at least one finite bucket');
  return found ?? top;
}

/** `1 - q` rounded to a printable fraction (0.95 → 0.05, not 0.050000000000000044). */
export function complement(q: number): number {
  return Number((1 - q).toFixed(6));
}
