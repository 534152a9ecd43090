import { describe, expect, it } from 'vitest';
import { appliedHash, applyIfChanged, applyStatus, decideApply, withAppliedHash, type Applier } from '../../../src/runtime/apply.ts';
import type { ApplyOptions } from '../../../src/runtime/kube-client.ts';
import type { KubeObject, ManagedFieldsEntry } from '../../../src/runtime/object.ts';
import { isSubset, subsetDifference } from '../../../src/runtime/subset.ts';

const manager = 'unmute-operator';

class RecordingApplier implements Applier {
  readonly calls: Array<{ obj: KubeObject; options: ApplyOptions }> = [];
  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, options: ApplyOptions): Promise<T> {
    this.calls.push({ obj, options });
    return obj as T;
  }
}

function aDesiredDeployment(overrides: { replicas?: number; labels?: Record<string, string>; image?: string } = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'backend',
      namespace: 'voice',
      labels: overrides.labels ?? { app: 'backend', tier: 'backend' },
      ownerReferences: [
        { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name: 'u', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      replicas: overrides.replicas ?? 2,
      selector: { matchLabels: { app: 'backend' } },
      template: {
        metadata: { labels: { app: 'backend' } },
        spec: {
          containers: [
            {
              name: 'backend',
              image: overrides.image ?? 'unmute/backend:1.0',
              ports: [{ name: 'http', containerPort: 80 }],
              resources: { limits: { cpu: '0.5', memory: '1Gi', 'nvidia.com/gpu': 1 } },
            },
          ],
        },
      },
    },
  };
}

/** Our Apply entry as the API server records it for aDesiredDeployment(). */
function ourEntry(labels: string[] = ['app', 'tier'], withReplicas = true): ManagedFieldsEntry {
  const spec: Record<string, unknown> = {
    'f:selector': {},
    'f:template': {
      'f:metadata': { 'f:labels': { 'f:app': {} } },
      'f:spec': {
        'f:containers': {
          'k:{"name":"backend"}': {
            '.': {},
            'f:image': {},
            'f:name': {},
            'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:name': {} } },
            'f:resources': { 'f:limits': { 'f:cpu': {}, 'f:memory': {}, 'f:nvidia.com/gpu': {} } },
          },
        },
      },
    },
  };
  if (withReplicas) spec['f:replicas'] = {};
  return {
    manager,
    operation: 'Apply',
    apiVersion: 'apps/v1',
    time: '2025-01-01T00:00:00Z',
    fieldsType: 'FieldsV1',
    fieldsV1: {
      'f:metadata': {
        'f:labels': Object.fromEntries(labels.map((l) => [`f:${l}`, {}])),
        'f:ownerReferences': { 'k:{"uid":"uid-1"}': {} },
      },
      'f:spec': spec,
    },
  };
}

const controllerManagerEntry: ManagedFieldsEntry = {
  manager: 'kube-controller-manager',
  operation: 'Update',
  apiVersion: 'apps/v1',
  subresource: 'status',
  fieldsType: 'FieldsV1',
  fieldsV1: { 'f:status': { 'f:replicas': {} } },
};

/** What the API server returns after applying aDesiredDeployment(): defaults filled, quantities canonical. */
function anObservedDeployment(
  options: { replicas?: number; image?: string; extraLabels?: Record<string, string>; managedFields?: ManagedFieldsEntry[]; sidecar?: boolean } = {},
): KubeObject {
  const containers: unknown[] = [
    {
      name: 'backend',
      image: options.image ?? 'unmute/backend:1.0',
      ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
      resources: { limits: { cpu: '500m', memory: '1Gi', 'nvidia.com/gpu': '1' } },
      imagePullPolicy: 'IfNotPresent',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    },
  ];
  if (options.sidecar === true) containers.push({ name: 'mesh-proxy', image: 'proxy:1' });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'backend',
      namespace: 'voice',
      uid: 'dep-uid',
      resourceVersion: '1234',
      generation: 1,
      creationTimestamp: '2025-01-01T00:00:00Z',
      labels: { app: 'backend', tier: 'backend', ...options.extraLabels },
      annotations: { 'deployment.kubernetes.io/revision': '1' },
      ownerReferences: [
        { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name: 'u', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
      ],
      managedFields: options.managedFields ?? [ourEntry(), controllerManagerEntry],
    },
    spec: {
      replicas: options.replicas ?? 2,
      selector: { matchLabels: { app: 'backend' } },
      progressDeadlineSeconds: 600,
      revisionHistoryLimit: 10,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'backend' } },
        spec: {
          containers,
          dnsPolicy: 'ClusterFirst',
          restartPolicy: 'Always',
          schedulerName: 'default-scheduler',
          securityContext: {},
          terminationGracePeriodSeconds: 30,
        },
      },
    },
    status: { replicas: 2, readyReplicas: 2 },
  };
}

