import { describe, expect, it } from 'vitest';
import { crdCheck, operatorChecks } from '../../../src/check/checks/operator.ts';
import { crdVersionOf, schemaHash } from '../../../src/check/crd-hash.ts';
import { describeOperatorDeployment } from '../../../src/check/operator-install.ts';
import { factOk } from '../../../src/check/types.ts';
import { NOW, aCrd, anOperator, byId, healthyFacts, one } from './support.ts';

describe('the CRD check', () => {
  it('passes the CRD this binary generates, whatever the key order the server returns', () => {
    const reverse = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverse) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)])) : v;
    const reordered = reverse(aCrd()) as ReturnType<typeof aCrd>;
    expect(crdCheck(healthyFacts({ crd: factOk(reordered) })).status).toBe('pass');
    expect(schemaHash({ a: 1, b: { c: 2, d: 3 } })).toBe(schemaHash({ b: { d: 3, c: 2 }, a: 1 }));
  });

  it('fails an installed CRD whose schema differs, naming both hashes', () => {
    const crd = aCrd() as unknown as { spec: { versions: { schema: { openAPIV3Schema: { properties: Record<string, unknown> } } }[] } };
    crd.spec.versions[0]!.schema.openAPIV3Schema.properties['extra'] = { type: 'string' };
    const f = healthyFacts({ crd: factOk(crd as never) });
    const r = crdCheck(f);
    expect(r.status).toBe('fail');
    expect(r.message).toContain(f.binaryCrdSchemaHash);
    expect(r.message).toContain(crdVersionOf(crd)!.hash!);
    expect(r.hint).toMatch(/kubectl apply --server-side/);
  });

  it('fails a missing CRD with the install command', () => {
    const r = crdCheck(healthyFacts({ crd: factOk(undefined) }));
    expect(r.status).toBe('fail');
    expect(r.hint).toMatch(/helm install/);
  });
});

describe('the operator checks', () => {
  it('pass an installed, ready operator whose leader renewed recently', () => {
    const r = operatorChecks(healthyFacts());
    expect(r.map((x) => [x.id, x.status])).toEqual([
      ['operator.crd', 'pass'],
      ['operator.running', 'pass'],
      ['operator.leader', 'pass'],
    ]);
    expect(one(r, 'operator.leader').message).toContain('unmute-operator-abc');
  });

  it('fail when no operator is installed, naming the labels looked for', () => {
    const r = one(operatorChecks(healthyFacts({ operators: factOk([]) })), 'operator.running');
    expect(r.status).toBe('fail');
    expect(r.message).toContain('app.kubernetes.io/part-of=unmute-operator');
  });

  it('fail when no replica is ready, warn when some are', () => {
    expect(one(operatorChecks(healthyFacts({ operators: factOk([anOperator({ readyReplicas: 0 })]) })), 'operator.running').status).toBe('fail');
    expect(one(operatorChecks(healthyFacts({ operators: factOk([anOperator({ readyReplicas: 1 })]) })), 'operator.running').status).toBe('warn');
  });

  it('fail on an expired or missing lease', () => {
    const stale = anOperator({
      lease: factOk({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'unmute-operator' }, spec: { holderIdentity: 'x', renewTime: new Date(NOW - 60_000).toISOString(), leaseDurationSeconds: 15 } }),
    });
    const r = one(operatorChecks(healthyFacts({ operators: factOk([stale]) })), 'operator.leader');
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(/not renewed for 60 s/);
    expect(one(operatorChecks(healthyFacts({ operators: factOk([anOperator({ lease: factOk(undefined) })]) })), 'operator.leader').status).toBe('fail');
  });

  it('warn about two installations', () => {
    const r = operatorChecks(healthyFacts({ operators: factOk([anOperator(), anOperator({ namespace: 'other' })]) }));
    expect(byId(r, 'operator.single')[0]?.status).toBe('warn');
  });
});

describe('describeOperatorDeployment', () => {
  it('reads the run flags the chart sets', () => {
    const d = describeOperatorDeployment({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'rel', namespace: 'ops' },
      spec: {
        replicas: 2,
        template: { spec: { serviceAccountName: 'rel-sa', containers: [{ args: ['run', '--leader-elect', '--leader-election-id=rel', '--namespace=team-a'] }] } },
      },
      status: { readyReplicas: 1 },
    });
    expect(d).toEqual({ namespace: 'ops', name: 'rel', serviceAccount: 'rel-sa', desiredReplicas: 2, readyReplicas: 1, watchNamespace: 'team-a', leaderElection: true, leaseName: 'rel' });
  });

  it('sees --no-leader-elect and defaults', () => {
    const d = describeOperatorDeployment({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x', namespace: 'y' }, spec: { template: { spec: { containers: [{ args: ['run', '--no-leader-elect'] }] } } } });
    expect(d).toMatchObject({ leaderElection: false, leaseName: 'unmute-operator', watchNamespace: undefined, serviceAccount: 'default', desiredReplicas: 1 });
  });
});
