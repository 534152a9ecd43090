// The PrometheusRule of a fleet: valid for the prometheus-operator, every expression scoped to the
// fleet, every alert documented, thresholds and durations taken from the CR.
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { describe, expect, it } from 'vitest';
import { alertRules, defaultDrainStuckSeconds } from '../../../src/monitoring/rules/alerts.ts';
import { renderOperatorRules } from '../../../src/monitoring/rules/operator.ts';
import { fleetRuleGroups, renderPrometheusRule } from '../../../src/monitoring/rules/prometheus-rule.ts';
import { FLEET_ALERTS, OPERATOR_ALERTS } from '../../../src/monitoring/rules/runbooks.ts';
import { isAlertingRule, type AlertingRule } from '../../../src/monitoring/rules/types.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';
import { OPERATOR_RULES, sample } from '../../support/monitoring.ts';

const alertsOf = (spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => alertRules(anUnmuteDeployment(spec, meta));
const find = (rules: AlertingRule[], name: string) => rules.filter((r) => r.alert === name);

describe('fleet PrometheusRule', () => {
  it('validates against the prometheus-operator schema', () => {
    expect(() => new PrometheusRule(renderPrometheusRule(sample()) as never).validate()).not.toThrow();
    expect(() => new PrometheusRule(renderOperatorRules(OPERATOR_RULES) as never).validate()).not.toThrow();
  });

  it('renders every documented alert for a fleet with autoscaling and GPU tiers', () => {
    const names = new Set(alertRules(sample()).map((r) => r.alert));
    expect([...names].sort()).toEqual([...FLEET_ALERTS].sort());
  });

  it('filters every expression on the fleet namespace and name', () => {
    const cr = anUnmuteDeployment({ autoscaling: { enabled: true } }, { namespace: 'team-a', name: 'eu' });
    for (const rule of fleetRuleGroups(cr).flatMap((g) => g.rules)) {
      const selectors = rule.expr.match(/[a-z_:]+\{[^}]*\}/g) ?? [];
      expect(selectors.length, rule.expr).toBeGreaterThan(0);
      for (const s of selectors) {
        expect(s, rule.expr).toContain('namespace="team-a"');
        expect(s, rule.expr).toMatch(/(unmute_sh_fleet|fleet)="eu"/);
      }
    }
  });

  it('gives every alert a severity, the fleet labels, a summary, a description and a runbook link', () => {
    for (const r of alertRules(sample())) {
      expect(r.labels).toMatchObject({ namespace: 'voice', unmute_sh_fleet: 'demo', team: 'voice' });
      expect(['critical', 'warning', 'info']).toContain(r.labels['severity']);
      expect(r.annotations.summary.length).toBeGreaterThan(10);
      expect(r.annotations.description.length).toBeGreaterThan(30);
      expect(r.annotations.runbook_url).toMatch(new RegExp(`docs/monitoring\\.md#${r.alert.toLowerCase()}$`));
    }
  });

  it('names recording rules level:metric:operations and alerts in CamelCase', () => {
    for (const r of fleetRuleGroups(sample()).flatMap((g) => g.rules)) {
      if (isAlertingRule(r)) expect(r.alert).toMatch(/^Unmute[A-Z][A-Za-z]+$/);
      else expect(r.record).toMatch(/^unmute_(fleet|pod):[a-z_]+:[a-z0-9_]+$/);
    }
  });
});

