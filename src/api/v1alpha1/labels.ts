// Names, labels and annotations every object of a fleet agrees on. Selectors, Prometheus target
// labels, the autoscaler's pod queries and the watches all derive from here, so they cannot drift.
// A fleet is what one UnmuteDeployment describes; its name is the CR's name.
import type { ComponentName } from './components.ts';

export const LABEL_APP_NAME = 'app.kubernetes.io/name';
export const LABEL_APP_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_APP_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_APP_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_APP_PART_OF = 'app.kubernetes.io/part-of';
/** Copied into Prometheus series as `unmute_sh_fleet` / `unmute_sh_component` (Unmute's metrics carry no labels). */
export const LABEL_FLEET = 'unmute.sh/fleet';
export const LABEL_COMPONENT = 'unmute.sh/component';
/**
 * Pods that take new sessions or streams carry `unmute.sh/serving: "true"`. Services of drainable
 * components select on it and their Deployments do not, so the operator can take a pod out of
 * rotation (drain) without taking it out of its ReplicaSet.
 */
export const LABEL_SERVING = 'unmute.sh/serving';
/** Values of LABEL_SERVING. Only IN_ROTATION is selected by the component's Service. */
export const SERVING = {
  /** Takes new sessions. */
  inRotation: 'true',
  /** Holds acceptUntil sessions: keeps them, takes no new one until one ends (load-aware routing). */
  full: 'full',
  /** Draining: leaves when its sessions ended. */
  draining: 'false',
  /** Of an older pod template, drained before its replacement can have its GPU (a rollout without GPU room to surge). */
  outdated: 'outdated',
} as const;
/** Marks the headless Service that exists only to be scraped (it selects draining pods too). */
export const LABEL_METRICS_SERVICE = 'unmute.sh/metrics';

export const ANNOTATION_DRAINING_SINCE = 'unmute.sh/draining-since';
export const ANNOTATION_POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
export const ANNOTATION_SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
export const ANNOTATION_DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';
/**
 * Hash of the pod template the operator rendered, on the template itself: a pod whose value differs
 * from its Deployment's is of an older revision (a rollout is under way).
 */
export const ANNOTATION_TEMPLATE_HASH = 'unmute.sh/template-hash';
/**
 * Hash of a child object as the operator last applied it (runtime/apply.ts appliedHash): no-op
 * detection compares it instead of the object's fields, so the caches keep metadata only.
 */
export const ANNOTATION_APPLIED_HASH = 'unmute.sh/applied-hash';
/**
 * Scheduling gate on GPU pods of a fleet with a GPU budget: the operator lifts it only while the
 * GPUs its pods hold (draining and terminating ones included) leave room, so no pod, surge or
 * replacement, ever takes a GPU beyond the budget.
 */
export const SCHEDULING_GATE_GPU_BUDGET = 'unmute.sh/gpu-budget';

/** Value of app.kubernetes.io/managed-by on everything the operator creates; its caches select on it. */
export const MANAGED_BY = 'unmute-operator';
/** Value of app.kubernetes.io/name and part-of. */
export const APP_NAME = 'unmute';

/** Child object name of a component, e.g. `demo-backend`. */
export function childName(fleet: string, component: ComponentName): string {
  return `${fleet}-${component}`;
}

/** Labels that select every pod of a fleet, whatever its component. */
export function fleetPodSelectorLabels(fleet: string): Record<string, string> {
  return { [LABEL_APP_NAME]: APP_NAME, [LABEL_APP_INSTANCE]: fleet };
}

/** Labels that select a component's pods; stable for the life of the Deployment (selectors are immutable). */
export function selectorLabels(fleet: string, component: ComponentName): Record<string, string> {
  return { ...fleetPodSelectorLabels(fleet), [LABEL_APP_COMPONENT]: component };
}

/** Labels on every object the operator creates for a component. */
export function componentLabels(fleet: string, component: ComponentName): Record<string, string> {
  return { ...fleetLabels(fleet), [LABEL_APP_COMPONENT]: component, [LABEL_COMPONENT]: component };
}

/** Labels on objects that belong to the fleet as a whole (alerts, dashboards, routes). */
export function fleetLabels(fleet: string): Record<string, string> {
  return {
    [LABEL_APP_NAME]: APP_NAME,
    [LABEL_APP_INSTANCE]: fleet,
    [LABEL_APP_MANAGED_BY]: MANAGED_BY,
    [LABEL_APP_PART_OF]: APP_NAME,
    [LABEL_FLEET]: fleet,
  };
}

/** Label selector (string form) of every object and pod the operator made for a fleet. */
export function fleetSelector(fleet: string): string {
  return `${LABEL_APP_INSTANCE}=${fleet},${LABEL_APP_MANAGED_BY}=${MANAGED_BY}`;
}

/** Held on every fleet: deleting it first drains its backends (src/controller/deletion.ts). */
export const FINALIZER_DRAIN = 'unmute.sh/drain-before-delete';
/** `unmute.sh/skip-drain: "true"` on a fleet: delete it at once, cutting live conversations. */
export const ANNOTATION_SKIP_DRAIN = 'unmute.sh/skip-drain';
