// Query shapes the dashboards repeat. All are scoped with Grafana variables; `sum by (le)` comes
// before every quantile so several pods' histograms merge correctly.
import { SESSIONS_COMPONENT } from '../../api/v1alpha1/components.ts';
import { DASHBOARD_SCOPE, fleetMatchers, sel, workerMatchers } from '../promql.ts';
import { RATE } from './spec.ts';

/** Matchers of the selected fleet's backend series, of all its series, and of its operator metrics. */
export const BACKEND = workerMatchers(DASHBOARD_SCOPE, SESSIONS_COMPONENT);
export const FLEET = workerMatchers(DASHBOARD_SCOPE);
export const OPERATOR = fleetMatchers(DASHBOARD_SCOPE);
export const component = (c: string): string => workerMatchers(DASHBOARD_SCOPE, c);

/** Per-second rate of a counter, summed (optionally kept apart by labels). */
export function rateSum(counter: string, matchers: string = BACKEND, by?: string): string {
  const r = `rate(${sel(counter, matchers)}[${RATE}])`;
  return by === undefined ? `sum(${r})` : `sum by (${by}) (${r})`;
}

/** Mean of a histogram or summary over the window: rate of its sum over rate of its count. */
export function mean(metric: string, matchers: string = BACKEND): string {
  return `${rateSum(`${metric}_sum`, matchers)}\n/\n${rateSum(`${metric}_count`, matchers)}`;
}

/** A quantile of a histogram across pods (`by` keeps, e.g., `pod` apart). */
export function quantile(q: number, histogram: string, matchers: string = BACKEND, by?: string): string {
  const labels = by === undefined ? 'le' : `${by}, le`;
  return `histogram_quantile(${q}, sum by (${labels}) (rate(${sel(`${histogram}_bucket`, matchers)}[${RATE}])))`;
}
