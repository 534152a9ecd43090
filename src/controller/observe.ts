// Turns cached objects into the facts status needs, per component. Pure: the reconciler reads the
// caches and passes the objects in.
import { SESSIONS_COMPONENT, type AnyComponent } from '../api/v1alpha1/components.ts';
import { LABEL_APP_COMPONENT, LABEL_SERVING, SERVING, childName } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { isTerminating, isUnschedulable, podPhase, readyEndpoints, type DeploymentView, type EndpointSliceView, type PodView } from '../runtime/views.ts';

export interface ObservedComponent {
  desiredReplicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** Pods of every ReplicaSet of the Deployment, old ones included (Deployment status.replicas). */
  totalReplicas: number;
  /** Ready addresses in the component Service's EndpointSlices; undefined before any slice exists. */
  endpoints: number | undefined;
  gpusPerPod: number;
  /** Pods that the scheduler could not place (typically: no free GPU). */
  unschedulablePods: number;
  pendingPods: number;
  /** The Deployment controller has seen the latest spec. */
  rolloutObserved: boolean;
  /** The Deployment exists (a failed first apply leaves none: nothing can roll out). */
  exists: boolean;
}

export function podsOf(pods: PodView[], component: string): PodView[] {
  return pods.filter((p) => p.metadata.labels?.[LABEL_APP_COMPONENT] === component);
}

export function observeComponent(
  fleet: UnmuteDeployment,
  c: AnyComponent,
  deployment: DeploymentView | undefined,
  pods: PodView[],
  slices: EndpointSliceView[],
): ObservedComponent {
  const mine = podsOf(pods, c.name);
  const serviceName = childName(fleet.metadata.name, c.name);
  const ownSlices = slices.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === serviceName);
  return {
    desiredReplicas: deployment?.spec?.replicas ?? 0,
    readyReplicas: deployment?.status?.readyReplicas ?? 0,
    updatedReplicas: deployment?.status?.updatedReplicas ?? 0,
    totalReplicas: deployment?.status?.replicas ?? 0,
    endpoints: ownSlices.length > 0 ? readyEndpoints(ownSlices) : deployment === undefined ? undefined : 0,
    gpusPerPod: c.gpusPerReplica,
    unschedulablePods: mine.filter(isUnschedulable).length,
    pendingPods: mine.filter((p) => podPhase(p) === 'Pending').length,
    rolloutObserved: deployment !== undefined && (deployment.status?.observedGeneration ?? -1) >= (deployment.metadata.generation ?? 0),
    exists: deployment !== undefined,
  };
}

/** Backends that exist and are not terminating (the scale subresource's status.replicas). */
export function liveBackends(pods: PodView[]): number {
  return podsOf(pods, SESSIONS_COMPONENT).filter((p) => !isTerminating(p)).length;
}
