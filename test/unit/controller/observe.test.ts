// What status reads from cached objects, per component.
import { describe, expect, it } from 'vitest';
import { describeComponent } from '../../../src/api/v1alpha1/components.ts';
import { componentLabels, LABEL_SERVING } from '../../../src/api/v1alpha1/labels.ts';
import { liveBackends, observeComponent } from '../../../src/controller/observe.ts';
import type { DeploymentView, EndpointSliceView, PodView } from '../../../src/runtime/views.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const fleet = anUnmuteDeployment({ stt: { gpu: { count: 2 } } });
const stt = describeComponent(fleet.spec, 'stt')!;

const deployment = (over: Partial<DeploymentView> = {}): DeploymentView => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'demo-stt', namespace: 'default', generation: 3 },
  spec: { replicas: 2, selector: {}, template: {} },
  status: { replicas: 3, readyReplicas: 1, updatedReplicas: 2, observedGeneration: 3 },
  ...over,
});

const pod = (name: string, component: string, status: PodView['status'], labels: Record<string, string> = {}, terminating = false): PodView => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { ...componentLabels('demo', component as 'stt'), ...labels }, ...(terminating ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  status,
});

const slice = (service: string, ready: boolean[]): EndpointSliceView => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${service}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
  endpoints: ready.map((r, i) => ({ addresses: [`10.0.0.${i}`], conditions: { ready: r } })),
});

describe('observing a component', () => {
  it('reads replicas from the Deployment and ready addresses from its own Service slices', () => {
    const o = observeComponent(fleet, stt, deployment(), [], [slice('demo-stt', [true, false, true]), slice('demo-tts', [true])]);
    expect(o).toMatchObject({ desiredReplicas: 2, readyReplicas: 1, updatedReplicas: 2, totalReplicas: 3, endpoints: 2, gpusPerPod: 2, rolloutObserved: true });
  });

  it('counts a rollout as unobserved until the Deployment controller saw the generation', () => {
    expect(observeComponent(fleet, stt, deployment({ status: { observedGeneration: 2 } }), [], []).rolloutObserved).toBe(false);
    expect(observeComponent(fleet, stt, undefined, [], []).rolloutObserved).toBe(false);
  });

  it('says endpoints are unknown before any slice exists, and 0 once the Deployment exists', () => {
    expect(observeComponent(fleet, stt, undefined, [], []).endpoints).toBeUndefined();
    expect(observeComponent(fleet, stt, deployment(), [], []).endpoints).toBe(0);
  });

  it('counts pending and unschedulable pods of its own component only', () => {
    const pods = [
      pod('demo-stt-a', 'stt', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }),
      pod('demo-stt-b', 'stt', { phase: 'Pending' }),
      pod('demo-tts-a', 'tts', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] }),
    ];
    expect(observeComponent(fleet, stt, deployment(), pods, [])).toMatchObject({ unschedulablePods: 1, pendingPods: 2 });
  });
});

describe('observing backends', () => {
  it('counts backends that are not terminating, drained ones included', () => {
    const pods = [
      pod('demo-backend-c', 'backend', { phase: 'Running' }, { [LABEL_SERVING]: 'false' }),
      pod('demo-backend-a', 'backend', { phase: 'Running' }, { [LABEL_SERVING]: 'false' }),
      pod('demo-backend-b', 'backend', { phase: 'Running' }, { [LABEL_SERVING]: 'true' }),
      pod('demo-backend-d', 'backend', { phase: 'Running' }, { [LABEL_SERVING]: 'false' }, true),
    ];
    expect(liveBackends(pods)).toBe(3);
  });
});
