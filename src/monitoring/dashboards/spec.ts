// A dashboard described as data (rows of panels with their queries), turned into Grafana JSON by
// build.ts. Keeping the panels declarative lets tests walk every query, and keeps each dashboard
// file about what it shows rather than about builder calls.

export interface Query {
  expr: string;
  /** Grafana legend template, e.g. `{{pod}}`. */
  legend: string;
}

export interface PanelSpec {
  kind: 'timeseries' | 'stat';
  title: string;
  /** Shown as the panel's info tooltip: what the number means and which metric it comes from. */
  description: string;
  unit: string;
  queries: Query[];
  /** Grid width (of 24) and height. */
  w?: number;
  h?: number;
  min?: number;
  max?: number;
  /** Time series drawn as bars (event counts per interval). */
  bars?: boolean;
  /** Stat panels showing a 0/1 flag as words. */
  flag?: { off: string; on: string };
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

/**
 * Which template variables a dashboard has: `unmute` (namespace and fleet from scraped
 * Unmute targets), `fleet` (from the operator's fleet metrics), `operator` (the operator's job).
 */
export type VariableSet = 'unmute' | 'fleet' | 'operator';

export interface DashboardSpec {
  /** Short stable key: file name suffix, uid suffix, ConfigMap name suffix. */
  key: string;
  title: string;
  description: string;
  variables: VariableSet;
  rows: RowSpec[];
}

/** Grafana units used by the dashboards. */
export const UNIT = {
  seconds: 's',
  fraction: 'percentunit',
  count: 'short',
  perSecond: 'suffix: /s',
  words: 'suffix: words',
  wordsPerSecond: 'suffix: words/s',
  tokensPerSecond: 'suffix: tokens/s',
} as const;

/** Rate window of dashboard queries: Grafana picks one that spans at least four scrapes. */
export const RATE = '$__rate_interval';