describe('applyIfChanged', () => {
  it('issues zero writes when the observed object holds everything, despite server defaults and canonical quantities', async () => {
    const client = new RecordingApplier();
    const result = await applyIfChanged(client, aDesiredDeployment(), anObservedDeployment(), { fieldManager: manager });
    expect(result).toMatchObject({ written: false, reason: 'unchanged' });
    expect(client.calls).toHaveLength(0);
  });

  it('applies with force and our field manager when the object does not exist yet', async () => {
    const client = new RecordingApplier();
    const result = await applyIfChanged(client, aDesiredDeployment(), undefined, { fieldManager: manager });
    expect(result.written).toBe(true);
    expect(client.calls[0]?.options).toMatchObject({ fieldManager: manager, force: true });
    expect(client.calls[0]?.options.subresource).toBeUndefined();
  });

  it('re-applies when someone hand-edited a field we own (kubectl edit took it over)', async () => {
    const kubectlEdit: ManagedFieldsEntry = { manager: 'kubectl-edit', operation: 'Update', apiVersion: 'apps/v1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } };
    const observed = anObservedDeployment({ replicas: 7, managedFields: [ourEntry(['app', 'tier'], false), kubectlEdit] });
    expect(decideApply(aDesiredDeployment(), observed, manager)).toEqual({ changed: true, reason: 'value spec.replicas' });
  });

  it('re-applies when a value we send differs even though we still own it', () => {
    const decision = decideApply(aDesiredDeployment({ image: 'unmute/backend:1.1' }), anObservedDeployment(), manager);
    expect(decision).toEqual({ changed: true, reason: 'value spec.template.spec.containers[name=backend].image' });
  });

  it('ignores labels another field manager added', () => {
    const other: ManagedFieldsEntry = { manager: 'kubectl', operation: 'Apply', apiVersion: 'apps/v1', fieldsV1: { 'f:metadata': { 'f:labels': { 'f:team': {} } } } };
    const observed = anObservedDeployment({ extraLabels: { team: 'voice' }, managedFields: [ourEntry(), other] });
    expect(decideApply(aDesiredDeployment(), observed, manager).changed).toBe(false);
  });

  it('ignores a sidecar container another manager injected', () => {
    expect(decideApply(aDesiredDeployment(), anObservedDeployment({ sidecar: true }), manager).changed).toBe(false);
  });

  it('applies when we stopped sending a field we own, so the server removes it', () => {
    const decision = decideApply(aDesiredDeployment({ labels: { app: 'backend' } }), anObservedDeployment(), manager);
    expect(decision).toEqual({ changed: true, reason: 'removed f:metadata.f:labels.f:tier' });
  });

  it('applies when another manager took ownership of a field we send, even with the same value', () => {
    const observed = anObservedDeployment({ managedFields: [ourEntry(['app']), controllerManagerEntry] });
    expect(decideApply(aDesiredDeployment(), observed, manager)).toEqual({ changed: true, reason: 'not-owned f:metadata.f:labels.f:tier' });
  });

  it('applies once to take ownership of an object someone else created with the same values', () => {
    const observed = anObservedDeployment({ managedFields: [controllerManagerEntry] });
    expect(decideApply(aDesiredDeployment(), observed, manager)).toEqual({ changed: true, reason: 'not-applied-yet' });
  });

  it('skips an object whose metadata carries only name and namespace, which the server does not record', () => {
    const desired: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'voice' }, spec: { selector: { app: 'x' } } };
    const observed: KubeObject = {
      ...desired,
      metadata: { name: 's', namespace: 'voice', uid: 'u', managedFields: [{ manager, operation: 'Apply', apiVersion: 'v1', fieldsV1: { 'f:spec': { 'f:selector': {} } } }] },
      spec: { selector: { app: 'x' }, type: 'ClusterIP', clusterIP: '10.0.0.7' },
    };
    expect(decideApply(desired, observed, manager)).toEqual({ changed: false, reason: 'unchanged' });
  });

  it('applies when our entry was recorded for another apiVersion', () => {
    const observed = anObservedDeployment({ managedFields: [{ ...ourEntry(), apiVersion: 'apps/v1beta2' }] });
    expect(decideApply(aDesiredDeployment(), observed, manager).reason).toBe('api-version');
  });
});

