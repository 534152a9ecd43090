import { describe, expect, it } from 'vitest';
import { kubernetesChecks } from '../../../src/check/checks/kubernetes.ts';
import { factError, factOk } from '../../../src/check/types.ts';
import { allServed, healthyFacts, one } from './support.ts';

describe('Kubernetes checks', () => {
  it('passes a current cluster, including a vendor minor like "31+"', () => {
    const r = kubernetesChecks(healthyFacts({ server: factOk({ major: '1', minor: '31+', gitVersion: 'v1.31.2-gke.1' }) }));
    expect(r.map((x) => x.status)).toEqual(['pass', 'pass', 'pass']);
    expect(one(r, 'kubernetes.version').message).toContain('v1.31.2-gke.1');
  });

  it('fails a control plane older than 1.29 (CEL rules in the CRD)', () => {
    const r = one(kubernetesChecks(healthyFacts({ server: factOk({ major: '1', minor: '28', gitVersion: 'v1.28.9' }) })), 'kubernetes.version');
    expect(r.status).toBe('fail');
    expect(r.hint).toMatch(/1\.29/);
  });

  it('fails when kube-controller-manager turns PodDeletionCost off', () => {
    const r = one(kubernetesChecks(healthyFacts({ controllerManagerGates: factOk({ PodDeletionCost: false }) })), 'kubernetes.pod-deletion-cost');
    expect(r.status).toBe('fail');
    expect(r.message).toContain('PodDeletionCost=false');
  });

  it('says when the controller-manager flags cannot be seen', () => {
    const r = one(kubernetesChecks(healthyFacts()), 'kubernetes.pod-deletion-cost');
    expect(r.status).toBe('pass');
    expect(r.message).toMatch(/not visible/);
  });

  it('fails when EndpointSlices are not served', () => {
    const r = one(kubernetesChecks(healthyFacts({ served: allServed(['EndpointSlice']) })), 'kubernetes.endpointslice-conditions');
    expect(r.status).toBe('fail');
  });

  it('reports an unreachable API server as one failure with a hint', () => {
    const r = kubernetesChecks(healthyFacts({ server: factError('connect ECONNREFUSED 127.0.0.1:6443') }));
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ id: 'kubernetes.reachable', status: 'fail' });
    expect(r[0]!.hint).toBeTruthy();
  });
});
