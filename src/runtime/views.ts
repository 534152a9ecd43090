// Typed views of the core objects the controllers read from caches. The informer hands out raw
// JSON as the API server sent it; these types say which fields are read (the server has validated
// them), and the small readers below are the one place that interprets pod state.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IEndpointSlice } from 'kubernetes-models/discovery.k8s.io/v1/EndpointSlice';
import type { INode } from 'kubernetes-models/v1/Node';
import type { IPod } from 'kubernetes-models/v1/Pod';
import type { KubeObject, TypeRef } from './object.ts';

export type PodView = KubeObject & Pick<IPod, 'spec' | 'status'>;
export type DeploymentView = KubeObject & Pick<IDeployment, 'spec' | 'status'>;
export type EndpointSliceView = KubeObject & Pick<IEndpointSlice, 'endpoints' | 'ports'>;
export type NodeView = KubeObject & { spec?: Pick<NonNullable<INode['spec']>, 'unschedulable' | 'taints'> };

export const POD: TypeRef = { apiVersion: 'v1', kind: 'Pod' };
export const DEPLOYMENT: TypeRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
export const ENDPOINT_SLICE: TypeRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' };
export const NODE: TypeRef = { apiVersion: 'v1', kind: 'Node' };

/**
 * Taints that say a node is about to lose its pods: the cordon of `kubectl drain` (the node
 * lifecycle controller mirrors spec.unschedulable as a taint), Cluster Autoscaler's scale-down and
 * Karpenter's disruption (both taint before they evict).
 */
export const LEAVING_NODE_TAINTS: readonly string[] = ['node.kubernetes.io/unschedulable', 'ToBeDeletedByClusterAutoscaler', 'karpenter.sh/disrupted'];

/** A node being drained: cordoned, or tainted by a cluster autoscaler that is about to evict its pods. */
export function isLeavingNode(node: NodeView): boolean {
  if (node.spec?.unschedulable === true) return true;
  return (node.spec?.taints ?? []).some((t) => LEAVING_NODE_TAINTS.includes(t.key) && t.effect !== 'PreferNoSchedule');
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

/** The pod's phase; a pod the API server has not given one yet counts as Pending (it sets that at create). */
export function podPhase(pod: PodView): PodPhase {
  const phase = pod.status?.phase ?? 'Pending';
  return phase === 'Pending' || phase === 'Running' || phase === 'Succeeded' || phase === 'Failed' ? phase : 'Unknown';
}

export function isTerminating(obj: KubeObject): boolean {
  return obj.metadata.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null;
}

/** The Ready condition; undefined when the pod reports none yet. */
export function isReady(pod: PodView): boolean | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === 'Ready');
  return c === undefined ? undefined : c.status === 'True';
}

/** Pending because the scheduler found no node (typically: no free GPU). */
export function isUnschedulable(pod: PodView): boolean {
  if (pod.status?.phase !== 'Pending') return false;
  return (pod.status.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
}

/** Ready addresses across EndpointSlices. */
export function readyEndpoints(slices: EndpointSliceView[]): number {
  return slices.reduce((n, s) => n + (s.endpoints ?? []).filter((e) => e.conditions?.ready === true).length, 0);
}
