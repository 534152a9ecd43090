// The one Deployment builder every component goes through: labels, selector, serving label,
// placement (GPU included), security defaults and the pod skeleton. Components add only their
// containers, volumes, rollout strategy and pod-level extras (src/render/components/).
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IDeploymentSpec } from 'kubernetes-models/apps/v1/DeploymentSpec';
import type { IDeploymentStrategy } from 'kubernetes-models/apps/v1/DeploymentStrategy';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import { createHash } from 'node:crypto';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import type { AnyComponent } from '../api/v1alpha1/components.ts';
import {
  ANNOTATION_SAFE_TO_EVICT,
  ANNOTATION_TEMPLATE_HASH,
  LABEL_SERVING,
  SCHEDULING_GATE_GPU_BUDGET,
  SERVING,
  childName,
  componentLabels,
  selectorLabels,
} from '../api/v1alpha1/labels.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { drainWaitCommand } from './drain-wait.ts';
import { omitUndefined, podPlacement } from './pod.ts';
import type { Desired } from './types.ts';

/** What a component contributes to its Deployment. */
export interface WorkloadParts {
  containers: IContainer[];
  volumes?: IVolume[];
  /** Rollout strategy; the API server's default (25 % surge, 25 % unavailable) when undefined. */
  strategy?: IDeploymentStrategy;
  /** Pod-level security context; seccomp RuntimeDefault when undefined. */
  podSecurityContext?: IPodSecurityContext;
  /** Annotations the operator sets on the pods; they win over the user's podAnnotations. */
  podAnnotations?: Record<string, string>;
}

/** How many old ReplicaSets a Deployment keeps for `kubectl rollout undo`. */
const REVISION_HISTORY_LIMIT = 5;

export function renderDeployment(fleet: UnmuteDeployment, component: AnyComponent, replicas: number, parts: WorkloadParts): Desired<IDeployment> {
  const { name, namespace } = fleet.metadata;
  const settings = component.settings;
  const labels = componentLabels(name, component.name);
  // Pods start in rotation; the operator takes them out to drain them.
  const serving: Record<string, string> = component.service.selectsServing ? { [LABEL_SERVING]: SERVING.inRotation } : {};
  // A pod that drains waits in preStop for its own load to end, whatever stops it; the grace period bounds the wait.
  const drainWait = component.service.selectsServing ? drainWaitCommand(component) : undefined;
  // A pod holding conversations or their streams is removed by the operator's drain once empty, not
  // moved by a node autoscaler (Cluster Autoscaler would cut it at 600 s of grace).
  const keep: Record<string, string> = drainWait === undefined ? {} : { [ANNOTATION_SAFE_TO_EVICT]: 'false' };
  // The schema refuses user keys the operator owns (common.ts), so nothing of theirs is overwritten here.
  const annotations = { ...settings.podAnnotations, ...keep, ...parts.podAnnotations };
  const [first, ...rest] = parts.containers;
  const containers = drainWait === undefined || first === undefined ? parts.containers : [{ ...first, lifecycle: { preStop: { exec: { command: drainWait } } } }, ...rest];
  const grace = drainWait !== undefined && 'drainGracePeriodSeconds' in settings ? settings.drainGracePeriodSeconds : undefined;
  const gated = component.gpu !== undefined && fleet.spec.gpu.maxTotal !== undefined;
  const template: IPodTemplateSpec = {
    metadata: omitUndefined({
      labels: { ...settings.podLabels, ...labels, ...serving },
      annotations: Object.keys(annotations).length > 0 ? annotations : undefined,
    }),
    spec: omitUndefined({
      ...podPlacement(settings, component.gpu),
      schedulingGates: gated ? [{ name: SCHEDULING_GATE_GPU_BUDGET }] : undefined,
      terminationGracePeriodSeconds: grace,
      securityContext: parts.podSecurityContext ?? { seccompProfile: { type: 'RuntimeDefault' } },
      containers,
      volumes: parts.volumes,
    }),
  };
  template.metadata = { ...template.metadata, annotations: { ...template.metadata?.annotations, [ANNOTATION_TEMPLATE_HASH]: templateHash(template) } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: childName(name, component.name), namespace, labels },
    spec: omitUndefined<IDeploymentSpec>({
      replicas,
      selector: { matchLabels: selectorLabels(name, component.name) },
      strategy: parts.strategy,
      revisionHistoryLimit: REVISION_HISTORY_LIMIT,
      template,
    }),
  };
}

/** A short, stable digest of a pod template (its JSON, as rendered: key order is fixed by the renderer). */
export function templateHash(template: IPodTemplateSpec): string {
  return createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
}
