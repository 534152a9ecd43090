// The access `check` asks about must be what the chart grants: the table in operator-install.ts is
// compared with the chart's managerRules (read from the template source, no helm needed).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { rbacChecks } from '../../../src/check/checks/rbac.ts';
import { accessQuestions } from '../../../src/check/gather-operator.ts';
import { MANAGER_ACCESS } from '../../../src/check/operator-install.ts';
import { factError, factOk, type AccessAnswer } from '../../../src/check/types.ts';
import { allServed, anOperator, healthyFacts, one } from './support.ts';

const root = join(import.meta.dirname, '..', '..', '..');

function chartManagerRules(): { apiGroups: string[]; resources: string[]; verbs: string[] }[] {
  const tpl = readFileSync(join(root, 'helm/unmute-operator/templates/_helpers.tpl'), 'utf8');
  const start = tpl.indexOf('{{- define "unmute-operator.managerRules" -}}');
  const body = tpl.slice(tpl.indexOf('\n', start) + 1, tpl.indexOf('{{- end }}', start));
  return parse(body) as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
}

describe('the access table', () => {
  it('equals the chart managerRules, rule for rule and verb for verb', () => {
    const fromChart = new Set(chartManagerRules().flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}|${res}|${v}`)))));
    const fromTable = new Set(MANAGER_ACCESS.flatMap((a) => a.verbs.map((v) => `${a.group}|${a.resource}|${v}`)));
    expect([...fromTable].sort()).toEqual([...fromChart].sort());
  });

  it('asks cluster-wide for a cluster-wide operator and in its namespace for a namespaced one, plus its own Lease', () => {
    const all = accessQuestions(anOperator(), allServed());
    expect(new Set(all.filter((q) => q.resource !== 'leases').map((q) => q.namespace))).toEqual(new Set(['']));
    expect(all.filter((q) => q.resource === 'leases')).toEqual(
      expect.arrayContaining([expect.objectContaining({ verb: 'get', name: 'unmute-operator', namespace: 'unmute-system' }), expect.objectContaining({ verb: 'create', namespace: 'unmute-system' })]),
    );
    const scoped = accessQuestions(anOperator({ watchNamespace: 'team-a', leaderElection: false }), allServed());
    expect(new Set(scoped.map((q) => q.namespace))).toEqual(new Set(['team-a']));
  });
});

const answer = (resource: string, verb: string, allowed: boolean, kindServed = true): AccessAnswer => ({
  group: '',
  resource,
  verb,
  namespace: '',
  why: 'test',
  kindServed,
  allowed: factOk(allowed),
});

describe('the RBAC check', () => {
  it('passes when everything is allowed', () => {
    const r = rbacChecks(healthyFacts({ access: [answer('pods', 'get', true), answer('pods', 'patch', true)] }));
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ status: 'pass' });
  });

  it('fails and lists each denied request', () => {
    const r = one(rbacChecks(healthyFacts({ access: [answer('pods', 'get', true), answer('pods', 'patch', false)] })), 'rbac.operator');
    expect(r.status).toBe('fail');
    expect(r.details).toEqual(['patch pods in all namespaces (test)']);
  });

  it('only warns about grants for kinds the cluster does not serve', () => {
    const r = rbacChecks(healthyFacts({ access: [answer('pods', 'get', true), answer('httproutes', 'get', false, false)] }));
    expect(one(r, 'rbac.operator').status).toBe('pass');
    expect(one(r, 'rbac.optional').status).toBe('warn');
  });

  it('warns when the reviews themselves are refused', () => {
    const refused: AccessAnswer = { ...answer('pods', 'get', true), allowed: factError('forbidden') };
    expect(rbacChecks(healthyFacts({ access: [refused] }))[0]).toMatchObject({ status: 'warn' });
  });

  it('skips without an operator', () => {
    expect(rbacChecks(healthyFacts({ operators: factOk([]), access: undefined }))[0]!.status).toBe('skip');
  });
});
