// The cache transforms: what the operator keeps of pods and of its children, and that no-op
// detection still tells a changed dashboard from an unchanged one when only a digest is kept.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.ts';
import { decideApply } from '../../../src/runtime/apply.ts';
import { Informer } from '../../../src/runtime/informer.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import {
  DIGEST_MIN_LENGTH,
  composeTransforms,
  digestOf,
  withForeignObjectsReduced,
  withSharedFieldSets,
  withLargeStringsDigested,
  podReadFields,
  withoutManagedFields,
  withoutPodTemplateSpec,
  withoutSubresourceManagedFields,
} from '../../../src/runtime/transform.ts';
import { FakeClock } from './support/fake-clock.ts';
import { FakeListerWatcher, aPod } from './support/fake-lister-watcher.ts';

const manager = 'unmute-operator';
const dashboard = (json: string, managed = true): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name: 'demo-dashboard-fleet',
    namespace: 'voice',
    labels: { grafana_dashboard: '1' },
    ...(managed
      ? { managedFields: [{ manager, operation: 'Apply', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:grafana_dashboard': {} } }, 'f:data': { 'f:fleet.json': {} } } }] }
      : {}),
  },
  data: { 'fleet.json': json },
});
const bigJson = (title: string) => JSON.stringify({ title, panels: Array.from({ length: 200 }, (_, i) => ({ id: i, expr: `sum(worker_active_sessions{n="${i}"})` })) });

