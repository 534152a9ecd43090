// Names and labels every rendered object agrees on. Selectors, Prometheus target labels and
// the autoscaler's pod queries all derive from here, so they cannot drift apart.
export const COMPONENTS = ['backend', 'stt', 'tts', 'llm', 'voice-cloning', 'frontend', 'redis'] as const;
export type Component = (typeof COMPONENTS)[number];

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';
/** Copied into Prometheus series as `unmute_sh_deployment` / `unmute_sh_component` (Unmute metrics carry no labels). */
export const LABEL_DEPLOYMENT = 'unmute.sh/deployment';
export const LABEL_TIER = 'unmute.sh/component';
/**
 * Backend pods carry `unmute.sh/serving: "true"` while they take new sessions. The Service selects
 * on it and the Deployment does not, so the autoscaler can take a pod out of rotation (drain)
 * without taking it out of its ReplicaSet.
 */
export const LABEL_SERVING = 'unmute.sh/serving';
export const ANNOTATION_DRAINING_SINCE = 'unmute.sh/draining-since';
export const ANNOTATION_POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';
export const ANNOTATION_SAFE_TO_EVICT = 'cluster-autoscaler.kubernetes.io/safe-to-evict';
export const ANNOTATION_DO_NOT_DISRUPT = 'karpenter.sh/do-not-disrupt';

export const MANAGED_BY = 'unmute-operator';
export const APP_NAME = 'unmute';

/** Child object name for a component, e.g. `demo-backend`. */
export function childName(deployment: string, component: Component): string {
  return `${deployment}-${component}`;
}

/** Labels that select a component's pods; stable for the life of the Deployment (selectors are immutable). */
export function selectorLabels(deployment: string, component: Component): Record<string, string> {
  return { [LABEL_NAME]: APP_NAME, [LABEL_INSTANCE]: deployment, [LABEL_COMPONENT]: component };
}

/** Labels on every object the operator creates for a component. */
export function commonLabels(deployment: string, component: Component): Record<string, string> {
  return {
    ...selectorLabels(deployment, component),
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_PART_OF]: APP_NAME,
    [LABEL_DEPLOYMENT]: deployment,
    [LABEL_TIER]: component,
  };
}

/** Labels on objects that belong to the fleet as a whole (alerts, dashboards, routes). */
export function fleetLabels(deployment: string): Record<string, string> {
  return {
    [LABEL_NAME]: APP_NAME,
    [LABEL_INSTANCE]: deployment,
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_PART_OF]: APP_NAME,
    [LABEL_DEPLOYMENT]: deployment,
  };
}
