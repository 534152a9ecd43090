// Rollouts and the GPU budget, as the plan decides them from pods alone.
import { describe, expect, it } from 'vitest';
import type { ComponentName } from '../../../src/api/v1alpha1/components.ts';
import {
  ANNOTATION_DRAINING_SINCE,
  ANNOTATION_POD_DELETION_COST,
  ANNOTATION_TEMPLATE_HASH,
  LABEL_SERVING,
  SCHEDULING_GATE_GPU_BUDGET,
  SERVING,
  componentLabels,
} from '../../../src/api/v1alpha1/labels.ts';
import type { LoadObservation } from '../../../src/autoscaler/gather.ts';
import { DELETION_COST_REPLACE_NEXT, planRollout } from '../../../src/autoscaler/rollout.ts';
import type { PodView } from '../../../src/runtime/views.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const NOW = 10_000_000;
const NEW = 'new';
const OLD = 'old';

interface PodOpts {
  hash?: string;
  serving?: string;
  gated?: boolean;
  terminating?: boolean;
  phase?: 'Pending' | 'Running';
  annotations?: Record<string, string>;
  createdMs?: number;
}

function pod(component: ComponentName, name: string, o: PodOpts = {}): PodView {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      uid: `uid-${name}`,
      creationTimestamp: new Date(o.createdMs ?? NOW - 60_000).toISOString(),
      labels: { ...componentLabels('demo', component), [LABEL_SERVING]: o.serving ?? SERVING.inRotation },
      annotations: { [ANNOTATION_TEMPLATE_HASH]: o.hash ?? NEW, ...o.annotations },
      ...(o.terminating ? { deletionTimestamp: new Date(NOW).toISOString() } : {}),
    },
    spec: { containers: [], ...(o.gated ? { schedulingGates: [{ name: SCHEDULING_GATE_GPU_BUDGET }] } : {}) },
    status: { phase: o.phase ?? (o.gated ? 'Pending' : 'Running') },
  };
}

/** Loads read at `atMs` per pod name, grouped by component. */
function loads(component: ComponentName, values: Record<string, number>, atMs = NOW): Partial<Record<ComponentName, LoadObservation>> {
  const pods = Object.entries(values).map(([name, load]) => ({ name, serving: true, phase: 'Running' as const, terminating: false, load, observedAtMs: atMs }));
  return { [component]: { pods, errors: new Map(), active: 0, unknownPods: 0 } };
}

const hashes = { backend: NEW, stt: NEW, tts: NEW };
const fleet = (gpu: Record<string, unknown> = {}) => anUnmuteDeployment({ gpu });

describe('rollouts', () => {
  it('marks the emptiest old pod as the next the Deployment replaces, and moves the mark when loads change', () => {
    const pods = [pod('stt', 's-old-a', { hash: OLD }), pod('stt', 's-old-b', { hash: OLD, annotations: { [ANNOTATION_POD_DELETION_COST]: DELETION_COST_REPLACE_NEXT } }), pod('stt', 's-new')];
    const r = planRollout({ fleet: fleet(), nowMs: NOW, pods, templateHashes: hashes, observations: loads('stt', { 's-old-a': 1, 's-old-b': 5, 's-new': 0 }) });
    expect(r.podPatches).toEqual([
      { name: 's-old-a', labels: {}, annotations: { [ANNOTATION_POD_DELETION_COST]: DELETION_COST_REPLACE_NEXT } },
      { name: 's-old-b', labels: {}, annotations: { [ANNOTATION_POD_DELETION_COST]: null } },
    ]);
    expect(r.components.stt).toEqual({ updated: 1, outdated: 2, outdatedLoad: 6, drainFirst: false });
    expect(r.components.backend).toBeUndefined();
  });

  it('counts an old pod terminating in its preStop as outdated until it is gone', () => {
    const pods = [pod('backend', 'b-old', { hash: OLD, terminating: true }), pod('backend', 'b-new')];
    const r = planRollout({ fleet: fleet(), nowMs: NOW, pods, templateHashes: hashes, observations: loads('backend', { 'b-new': 2 }) });
    expect(r.components.backend).toMatchObject({ updated: 1, outdated: 1 });
  });

  it('puts pods made before their component drained into rotation before the Service selects on the label', () => {
    const unlabelled = pod('tts', 't-1');
    delete unlabelled.metadata.labels![LABEL_SERVING];
    const r = planRollout({ fleet: fleet(), nowMs: NOW, pods: [unlabelled], templateHashes: hashes, observations: {} });
    expect(r.podPatches).toEqual([{ name: 't-1', labels: { [LABEL_SERVING]: SERVING.inRotation }, annotations: {} }]);
  });
});

