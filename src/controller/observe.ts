// Turns cached objects into the facts status and the autoscaler need. Pure: caches are read by
// the caller and passed in.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { LABEL_COMPONENT, LABEL_SERVING, childName, type Component } from '../render/labels.ts';
import { gpuCount } from '../render/pod.ts';
import type { KubeObject } from '../runtime/object.ts';
import type { ObservedComponent } from './status.ts';

interface DeploymentLike extends KubeObject {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; updatedReplicas?: number; replicas?: number; observedGeneration?: number };
}

interface PodLike extends KubeObject {
  status?: { phase?: string; podIP?: string; conditions?: { type?: string; status?: string; reason?: string }[] };
}

interface EndpointSliceLike extends KubeObject {
  endpoints?: { conditions?: { ready?: boolean | null } }[] | null;
}

export function gpusPerPod(cr: UnmuteDeployment, component: Component): number {
  const { spec } = cr;
  switch (component) {
    case 'stt':
      return gpuCount(spec.stt.gpu);
    case 'tts':
      return gpuCount(spec.tts.gpu);
    case 'llm':
      return gpuCount(spec.llm.inCluster?.gpu);
    case 'voice-cloning':
      return gpuCount(spec.voiceCloning?.gpu);
    default:
      return 0;
  }
}

/** Cached objects carry `status` as unknown JSON; these views read the fields used here. */
const asPod = (o: KubeObject) => o as PodLike;

export function podPhase(pod: KubeObject): string | undefined {
  return asPod(pod).status?.phase;
}

export function isUnschedulable(obj: KubeObject): boolean {
  const pod = asPod(obj);
  if (pod.status?.phase !== 'Pending') return false;
  return (pod.status.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
}

export function isTerminating(pod: KubeObject): boolean {
  return pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
}

export function podsOf(pods: KubeObject[], component: Component): KubeObject[] {
  return pods.filter((p) => p.metadata.labels?.[LABEL_COMPONENT] === component);
}

export function observeComponent(
  cr: UnmuteDeployment,
  component: Component,
  deploymentObject: KubeObject | undefined,
  pods: KubeObject[],
  sliceObjects: KubeObject[],
): ObservedComponent {
  const deployment = deploymentObject as DeploymentLike | undefined;
  const slices = sliceObjects as EndpointSliceLike[];
  const mine = podsOf(pods, component);
  const serviceName = childName(cr.metadata.name, component);
  const ownSlices = slices.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === serviceName);
  const endpoints = ownSlices.reduce((n, s) => n + (s.endpoints ?? []).filter((e) => e.conditions?.ready === true).length, 0);
  return {
    desiredReplicas: deployment?.spec?.replicas ?? 0,
    readyReplicas: deployment?.status?.readyReplicas ?? 0,
    updatedReplicas: deployment?.status?.updatedReplicas ?? 0,
    totalReplicas: deployment?.status?.replicas ?? 0,
    endpoints: ownSlices.length > 0 ? endpoints : deployment === undefined ? undefined : 0,
    gpusPerPod: gpusPerPod(cr, component),
    unschedulablePods: mine.filter(isUnschedulable).length,
    rolloutObserved: deployment !== undefined && (deployment.status?.observedGeneration ?? -1) >= (deployment.metadata.generation ?? 0),
  };
}

/** Backend pods that are out of rotation (drained or draining), not yet gone. */
export function drainingPodNames(pods: KubeObject[]): string[] {
  return podsOf(pods, 'backend')
    .filter((p) => !isTerminating(p) && p.metadata.labels?.[LABEL_SERVING] !== 'true')
    .map((p) => p.metadata.name ?? '')
    .sort();
}
