// Rollouts and the GPU budget, as a pure function of the fleet's pods. Deployments roll out with
// RollingUpdate (surge, never unavailable); a replaced pod leaves its Service when it starts
// terminating and its preStop hook holds it until its own load reads 0 (drain-wait.ts). What this
// adds on top (ADR 0010):
//
//   - the emptiest pod of the old template is the next one the Deployment replaces (deletion cost);
//   - with a GPU budget, GPU pods are created behind a scheduling gate, lifted only while the GPUs
//     that pods hold (terminating ones included, they keep their GPU until gone) leave room; pods of
//     the current template first;
//   - when a new GPU pod has no room to surge, one old pod of its component drains first (label
//     serving=outdated: out of the Service, outside the autoscaler's pool), is deleted once it
//     reads empty after the settle time (or at drainTimeoutSeconds), and its GPU goes to the new one.
import { fleetComponents, type AnyComponent, type ComponentName } from '../api/v1alpha1/components.ts';
import {
  ANNOTATION_DRAINING_SINCE,
  ANNOTATION_POD_DELETION_COST,
  ANNOTATION_TEMPLATE_HASH,
  LABEL_APP_COMPONENT,
  LABEL_SERVING,
  SCHEDULING_GATE_GPU_BUDGET,
  SERVING,
} from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { isTerminating, podPhase, type PodView } from '../runtime/views.ts';
import { DELETION_COST_DRAINING, type PodPatch } from './drain.ts';
import type { LoadObservation } from './gather.ts';
import { DRAIN_SETTLE_MS } from './pool.ts';

/** Deletion cost of the old pod the Deployment should replace next: below serving pods (0), above draining ones. */
export const DELETION_COST_REPLACE_NEXT = '-1';

export interface RolloutInput {
  fleet: UnmuteDeployment;
  nowMs: number;
  /** The fleet's own pods. */
  pods: PodView[];
  /** The pod-template hash each Deployment runs now (its template's annotation); absent before the first apply. */
  templateHashes: Partial<Record<ComponentName, string>>;
  /** Loads read this pass, per component. */
  observations: Partial<Record<ComponentName, LoadObservation>>;
}

export interface ComponentRollout {
  /** Live pods of the current template. */
  updated: number;
  /** Live pods of an older template, terminating ones included (they still finish their work). */
  outdated: number;
  /** Sessions, streams or requests the outdated pods hold (read ones only). */
  outdatedLoad: number;
  /** An old pod drains before its replacement may start: no GPU room to surge. */
  drainFirst: boolean;
}

export interface RolloutPlan {
  /** Pods whose GPU-budget scheduling gate is lifted now. */
  ungate: string[];
  /** Label and annotation patches: the next old pod to replace, old pods draining first. */
  podPatches: PodPatch[];
  /** Old pods drained first that are empty (or out of time): deleted now, their uid as precondition. */
  deletePods: Array<{ name: string; uid: string }>;
  /** Components with pods of an older template. */
  components: Partial<Record<ComponentName, ComponentRollout>>;
  /** GPUs held by the fleet's pods (gated ones excepted) after this plan, and GPU pods still gated. */
  gpus: { held: number; gated: number };
  events: Array<{ type: 'Normal' | 'Warning'; reason: string; message: string }>;
}

export function isGated(pod: PodView): boolean {
  return (pod.spec?.schedulingGates ?? []).some((g) => g.name === SCHEDULING_GATE_GPU_BUDGET);
}

/** A pod of an older template than its Deployment's (undefined hash: not known yet, so not outdated). */
function outdated(pod: PodView, hash: string | undefined): boolean {
  return hash !== undefined && pod.metadata.annotations?.[ANNOTATION_TEMPLATE_HASH] !== hash;
}

const gone = (p: PodView) => podPhase(p) === 'Succeeded' || podPhase(p) === 'Failed';
const nameOf = (p: PodView) => p.metadata.name ?? '';
const createdMs = (p: PodView) => Date.parse(p.metadata.creationTimestamp ?? '') || 0;