describe('alert tuning', () => {
  it.each([
    ['highErrorRate', 'UnmuteHighErrorRate', { threshold: 2, for: '10m', severity: 'warning' }, '> 2', '10m', 'warning'],
    ['serviceUnavailable', 'UnmuteServiceUnavailable', { threshold: 0.5 }, '> 0.5', '1m', 'critical'],
    ['fleetNearCapacity', 'UnmuteFleetNearCapacity', { threshold: 0.75 }, '> 0.75', '5m', 'warning'],
    ['backendUnhealthy', 'UnmuteBackendUnhealthy', { threshold: 0.5, for: '1m' }, '< 0.5', '1m', 'critical'],
    ['capacityMisses', 'UnmuteCapacityMisses', { threshold: 1 }, '> 1', '5m', 'warning'],
  ])('takes %s threshold, for and severity from the CR', (key, alert, tuning, exprPart, forDuration, severity) => {
    const rules = find(alertsOf({ monitoring: { alerts: { [key]: tuning } } }), alert);
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.expr.endsWith(exprPart), r.expr).toBe(true);
      expect(r.for).toBe(forDuration);
      expect(r.labels['severity']).toBe(severity);
    }
  });

  it('leaves out disabled alerts', () => {
    expect(find(alertsOf({ monitoring: { alerts: { highErrorRate: { enabled: false } } } }), 'UnmuteHighErrorRate')).toEqual([]);
  });

  it('queues above backend.maxSessionsPerPod plus the threshold', () => {
    const [r] = find(alertsOf({ backend: { maxSessionsPerPod: 2 }, monitoring: { alerts: { sessionsQueueing: { threshold: 1 } } } }), 'UnmuteSessionsQueueing');
    expect(r?.expr).toMatch(/\) > 3$/);
  });

  it.each([
    [0.42, 'le="0.45"', '0.05'],
    [0.5, 'le="0.5"', '0.05'],
    [0.55, 'le="0.55"', '0.05'],
  ])('reads the TTS threshold %s s as the bucket %s', (threshold, le, share) => {
    const [r] = find(alertsOf({ monitoring: { alerts: { highTtsLatency: { threshold } } } }), 'UnmuteHighTtsLatency');
    expect(r?.expr).toContain(le);
    expect(r?.expr.endsWith(`> ${share}`)).toBe(true);
  });

  it('refuses a TTS threshold above the highest bucket, which no histogram could ever show', () => {
    expect(() => anUnmuteDeployment({ monitoring: { alerts: { highTtsLatency: { threshold: 1.0 } } } })).toThrow();
  });

  it('turns the quantile into the share of slow requests allowed', () => {
    const [r] = find(alertsOf({ monitoring: { alerts: { highLlmLatency: { threshold: 0.6, quantile: 0.9 } } } }), 'UnmuteHighLlmLatency');
    expect(r?.expr).toContain('le="0.75"');
    expect(r?.expr.endsWith('> 0.1')).toBe(true);
  });

  it('renders the autoscaler alert only when autoscaling is on', () => {
    expect(find(alertsOf(), 'UnmuteAutoscalerAtMax')).toEqual([]);
    expect(find(alertsOf({ autoscaling: { enabled: true } }), 'UnmuteAutoscalerAtMax')).toHaveLength(1);
  });

  it('watches pending pods of the GPU tiers only', () => {
    const [r] = find(alertsOf({ tts: { gpu: { count: 0 } } }), 'UnmuteGpuPodsPending');
    expect(r?.expr).toContain('component=~"stt"');
    expect(find(alertsOf({ stt: { gpu: { count: 0 } }, tts: { gpu: { count: 0 } } }), 'UnmuteGpuPodsPending')).toEqual([]);
  });

  it('expects no backend metrics from a fleet scaled to zero by hand', () => {
    const rules = find(alertsOf({ backend: { replicas: 0 } }), 'UnmuteMetricsAbsent');
    expect(rules.map((r) => r.labels['source'])).toEqual(['operator']);
  });

  it('waits for the longest legitimate drain plus five minutes before calling a drain stuck', () => {
    const cr = anUnmuteDeployment({ autoscaling: { drainTimeoutSeconds: 7200 }, backend: { drainGracePeriodSeconds: 600 } });
    expect(defaultDrainStuckSeconds(cr)).toBe(7500);
    const [r] = find(alertRules(cr), 'UnmuteDrainStuck');
    expect(r?.expr.endsWith('> 7500')).toBe(true);
    const [tuned] = find(alertsOf({ monitoring: { alerts: { drainStuck: { thresholdSeconds: 900 } } } }), 'UnmuteDrainStuck');
    expect(tuned?.expr.endsWith('> 900')).toBe(true);
  });

  it('points runbooks at the configured base URL', () => {
    const rules = alertsOf({ monitoring: { alerts: { runbookBaseUrl: 'https://wiki.example.com/unmute' } } });
    for (const r of rules) expect(r.annotations.runbook_url).toBe(`https://wiki.example.com/unmute#${r.alert.toLowerCase()}`);
  });
});

describe('operator rules', () => {
  it('renders every operator alert scoped to the operator job and namespace', () => {
    const obj = renderOperatorRules(OPERATOR_RULES);
    expect(obj.metadata).toMatchObject({ name: 'unmute-operator', namespace: 'unmute-system' });
    const rules = (obj['spec'] as { groups: Array<{ rules: AlertingRule[] }> }).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual([...OPERATOR_ALERTS]);
    for (const r of rules) expect(r.expr).toContain('job="unmute-operator", namespace="unmute-system"');
  });
});
