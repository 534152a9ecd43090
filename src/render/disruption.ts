// PodDisruptionBudgets: voluntary evictions (node drains, upgrades) take one pod at a time, and the
// pod's own preStop wait finishes its sessions before it stops.
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { AnyComponent } from '../api/v1alpha1/components.ts';
import { childName, componentLabels, selectorLabels } from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { Desired } from './types.ts';

export function renderDisruptionBudget(fleet: UnmuteDeployment, c: AnyComponent): Desired<IPodDisruptionBudget> {
  const { name, namespace } = fleet.metadata;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: childName(name, c.name), namespace, labels: componentLabels(name, c.name) },
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(name, c.name) } },
  };
}
