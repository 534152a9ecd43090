// Everything one UnmuteDeployment implies, as a pure function of the parsed CR and the
// RenderContext (cluster capabilities, replicas the plan decided). The controller applies exactly
// this list. A new component gets its descriptor (src/api/v1alpha1/components.ts) and its
// containers (src/render/components/); a new object kind gets a renderer here.
import { fleetComponents } from '../api/v1alpha1/components.ts';
import { API_VERSION, KIND, type UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { renderMonitoring, scrapeAnnotations } from '../monitoring/index.ts';
import type { OwnerReference } from '../runtime/object.ts';
import { workloadOf } from './components/index.ts';
import { renderDisruptionBudget } from './disruption.ts';
import { renderHttpRoute, renderIngress } from './exposure.ts';
import { renderNetworkPolicy } from './network-policy.ts';
import { renderService } from './service.ts';
import type { DesiredObject, RenderContext } from './types.ts';
import { renderDeployment } from './workload.ts';

function ownerReferenceTo(fleet: UnmuteDeployment): OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: fleet.metadata.name, uid: fleet.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** What a fleet implies, split into what serves conversations and what monitors them. */
export interface RenderedFleet {
  workloads: DesiredObject[];
  monitoring: DesiredObject[];
}

export function renderFleetParts(fleet: UnmuteDeployment, ctx: RenderContext): RenderedFleet {
  const { spec } = fleet;
  const workloads: DesiredObject[] = [];
  for (const c of fleetComponents(spec)) {
    const replicas = ctx.replicas[c.name] ?? c.replicas;
    workloads.push(renderDeployment(fleet, c, replicas, workloadOf(fleet, c, scrapeAnnotations(fleet, c.name))));
    workloads.push(renderService(fleet, c));
    if (c.disruptionBudget) workloads.push(renderDisruptionBudget(fleet, c, ctx.capabilities));
    if (spec.networkPolicy.enabled) workloads.push(renderNetworkPolicy(fleet, c, ctx.operatorNamespace));
  }
  if (spec.exposure?.gateway && ctx.capabilities.gatewayApi) workloads.push(renderHttpRoute(fleet, spec.exposure.gateway, ctx.capabilities));
  if (spec.exposure?.ingress) workloads.push(renderIngress(fleet, spec.exposure.ingress));
  const owner = ownerReferenceTo(fleet);
  const owned = (objects: DesiredObject[]) => objects.map((o) => ({ ...o, metadata: { ...o.metadata, ownerReferences: [owner] } }));
  return { workloads: owned(workloads), monitoring: owned(renderMonitoring(fleet, ctx.capabilities)) };
}

/** Every object of the fleet, in apply order. */
export function renderFleet(fleet: UnmuteDeployment, ctx: RenderContext): DesiredObject[] {
  const { workloads, monitoring } = renderFleetParts(fleet, ctx);
  return [...workloads, ...monitoring];
}
