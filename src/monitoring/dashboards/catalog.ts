// The dashboards we ship and their two forms: generic files under dashboards/ (variables left
// open; the chart installs them once per cluster) and per-fleet copies (own uid and title,
// variables preselected) the operator delivers where a fleet asks for them (dashboards.perFleet).
import { createHash } from 'node:crypto';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { buildDashboard } from './build.ts';
import { fleet } from './fleet.ts';
import { latency } from './latency.ts';
import { operatorDashboard } from './operator.ts';
import { overview } from './overview.ts';
import { serviceHealth } from './service-health.ts';
import type { DashboardSpec } from './spec.ts';
import { throughput } from './throughput.ts';
import { userBehaviour } from './user-behaviour.ts';

/** Dashboards delivered with every fleet: the monitoring guide's five plus Fleet. */
export const FLEET_DASHBOARDS: readonly DashboardSpec[] = [overview, latency, throughput, serviceHealth, userBehaviour, fleet];
/** The operator's own dashboard (Helm chart), not per fleet. */
export const OPERATOR_DASHBOARD: DashboardSpec = operatorDashboard;
export const ALL_DASHBOARDS: readonly DashboardSpec[] = [...FLEET_DASHBOARDS, OPERATOR_DASHBOARD];

/** Directory of the generated dashboard files, relative to the repository root. */
export const DASHBOARDS_DIR = 'dashboards';

export function genericDashboardUid(spec: DashboardSpec): string {
  return `unmute-${spec.key}`;
}

export function genericDashboard(spec: DashboardSpec): Dashboard {
  return buildDashboard(spec, { uid: genericDashboardUid(spec), title: `Unmute / ${spec.title}` });
}

export function fleetDashboardUid(spec: DashboardSpec, namespace: string, name: string): string {
  const hash = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 10);
  return `unmute-${hash}-${spec.key}`.slice(0, 40);
}

/**
 * A fleet's copy of a dashboard. Grafana wants uids and titles unique (per folder), and the sidecar
 * writes one file per ConfigMap key: per-fleet names keep two fleets from overwriting each other.
 * Grafana uids are at most 40 characters, so the fleet is a hash.
 */
export function fleetDashboard(spec: DashboardSpec, namespace: string, name: string): Dashboard {
  return buildDashboard(spec, {
    uid: fleetDashboardUid(spec, namespace, name),
    title: `Unmute / ${spec.title} (${namespace}/${name})`,
    current: { namespace, fleet: name },
    tags: ['unmute', `unmute:${namespace}/${name}`],
  });
}

/** Stable pretty JSON (2-space indent, trailing newline) for committed files. */
export function dashboardFileContent(d: Dashboard): string {
  return JSON.stringify(d, null, 2) + '\n';
}

/** Every generated dashboard file: repository-relative path → content (scripts/generate.ts writes them). */
export function generatedDashboardFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const spec of ALL_DASHBOARDS) files[`${DASHBOARDS_DIR}/unmute-${spec.key}.json`] = dashboardFileContent(genericDashboard(spec));
  return files;
}
