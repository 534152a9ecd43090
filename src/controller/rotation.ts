// The fast path of load-aware routing: between two full passes of the UnmuteDeployment
// controller, a second, light controller reads only the backends that are one session from full
// (or full) every ROTATION_INTERVAL_MS, moves them out of or back into rotation, and wakes the main
// controller when no free slot is left in rotation, so a new backend is asked for within a second
// instead of at the next autoscaling interval. It renders, applies and writes status nothing.
import { LABEL_SERVING, SERVING, fleetSelector } from '../api/v1alpha1/labels.ts';
import type { FleetAutoscaler } from '../autoscaler/fleet-autoscaler.ts';
import { componentPods } from '../autoscaler/gather.ts';
import { SESSIONS_COMPONENT } from '../api/v1alpha1/components.ts';
import { acceptUntil, freeSlots, hotPods, rotationChanges } from '../autoscaler/rotation.ts';
import type { ObjectCache } from '../runtime/cache.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { isConflict, isInvalid, isNotFound } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject } from '../runtime/object.ts';
import { POD, isTerminating, type PodView } from '../runtime/views.ts';
import { parseUnmuteDeployment } from './validate.ts';

export const ROTATION_INTERVAL_MS = 500;
const FIELD_MANAGER = 'unmute-operator';

export interface RotationDeps {
  client: Pick<KubeClient, 'patch'>;
  fleets: ObjectCache<KubeObject>;
  pods: ObjectCache<PodView>;
  autoscaler: FleetAutoscaler;
  /** Asks the main controller for a pass now. */
  wakeMain: (key: string) => void;
  /** Pods of the fleet its ReplicaSets created (the main reconciler's rule). */
  ownPods: (fleetName: string, pods: PodView[]) => PodView[];
}

/** JSON pointer of the serving label (`/` escaped as `~1`). */
const SERVING_PATH = `/metadata/labels/${LABEL_SERVING.replace('/', '~1')}`;

export class RotationReconciler {
  readonly #d: RotationDeps;
  /** Hot backends per fleet key, from the last full pass (the main reconciler hands them over). */
  readonly #hot = new Map<string, ReadonlySet<string>>();

  constructor(deps: RotationDeps) {
    this.#d = deps;
  }

  /** Called by the main reconciler after each pass; returns whether the fast path should run. */
  setHot(key: string, hot: string[]): boolean {
    if (hot.length === 0) {
      this.#hot.delete(key);
      return false;
    }
    this.#hot.set(key, new Set(hot));
    return true;
  }

  readonly reconcile = async (key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    const hot = this.#hot.get(key);
    const raw = this.#d.fleets.get(key);
    if (hot === undefined || raw === undefined || isTerminating(raw)) return;
    const parsed = parseUnmuteDeployment(raw);
    if (!parsed.ok || !parsed.fleet.spec.backend.routing.loadAware) return;
    const fleet = parsed.fleet;
    const pods = componentPods(
      this.#d.ownPods(fleet.metadata.name, this.#d.pods.list({ namespace: fleet.metadata.namespace, labelSelector: fleetSelector(fleet.metadata.name) })),
      SESSIONS_COMPONENT,
    );
    const sessions = await this.#d.autoscaler.readHot(fleet, pods, hot, ctx.signal);
    const until = acceptUntil(fleet);
    const changes = rotationChanges(sessions.pods, until);
    const labelOf = new Map(pods.map((p) => [p.metadata.name ?? '', p.metadata.labels?.[LABEL_SERVING]]));
    for (const [names, from, to] of [
      [changes.toFull, SERVING.inRotation, SERVING.full],
      [changes.toRotation, SERVING.full, SERVING.inRotation],
    ] as const) {
      for (const name of names) {
        if (labelOf.get(name) !== from) continue;
        try {
          // The test makes the flip lose to any other change of the label (a drain started meanwhile).
          await this.#d.client.patch(POD, name, fleet.metadata.namespace, [
            { op: 'test', path: SERVING_PATH, value: from },
            { op: 'replace', path: SERVING_PATH, value: to },
          ], 'json', { fieldManager: FIELD_MANAGER, signal: ctx.signal });
        } catch (err) {
          if (!isNotFound(err) && !isConflict(err) && !isInvalid(err)) throw err;
        }
      }
    }
    const autoscaled = fleet.spec.autoscaling.enabled;
    if (autoscaled && changes.toFull.length > 0 && freeSlots(sessions.pods, until) < Math.max(1, fleet.spec.autoscaling.headroomSessions)) this.#d.wakeMain(key);
    const stillHot = hotPods(sessions.pods, until);
    if (!this.setHot(key, stillHot)) return;
    return { requeueAfterMs: ROTATION_INTERVAL_MS };
  };

  forget(key: string): void {
    this.#hot.delete(key);
  }
}