describe('applyIfChanged with the applied hash (metadata-only caches)', () => {
  const HASH = 'unmute.sh/applied-hash';
  /** What a metadata-only cache holds after we applied `desired`: its metadata, our entry owning the hash too. */
  const metadataOnly = (desired: KubeObject, managedFields: ManagedFieldsEntry[] = [withHashOwned(ourEntry())]): KubeObject => {
    const stamped = withAppliedHash(desired, HASH);
    return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { ...stamped.metadata, uid: 'dep-uid', resourceVersion: '9', managedFields } };
  };
  const withHashOwned = (entry: ManagedFieldsEntry): ManagedFieldsEntry => {
    const fields = entry.fieldsV1 as { 'f:metadata': Record<string, unknown> };
    return { ...entry, fieldsV1: { ...fields, 'f:metadata': { ...fields['f:metadata'], 'f:annotations': { [`f:${HASH}`]: {} } } } };
  };

  it('stamps the object it applies with the hash of its content', async () => {
    const client = new RecordingApplier();
    await applyIfChanged(client, aDesiredDeployment(), undefined, { fieldManager: manager, hashAnnotation: HASH });
    const sent = client.calls[0]!.obj;
    expect(sent.metadata.annotations?.[HASH]).toBe(appliedHash(aDesiredDeployment(), HASH));
    expect(sent.metadata.annotations?.[HASH]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes equal objects equally whatever the order of their keys, and different objects differently', () => {
    const a = aDesiredDeployment();
    const reordered = { spec: a['spec'], metadata: { ...a.metadata }, kind: a.kind, apiVersion: a.apiVersion } as KubeObject;
    expect(appliedHash(reordered, HASH)).toBe(appliedHash(a, HASH));
    expect(appliedHash(aDesiredDeployment({ image: 'unmute/backend:1.1' }), HASH)).not.toBe(appliedHash(a, HASH));
    // The annotation itself is not part of what it hashes.
    expect(appliedHash(withAppliedHash(a, HASH), HASH)).toBe(appliedHash(a, HASH));
  });

  it('writes nothing when the cached metadata carries the hash of the desired object and we own every field', async () => {
    const client = new RecordingApplier();
    const result = await applyIfChanged(client, aDesiredDeployment(), metadataOnly(aDesiredDeployment()), { fieldManager: manager, hashAnnotation: HASH });
    expect(result).toMatchObject({ written: false, reason: 'unchanged' });
    expect(client.calls).toHaveLength(0);
  });

  it('writes when the desired object changed since the hash was stamped', () => {
    const observed = metadataOnly(aDesiredDeployment());
    const desired = withAppliedHash(aDesiredDeployment({ image: 'unmute/backend:1.1' }), HASH);
    expect(decideApply(desired, observed, manager, '', HASH)).toEqual({ changed: true, reason: `value metadata.annotations[${HASH}]` });
  });

  it('writes when someone took a field from us, though the hash still matches (kubectl edit of replicas)', () => {
    const kubectlEdit: ManagedFieldsEntry = { manager: 'kubectl-edit', operation: 'Update', apiVersion: 'apps/v1', fieldsV1: { 'f:spec': { 'f:replicas': {} } } };
    const observed = metadataOnly(aDesiredDeployment(), [withHashOwned(ourEntry(['app', 'tier'], false)), kubectlEdit]);
    expect(decideApply(withAppliedHash(aDesiredDeployment(), HASH), observed, manager, '', HASH)).toEqual({ changed: true, reason: 'not-owned f:spec.f:replicas' });
  });

  it('writes once to objects of the previous version, which carry no hash', () => {
    const observed = anObservedDeployment({ managedFields: [ourEntry()] });
    expect(decideApply(withAppliedHash(aDesiredDeployment(), HASH), observed, manager, '', HASH).reason).toBe(`value metadata.annotations[${HASH}]`);
  });
});

