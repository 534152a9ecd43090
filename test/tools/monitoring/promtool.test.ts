// The real consumer of our rules checks them: `promtool check rules` on every rendered group, and
// `promtool test rules` feeding series that must make each alert fire, and series that must not.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { operatorRuleGroups } from '../../../src/monitoring/rules/operator.ts';
import { fleetRuleGroups } from '../../../src/monitoring/rules/prometheus-rule.ts';
import type { RuleGroup } from '../../../src/monitoring/rules/types.ts';
import { promtool } from '../../support/prometheus.ts';
import { tools } from '../../support/tools.ts';
import { FLEET_CASES, OPERATOR_CASES, promtoolTests, type AlertCase } from './promtool-cases.ts';
import { OPERATOR_RULES, podMonitorSample, sample } from '../../support/monitoring.ts';

const dir = mkdtempSync(join(tmpdir(), 'unmute-promtool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeRules(name: string, groups: RuleGroup[]): string {
  const file = join(dir, name);
  writeFileSync(file, stringify({ groups }, { lineWidth: 0 }));
  return file;
}

const alertNames = (groups: RuleGroup[]) => [...new Set(groups.flatMap((g) => g.rules.flatMap((r) => ('alert' in r ? [r.alert] : []))))];

describe('promtool', () => {
  const bin = tools().promtool;
  const fleetGroups = fleetRuleGroups(sample());
  const operatorGroups = operatorRuleGroups(OPERATOR_RULES);

  it.each([
    ['the sample fleet', () => fleetRuleGroups(sample())],
    ['the PodMonitor sample fleet', () => fleetRuleGroups(podMonitorSample())],
    ['the operator', () => operatorRuleGroups(OPERATOR_RULES)],
  ])('accepts the rules of %s', (label, groups) => {
    const file = writeRules(`${label.replaceAll(' ', '-')}.rules.yaml`, groups());
    const r = promtool(bin, ['check', 'rules', file]);
    expect(r.output).toContain('SUCCESS');
    expect(r.ok, r.output).toBe(true);
  });

  it.each([
    ['fleet', () => alertNames(fleetGroups), FLEET_CASES],
    ['operator', () => alertNames(operatorGroups), OPERATOR_CASES],
  ] as const)('has a firing and a silent case for every %s alert', (_label, names, cases: AlertCase[]) => {
    for (const alert of names()) {
      expect(cases.some((c) => c.alert === alert && c.fires.length > 0), `${alert} fires somewhere`).toBe(true);
      expect(cases.some((c) => c.alert === alert && c.fires.length === 0), `${alert} stays silent somewhere`).toBe(true);
    }
  });

  it.each([
    ['fleet', 'fleet.rules.yaml', fleetGroups, FLEET_CASES],
    ['operator', 'operator.rules.yaml', operatorGroups, OPERATOR_CASES],
  ] as const)('passes the %s alert unit tests', (label, ruleFile, groups, cases) => {
    writeRules(ruleFile, groups);
    const testFile = join(dir, `${label}.test.yaml`);
    writeFileSync(testFile, stringify(promtoolTests(ruleFile, groups, cases), { lineWidth: 0 }));
    const r = promtool(bin, ['test', 'rules', testFile], dir);
    expect(r.ok, `promtool test rules ${testFile}\n${r.output}`).toBe(true);
  });
});
