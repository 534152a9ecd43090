// Whose an object is. The operator changes only objects this fleet controls (a controller owner
// reference with the fleet's uid); an object that merely has a child's name is someone else's and
// stays untouched, unless its owner hands it over with the adoption annotation.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { KubeObject } from '../runtime/object.ts';

/** `unmute.sh/adopt: <fleet name>` on an existing object lets that fleet take it over. */
export const ANNOTATION_ADOPT = 'unmute.sh/adopt';

export type Ownership = { ours: true } | { ours: false; why: string };

export function ownershipOf(obj: KubeObject, fleet: UnmuteDeployment): Ownership {
  const controller = (obj.metadata.ownerReferences ?? []).find((r) => r.controller === true);
  if (controller?.uid === fleet.metadata.uid) return { ours: true };
  if (controller !== undefined) return { ours: false, why: `it is controlled by ${controller.kind} ${controller.name}` };
  if (obj.metadata.annotations?.[ANNOTATION_ADOPT] === fleet.metadata.name) return { ours: true };
  return {
    ours: false,
    why: `it was not created by this fleet (no owner reference); delete or rename it, or annotate it ${ANNOTATION_ADOPT}=${fleet.metadata.name} to hand it over`,
  };
}
