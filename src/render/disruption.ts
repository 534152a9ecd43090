// PodDisruptionBudgets. Tiers the autoscaler sizes, with the operator watching Nodes, refuse every
// eviction of a healthy pod: the operator moves their pods off a node being drained itself, a
// replacement ready before the old pod leaves its Service (pool.ts), then removes the old pod once
// empty, and kubectl drain (which retries refused evictions) sees it gone. An eviction API that let
// the last pod of a tier go would leave the tier with nothing to serve while its replacement loads
// a model for minutes. Pods that are not ready may always be evicted: a broken pod never blocks a
// drain. Other tiers (fixed replicas, or an operator without node reads) take one eviction at a
// time, and each pod's preStop wait finishes its work before it stops.
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { AnyComponent } from '../api/v1alpha1/components.ts';
import { childName, componentLabels, selectorLabels } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { ClusterCapabilities, Desired } from './types.ts';

export function renderDisruptionBudget(fleet: UnmuteDeployment, c: AnyComponent, capabilities: Pick<ClusterCapabilities, 'nodeDrains'>): Desired<IPodDisruptionBudget> {
  const { name, namespace } = fleet.metadata;
  const operatorMoves = capabilities.nodeDrains && c.scaling !== 'fixed';
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: childName(name, c.name), namespace, labels: componentLabels(name, c.name) },
    spec: {
      maxUnavailable: operatorMoves ? 0 : 1,
      selector: { matchLabels: selectorLabels(name, c.name) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