describe('the GPU budget', () => {
  it('lifts gates while GPUs are free, pods of the current template first, and counts terminating pods as holding theirs', () => {
    const pods = [
      pod('stt', 's-1'),
      pod('tts', 't-1', { terminating: true }),
      pod('tts', 't-2', { gated: true, createdMs: NOW - 5000 }),
      pod('stt', 's-2', { gated: true, createdMs: NOW - 1000 }),
    ];
    const r = planRollout({ fleet: fleet({ maxTotal: 3 }), nowMs: NOW, pods, templateHashes: hashes, observations: {} });
    // s-1 and the terminating t-1 hold 2 of 3: one gate lifts, the oldest waiting pod's.
    expect(r.ungate).toEqual(['t-2']);
    expect(r.gpus).toEqual({ held: 3, gated: 1 });
  });

  it('with no room to surge, drains the emptiest old pod first, then deletes it once a settled reading says 0', () => {
    const pods = [pod('stt', 's-old-a', { hash: OLD }), pod('stt', 's-old-b', { hash: OLD }), pod('stt', 's-new', { gated: true })];
    const full = fleet({ maxTotal: 2 });
    const r = planRollout({ fleet: full, nowMs: NOW, pods, templateHashes: hashes, observations: loads('stt', { 's-old-a': 4, 's-old-b': 2 }) });
    expect(r.ungate).toEqual([]);
    expect(r.components.stt?.drainFirst).toBe(true);
    expect(r.podPatches).toContainEqual(expect.objectContaining({ name: 's-old-b', labels: { [LABEL_SERVING]: SERVING.outdated } }));
    expect(r.events.map((e) => e.reason)).toEqual(['RolloutDrainFirst']);

    // Next passes: the drained pod still holds streams → kept, and no second one drains.
    const since = new Date(NOW - 30_000).toISOString();
    const drained = pod('stt', 's-old-b', { hash: OLD, serving: SERVING.outdated, annotations: { [ANNOTATION_DRAINING_SINCE]: since } });
    const busy = planRollout({ fleet: full, nowMs: NOW, pods: [pods[0]!, drained, pods[2]!], templateHashes: hashes, observations: loads('stt', { 's-old-a': 4, 's-old-b': 1 }) });
    expect(busy.deletePods).toEqual([]);
    expect(busy.podPatches.filter((p) => p.labels[LABEL_SERVING] === SERVING.outdated)).toEqual([]);
    const empty = planRollout({ fleet: full, nowMs: NOW, pods: [pods[0]!, drained, pods[2]!], templateHashes: hashes, observations: loads('stt', { 's-old-a': 4, 's-old-b': 0 }) });
    expect(empty.deletePods).toEqual([{ name: 's-old-b', uid: 'uid-s-old-b' }]);
    // Its GPU is still held until the pod is gone: the new pod waits one more pass.
    expect(empty.ungate).toEqual([]);
  });

  it('never trusts an empty reading taken before the drain settled, but deletes at the drain timeout', () => {
    const justNow = new Date(NOW - 500).toISOString();
    const drained = pod('stt', 's-old', { hash: OLD, serving: SERVING.outdated, annotations: { [ANNOTATION_DRAINING_SINCE]: justNow } });
    const r = planRollout({ fleet: fleet({ maxTotal: 1 }), nowMs: NOW, pods: [drained, pod('stt', 's-new', { gated: true })], templateHashes: hashes, observations: loads('stt', { 's-old': 0 }) });
    expect(r.deletePods).toEqual([]);
    const old = new Date(NOW - 3_600_000).toISOString();
    const late = pod('stt', 's-old', { hash: OLD, serving: SERVING.outdated, annotations: { [ANNOTATION_DRAINING_SINCE]: old } });
    const t = planRollout({ fleet: fleet({ maxTotal: 1 }), nowMs: NOW, pods: [late, pod('stt', 's-new', { gated: true })], templateHashes: hashes, observations: loads('stt', { 's-old': 3 }) });
    expect(t.deletePods.map((d) => d.name)).toEqual(['s-old']);
  });

  it('keeps the replacement of an old pod gated while its component rolls out: the GPU goes to the new template', () => {
    const pods = [pod('stt', 's-old', { hash: OLD }), pod('stt', 's-old-again', { hash: OLD, gated: true, createdMs: NOW - 90_000 }), pod('stt', 's-new', { gated: true })];
    const r = planRollout({ fleet: fleet({ maxTotal: 2 }), nowMs: NOW, pods, templateHashes: hashes, observations: loads('stt', { 's-old': 1 }) });
    expect(r.ungate).toEqual(['s-new']);
  });

  it('does nothing without a budget: no gates exist, surge needs no room', () => {
    const r = planRollout({ fleet: fleet(), nowMs: NOW, pods: [pod('stt', 's-1')], templateHashes: hashes, observations: {} });
    expect(r).toMatchObject({ ungate: [], deletePods: [], gpus: { held: 0, gated: 0 } });
  });
});
