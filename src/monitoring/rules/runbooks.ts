// Every alert links to a runbook section of docs/monitoring.md; a test checks each anchor exists.

/** Alert names of a fleet's PrometheusRule. */
export const FLEET_ALERTS = [
  'UnmuteHighErrorRate',
  'UnmuteHighTtsLatency',
  'UnmuteServiceUnavailable',
  'UnmuteSessionsQueueing',
  'UnmuteFleetNearCapacity',
  'UnmuteCapacityMisses',
  'UnmuteBackendUnhealthy',
  'UnmuteHighLlmLatency',
  'UnmuteGpuPodsPending',
  'UnmuteAutoscalerAtMax',
  'UnmuteTargetDown',
  'UnmuteMetricsAbsent',
  'UnmuteDrainStuck',
] as const;
export type FleetAlert = (typeof FLEET_ALERTS)[number];

/** Alert names of the operator's own PrometheusRule (Helm chart). */
export const OPERATOR_ALERTS = [
  'UnmuteOperatorDown',
  'UnmuteOperatorReconcileErrors',
  'UnmuteOperatorWorkqueueBacklog',
  'UnmuteOperatorNoLeader',
  'UnmuteOperatorLeaderFlapping',
] as const;
export type OperatorAlert = (typeof OPERATOR_ALERTS)[number];

/** Where the runbooks live when nothing else is configured (the operator chart has no CR to ask). */
export { DEFAULT_RUNBOOK_BASE_URL } from '../../api/v1alpha1/monitoring.ts';

/** The Markdown heading anchor of an alert's runbook: `### UnmuteHighErrorRate` → `unmutehigherrorrate`. */
export function runbookAnchor(alert: string): string {
  return alert.toLowerCase();
}

export function runbookUrl(baseUrl: string, alert: string): string {
  return `${baseUrl}#${runbookAnchor(alert)}`;
}