describe('cache transforms', () => {
  it('drops managedFields and nothing else', () => {
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', uid: 'u', labels: { a: 'b' }, managedFields: [{ manager: 'kubelet', operation: 'Update' }] }, status: { phase: 'Running' } };
    expect(withoutManagedFields(pod)).toEqual({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', uid: 'u', labels: { a: 'b' } }, status: { phase: 'Running' } });
    expect(pod.metadata.managedFields).toHaveLength(1);
  });

  it('keeps a dashboard\'s JSON as its digest, and metadata and short strings as they are', () => {
    const json = bigJson('Unmute fleet');
    expect(json.length).toBeGreaterThan(DIGEST_MIN_LENGTH);
    const kept = withLargeStringsDigested({ ...dashboard(json), data: { 'fleet.json': json, note: 'short' } });
    expect((kept as { data: Record<string, string> }).data).toEqual({ 'fleet.json': digestOf(json), note: 'short' });
    expect(kept.metadata).toEqual(dashboard(json).metadata);
    expect(withLargeStringsDigested(kept)).toEqual(kept);
  });

  it('still finds an unchanged dashboard a no-op and a changed one a write, from the digest alone', () => {
    const json = bigJson('Unmute fleet');
    const kept = withLargeStringsDigested(dashboard(json));
    expect(decideApply(dashboard(json, false), kept, manager).changed).toBe(false);
    expect(decideApply(dashboard(bigJson('Unmute fleet v2'), false), kept, manager).changed).toBe(true);
    expect(decideApply(dashboard('{}', false), kept, manager).changed).toBe(true);
  });

  it('is applied by the informer to listed and watched objects alike', async () => {
    const withFields = (name: string, rv: string): KubeObject => {
      const pod = aPod(name, rv);
      return { ...pod, metadata: { ...pod.metadata, managedFields: [{ manager: 'kwok', operation: 'Update' }] } };
    };
    const lw = new FakeListerWatcher([withFields('a', '1')]);
    const informer = new Informer({ name: 'pods', listerWatcher: lw, logger: silentLogger(), clock: new FakeClock(), transform: withoutManagedFields });
    const abort = new AbortController();
    void informer.start(abort.signal);
    expect(await informer.waitForSync()).toBe(true);
    for (let i = 0; i < 100 && lw.currentWatch === undefined; i++) await new Promise((r) => setTimeout(r, 5));
    lw.currentWatch?.send('ADDED', withFields('b', '2'));
    for (let i = 0; i < 100 && informer.cache.list().length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(informer.cache.list().map((p) => [p.metadata.name, p.metadata.managedFields])).toEqual([
      ['a', undefined],
      ['b', undefined],
    ]);
    abort.abort();
  });

  it('keeps of objects that are not ours only what says whose they are', () => {
    const reduce = withForeignObjectsReduced((o: KubeObject) => o.metadata.labels?.['app.kubernetes.io/managed-by'] === 'unmute-operator', ['unmute.sh/adopt']);
    const foreign: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'x',
        namespace: 'voice',
        uid: 'u',
        resourceVersion: '3',
        labels: { team: 'a' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"a":1}', 'unmute.sh/adopt': 'demo' },
        managedFields: [{ manager: 'kubectl', operation: 'Update' }],
        creationTimestamp: '2025-01-01T00:00:00Z',
      },
    };
    expect(reduce(foreign)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', namespace: 'voice', uid: 'u', resourceVersion: '3', labels: { team: 'a' }, annotations: { 'unmute.sh/adopt': 'demo' } },
    });
    const ours = { ...foreign, metadata: { ...foreign.metadata, labels: { 'app.kubernetes.io/managed-by': 'unmute-operator' } } };
    expect(reduce(ours)).toBe(ours);
  });

  it('keeps of a Deployment what the operator reads: no pod template spec, no status managedFields', () => {
    const deployment: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'd',
        managedFields: [
          { manager, operation: 'Apply', fieldsV1: { 'f:spec': {} } },
          { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', fieldsV1: { 'f:status': {} } },
        ],
      },
      spec: { replicas: 2, template: { metadata: { annotations: { 'unmute.sh/template-hash': 'h' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
      status: { readyReplicas: 1 },
    };
    const kept = composeTransforms(withoutSubresourceManagedFields, withoutPodTemplateSpec)(deployment);
    expect(kept).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', managedFields: [{ manager, operation: 'Apply', fieldsV1: { 'f:spec': {} } }] },
      spec: { replicas: 2, template: { metadata: { annotations: { 'unmute.sh/template-hash': 'h' } } } },
      status: { readyReplicas: 1 },
    });
    expect(withoutPodTemplateSpec(kept)).toBe(kept);
  });

  it('shares equal managedFields field sets between objects, and keeps distinct ones apart', () => {
    const share = withSharedFieldSets();
    const service = (name: string, selector: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, managedFields: [{ manager, operation: 'Apply', time: `t-${name}`, fieldsV1: { 'f:spec': { [`f:${selector}`]: {} } } }] },
    });
    const [a, b, c] = [share(service('a', 'selector')), share(service('b', 'selector')), share(service('c', 'ports'))];
    expect(a.metadata.managedFields![0]!.fieldsV1).toBe(b.metadata.managedFields![0]!.fieldsV1);
    expect(c.metadata.managedFields![0]!.fieldsV1).not.toBe(a.metadata.managedFields![0]!.fieldsV1);
    expect(b).toEqual(service('b', 'selector'));
    const bare: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'd' } };
    expect(share(bare)).toBe(bare);
  });

  it('shares the same child of different fleets: the owner uid in a field set is a token, and no-op detection reads it so', () => {
    const share = withSharedFieldSets();
    const ownerRef = (uid: string) => ({ apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name: 'f', uid, controller: true, blockOwnerDeletion: true });
    const desired = (uid: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'f-stt', namespace: 'n', ownerReferences: [ownerRef(uid)] },
      spec: { selector: { app: 'stt' } },
    });
    const fieldsOf = (uid: string) => ({ 'f:metadata': { 'f:ownerReferences': { [`k:{"uid":"${uid}"}`]: {} } }, 'f:spec': { 'f:selector': {} } });
    const observed = (uid: string, fieldsV1: Record<string, unknown> = fieldsOf(uid)): KubeObject => ({
      ...desired(uid),
      metadata: { ...desired(uid).metadata, uid: `child-${uid}`, managedFields: [{ manager, operation: 'Apply', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1 }] },
    });
    const [a, b] = [share(observed('uid-a')), share(observed('uid-b'))];
    expect(a.metadata.managedFields![0]!.fieldsV1).toBe(b.metadata.managedFields![0]!.fieldsV1);
    expect(JSON.stringify(a.metadata.managedFields![0]!.fieldsV1)).not.toContain('uid-a');
    // The shared tree still reads as "we own exactly what we send", for either fleet, and the same
    // answer comes from the untransformed object.
    expect(decideApply(desired('uid-a'), a, manager)).toEqual({ changed: false, reason: 'unchanged' });
    expect(decideApply(desired('uid-b'), b, manager)).toEqual({ changed: false, reason: 'unchanged' });
    expect(decideApply(desired('uid-b'), observed('uid-b'), manager)).toEqual({ changed: false, reason: 'unchanged' });
    // An owner reference we send but no longer own (someone took it) is still seen.
    const taken = share(observed('uid-c', { 'f:spec': { 'f:selector': {} } }));
    expect(decideApply(desired('uid-c'), taken, manager).changed).toBe(true);
  });

  it('keeps of a pod what the operator reads: metadata, node, gates, phase, conditions, IP', () => {
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'n', uid: 'u', labels: { a: 'b' }, annotations: { c: 'd' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r', controller: true }], managedFields: [{ manager: 'kubelet', operation: 'Update' }] },
      spec: { nodeName: 'gpu-1', schedulingGates: [{ name: 'g' }], containers: [{ name: 'stt', image: 'x', env: [{ name: 'A', value: 'B' }] }], tolerations: [{ key: 't' }] },
      status: {
        phase: 'Running',
        podIP: '10.0.0.1',
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z', lastProbeTime: null, message: 'm' }],
        containerStatuses: [{ name: 'stt', ready: true }],
      },
    };
    expect(podReadFields(pod)).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'n', uid: 'u', labels: { a: 'b' }, annotations: { c: 'd' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'r', controller: true }] },
      spec: { nodeName: 'gpu-1', schedulingGates: [{ name: 'g' }] },
      status: { phase: 'Running', podIP: '10.0.0.1', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
    });
    // A pod just created has neither status nor node.
    expect(podReadFields({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q' }, spec: { containers: [] } })).toEqual({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q' }, spec: {} });
  });
});