describe('applyStatus', () => {
  const cr = (status: Record<string, unknown>, statusFields: Record<string, unknown> | undefined): KubeObject => ({
    apiVersion: 'unmute.sh/v1alpha1',
    kind: 'UnmuteDeployment',
    metadata: {
      name: 'u',
      namespace: 'voice',
      generation: 3,
      managedFields:
        statusFields === undefined
          ? []
          : [{ manager, operation: 'Apply', apiVersion: 'unmute.sh/v1alpha1', subresource: 'status', fieldsV1: statusFields }],
    },
    spec: { backend: { replicas: 2 } },
    status,
  });
  const status = {
    observedGeneration: 3,
    conditions: [{ type: 'Ready', status: 'True', reason: 'AllReady', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' }],
  };
  const statusFields = {
    'f:status': {
      'f:observedGeneration': {},
      'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:type': {}, 'f:status': {}, 'f:reason': {}, 'f:message': {}, 'f:lastTransitionTime': {} } },
    },
  };
  const desired = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', metadata: { name: 'u', namespace: 'voice' }, status };

  it('skips the write when the observed status equals the desired one', async () => {
    const client = new RecordingApplier();
    const result = await applyStatus(client, desired, cr(status, statusFields), { fieldManager: manager });
    expect(result.written).toBe(false);
    expect(client.calls).toHaveLength(0);
  });

  it('writes to the status subresource when a condition changed', async () => {
    const client = new RecordingApplier();
    const observed = cr({ ...status, conditions: [{ ...status.conditions[0], status: 'False', reason: 'Progressing' }] }, statusFields);
    const result = await applyStatus(client, desired, observed, { fieldManager: manager });
    expect(result).toMatchObject({ written: true, reason: 'value status.conditions[type=Ready].status' });
    expect(client.calls[0]?.options.subresource).toBe('status');
    expect(client.calls[0]?.obj).toEqual({ ...desired });
  });

  it('writes when the status was never applied by us', async () => {
    const client = new RecordingApplier();
    expect((await applyStatus(client, desired, cr({}, undefined), { fieldManager: manager })).written).toBe(true);
  });
});

describe('semantic subset', () => {
  it.each([
    ['a CPU quantity in another notation', { resources: { requests: { cpu: '0.5' } } }, { resources: { requests: { cpu: '500m' } } }, true],
    ['a memory quantity in another unit', { resources: { limits: { memory: '1024Mi' } } }, { resources: { limits: { memory: '1Gi' } } }, true],
    ['a GPU count as number vs string', { resources: { limits: { 'nvidia.com/gpu': 2 } } }, { resources: { limits: { 'nvidia.com/gpu': '2' } } }, true],
    ['a different quantity', { resources: { limits: { cpu: '1' } } }, { resources: { limits: { cpu: '500m' } } }, false],
    ['an int-or-string port as number vs string', { targetPort: 8080 }, { targetPort: '8080' }, true],
    ['a number vs string outside known spots', { replicas: 2 }, { replicas: '2' }, false],
    ['an empty object the server dropped', { securityContext: {} }, {}, true],
    ['a null for an absent field', { x: null }, {}, true],
    ['a list of scalars of another length', { args: ['a'] }, { args: ['a', 'b'] }, false],
    ['a list of scalars in another order', { args: ['a', 'b'] }, { args: ['b', 'a'] }, false],
    ['owner references in another order', { ownerReferences: [{ uid: 'a', name: 'x' }, { uid: 'b', name: 'y' }] }, { ownerReferences: [{ uid: 'b', name: 'y' }, { uid: 'a', name: 'x' }] }, true],
    ['a missing keyed element', { env: [{ name: 'A', value: '1' }] }, { env: [{ name: 'B', value: '1' }, { name: 'C' }] }, false],
    ['server-managed metadata', { metadata: { resourceVersion: '1', creationTimestamp: null } }, { metadata: { resourceVersion: '9', creationTimestamp: 't' } }, true],
  ])('treats %s as %s', (_label, desired, observed, expected) => {
    expect(isSubset(desired, observed)).toBe(expected);
  });

  it('names the first differing path', () => {
    expect(subsetDifference({ spec: { template: { spec: { containers: [{ name: 'a', image: 'x' }] } } } }, { spec: { template: { spec: { containers: [{ name: 'a', image: 'y' }] } } } })).toBe(
      'spec.template.spec.containers[name=a].image',
    );
  });
});