export function planRollout(input: RolloutInput): RolloutPlan {
  const { fleet, nowMs } = input;
  const budget = fleet.spec.gpu.maxTotal;
  const out: RolloutPlan = { ungate: [], podPatches: [], deletePods: [], components: {}, gpus: { held: 0, gated: 0 }, events: [] };
  const components = fleetComponents(fleet.spec);
  const byName = new Map<string, AnyComponent>(components.map((c) => [c.name, c]));
  const componentOf = (p: PodView) => byName.get(p.metadata.labels?.[LABEL_APP_COMPONENT] ?? '');
  const loadOf = new Map<string, number>();
  for (const o of Object.values(input.observations)) for (const p of o?.pods ?? []) if (p.load !== undefined) loadOf.set(p.name, p.load);
  const pods = input.pods.filter((p) => !gone(p) && componentOf(p) !== undefined);

  // 0. Pods made before their component drained have no serving label: in rotation, before the
  //    Service that selects on the label is applied (same pass), so they keep their traffic.
  for (const p of pods) {
    if (componentOf(p)?.service.selectsServing && p.metadata.labels?.[LABEL_SERVING] === undefined && !isTerminating(p)) {
      out.podPatches.push({ name: nameOf(p), labels: { [LABEL_SERVING]: SERVING.inRotation }, annotations: {} });
    }
  }

  // 1. What each component has of old and new pods; the emptiest old serving pod goes next.
  for (const c of components) {
    const hash = input.templateHashes[c.name];
    const mine = pods.filter((p) => componentOf(p) === c);
    const old = mine.filter((p) => outdated(p, hash));
    if (old.length === 0) continue;
    out.components[c.name] = {
      updated: mine.filter((p) => !outdated(p, hash) && !isTerminating(p)).length,
      outdated: old.length,
      outdatedLoad: old.reduce((n, p) => n + (loadOf.get(nameOf(p)) ?? 0), 0),
      drainFirst: false,
    };
    if (!c.service.selectsServing) continue;
    const candidates = old
      .filter((p) => !isTerminating(p) && podPhase(p) === 'Running' && p.metadata.labels?.[LABEL_SERVING] === SERVING.inRotation && loadOf.has(nameOf(p)))
      .sort((a, b) => loadOf.get(nameOf(a))! - loadOf.get(nameOf(b))! || nameOf(a).localeCompare(nameOf(b)));
    const next = candidates[0];
    for (const p of old) {
      const marked = p.metadata.annotations?.[ANNOTATION_POD_DELETION_COST] === DELETION_COST_REPLACE_NEXT;
      if (p === next && !marked) out.podPatches.push({ name: nameOf(p), labels: {}, annotations: { [ANNOTATION_POD_DELETION_COST]: DELETION_COST_REPLACE_NEXT } });
      else if (p !== next && marked && p.metadata.labels?.[LABEL_SERVING] === SERVING.inRotation) {
        out.podPatches.push({ name: nameOf(p), labels: {}, annotations: { [ANNOTATION_POD_DELETION_COST]: null } });
      }
    }
  }

  // 2. Old pods drained first: deleted once empty after the settle time, or out of time.
  const drainTimeoutMs = fleet.spec.autoscaling.drainTimeoutSeconds * 1000;
  const deleting = new Set<string>();
  for (const p of pods) {
    if (p.metadata.labels?.[LABEL_SERVING] !== SERVING.outdated || isTerminating(p)) continue;
    const since = Date.parse(p.metadata.annotations?.[ANNOTATION_DRAINING_SINCE] ?? '');
    const load = observedLoad(input.observations, nameOf(p));
    const empty = load !== undefined && load.value === 0 && Number.isFinite(since) && load.atMs >= since + DRAIN_SETTLE_MS;
    if (empty || (Number.isFinite(since) && nowMs - since >= drainTimeoutMs)) {
      out.deletePods.push({ name: nameOf(p), uid: p.metadata.uid ?? '' });
      deleting.add(nameOf(p));
    }
  }

  // 3. The GPU budget: lift gates while there is room, pods of the current template first.
  if (budget === undefined) return out;
  const gpusOf = (p: PodView) => componentOf(p)?.gpusPerReplica ?? 0;
  const gpuPods = pods.filter((p) => gpusOf(p) > 0);
  let held = gpuPods.filter((p) => !isGated(p)).reduce((n, p) => n + gpusOf(p), 0);
  const waiting = gpuPods
    .filter((p) => isGated(p) && !isTerminating(p))
    .sort((a, b) => {
      const ca = componentOf(a)!;
      const cb = componentOf(b)!;
      const oa = outdated(a, input.templateHashes[ca.name]) ? 1 : 0;
      const ob = outdated(b, input.templateHashes[cb.name]) ? 1 : 0;
      return oa - ob || createdMs(a) - createdMs(b) || nameOf(a).localeCompare(nameOf(b));
    });
  const stillGated: PodView[] = [];
  for (const p of waiting) {
    const c = componentOf(p)!;
    // An old-template pod (the replacement of an old pod drained first) waits while its component rolls out.
    const rollingOut = out.components[c.name] !== undefined;
    if (held + gpusOf(p) <= budget && !(rollingOut && outdated(p, input.templateHashes[c.name]))) {
      out.ungate.push(nameOf(p));
      held += gpusOf(p);
    } else stillGated.push(p);
  }
  out.gpus = { held, gated: stillGated.length };

  // 4. No room for a new pod of a rolling component: drain one old pod of it first, one at a time.
  for (const c of components) {
    const rollout = out.components[c.name];
    if (rollout === undefined || !c.service.selectsServing || c.gpusPerReplica === 0) continue;
    const hash = input.templateHashes[c.name];
    const newWaiting = stillGated.some((p) => componentOf(p) === c && !outdated(p, hash));
    if (!newWaiting) continue;
    rollout.drainFirst = true;
    const old = pods.filter((p) => componentOf(p) === c && outdated(p, hash));
    // One at a time: an old pod already leaving (drained first, or terminating in its preStop) frees the next GPU.
    if (old.some((p) => isTerminating(p) || p.metadata.labels?.[LABEL_SERVING] === SERVING.outdated)) continue;
    const victim = old
      .filter((p) => podPhase(p) === 'Running' && p.metadata.labels?.[LABEL_SERVING] === SERVING.inRotation && loadOf.has(nameOf(p)))
      .sort((a, b) => loadOf.get(nameOf(a))! - loadOf.get(nameOf(b))! || nameOf(a).localeCompare(nameOf(b)))[0];
    if (victim === undefined) continue;
    // It drains now: the replace-next mark of step 1 is superseded.
    out.podPatches = out.podPatches.filter((p) => p.name !== nameOf(victim));
    out.podPatches.push({
      name: nameOf(victim),
      labels: { [LABEL_SERVING]: SERVING.outdated },
      annotations: { [ANNOTATION_DRAINING_SINCE]: new Date(nowMs).toISOString(), [ANNOTATION_POD_DELETION_COST]: DELETION_COST_DRAINING },
    });
    out.events.push({
      type: 'Normal',
      reason: 'RolloutDrainFirst',
      message: `no GPU left in the budget of ${budget} for a new ${c.name} pod: draining ${nameOf(victim)} (${loadOf.get(nameOf(victim))} in use) first; its replacement starts when it is empty`,
    });
  }
  return out;
}

function observedLoad(observations: Partial<Record<ComponentName, LoadObservation>>, pod: string): { value: number; atMs: number } | undefined {
  for (const o of Object.values(observations)) {
    const p = o?.pods.find((x) => x.name === pod);
    if (p?.load !== undefined && p.observedAtMs !== undefined) return { value: p.load, atMs: p.observedAtMs };
  }
  return undefined;
}
