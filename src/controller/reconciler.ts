// The UnmuteDeployment reconcile: read (caches) → validate → plan → render → apply → status.
// Level-triggered: it looks only at what the caches say now, never at which event woke it. Every
// decision is made by pure functions (validate.ts, autoscaler/plan.ts, render/, status.ts); this
// file only gathers their inputs and carries out their outputs.
import { SESSIONS_COMPONENT, fleetComponents, type ComponentName } from '../api/v1alpha1/components.ts';
import { childName, fleetSelector, selectorLabels } from '../api/v1alpha1/labels.ts';
import { API_VERSION, KIND, unmuteDeploymentStatus, type UnmuteDeployment, type UnmuteDeploymentStatus } from '../api/v1alpha1/unmute-deployment.ts';
import type { FleetAutoscaler } from '../autoscaler/fleet-autoscaler.ts';
import { planActs, type FleetPlan, type PlannedEvent } from '../autoscaler/plan.ts';
import type { FleetMetrics } from '../monitoring/fleet-metrics.ts';
import { renderFleet } from '../render/index.ts';
import type { ClusterCapabilities, DesiredObject } from '../render/types.ts';
import { applyIfChanged, applyStatus } from '../runtime/apply.ts';
import type { ObjectCache } from '../runtime/cache.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { describeError, findKubeApiError, isConflict, isNotFound } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../runtime/object.ts';
import { POD, isTerminating, type DeploymentView, type EndpointSliceView, type PodView } from '../runtime/views.ts';
import { SECRET, refKey } from './kinds.ts';
import { drainingPodNames, liveBackends, observeComponent, type ObservedComponent } from './observe.ts';
import { repairPatch } from './repair.ts';
import { computeStatus, invalidSpecStatus } from './status.ts';
import { transitionEvents } from './transitions.ts';
import { parseUnmuteDeployment, validateUnmuteDeployment } from './validate.ts';

export const FIELD_MANAGER = 'unmute-operator';
/** Manager of the rare JSON patches that undo hand edits SSA cannot (repair.ts); never applies. */
const REPAIR_FIELD_MANAGER = 'unmute-operator-repair';
/** A spec referring to a missing Secret is looked at again this often (Secrets are not watched). */
const INVALID_SPEC_RETRY_MS = 30_000;
/** How long a Secret found present is trusted before it is read again. */
const SECRET_RECHECK_MS = 60_000;

/** The API calls a reconcile makes; KubeClient in the operator, a recording fake in unit tests. */
export type FleetClient = Pick<KubeClient, 'apply' | 'patch' | 'delete' | 'getIfExists'>;

export interface ReconcilerDeps {
  client: FleetClient;
  fleets: ObjectCache<KubeObject>;
  /** One cache per owned kind the API server serves, keyed by refKey. */
  owned: Map<string, { ref: TypeRef; cache: ObjectCache<KubeObject> }>;
  deployments: ObjectCache<DeploymentView>;
  pods: ObjectCache<PodView>;
  endpointSlices: ObjectCache<EndpointSliceView>;
  capabilities: ClusterCapabilities;
  autoscaler: FleetAutoscaler;
  events: Pick<EventRecorder, 'event'>;
  fleetMetrics: FleetMetrics;
  clock: Clock;
}

/** What one pass reads from the caches about a fleet. */
interface FleetWorld {
  pods: PodView[];
  deployments: Partial<Record<ComponentName, DeploymentView>>;
  slices: EndpointSliceView[];
}

export class UnmuteDeploymentReconciler {
  readonly #d: ReconcilerDeps;
  /**
   * Key names of Secrets found present, by namespace/name, with when they were read. Autoscaled
   * fleets reconcile every few seconds; re-reading their Secrets each pass would be wasted I/O.
   * Missing Secrets are never remembered, so a fix is seen at the next retry.
   */
  readonly #secretKeysSeen = new Map<string, { keys: string[]; atMs: number }>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  readonly reconcile = async (key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    const raw = this.#d.fleets.get(key);
    if (raw === undefined) {
      // Gone: children go with it through owner references; only in-memory state is ours to drop.
      this.#d.autoscaler.forget(ctx.namespace ?? '', ctx.name);
      this.#d.fleetMetrics.forget(ctx.namespace ?? '', ctx.name);
      return;
    }
    if (isTerminating(raw)) return;

    const parsed = parseUnmuteDeployment(raw);
    if (!parsed.ok) return this.#invalid(raw, parsed.problems, ctx);
    const fleet = parsed.fleet;
    const problems = await validateUnmuteDeployment(fleet, (ns, name) => this.#secretKeys(ns, name, ctx.signal));
    if (problems.length > 0) {
      this.#forgetSecrets(fleet.metadata.namespace);
      return this.#invalid(raw, problems, ctx);
    }

    const world = this.#read(fleet);
    const deployedReplicas = Object.fromEntries(Object.entries(world.deployments).map(([c, d]) => [c, d.spec?.replicas]));
    const plan = await this.#d.autoscaler.plan(fleet, { pods: world.pods, deployedReplicas }, ctx.signal);
    await this.#patchPods(fleet, plan, ctx);

    const desired = renderFleet(fleet, { capabilities: this.#d.capabilities, replicas: plan.replicas });
    const { error: applyError, written } = await this.#applyChildren(desired, ctx);
    if (applyError === undefined) await this.#prune(fleet, desired, ctx);

    const components = this.#observe(fleet, world, written);
    const status = this.#status(fleet, world, plan, components, applyError);
    await applyStatus(
      this.#d.client,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: fleet.metadata.name, namespace: fleet.metadata.namespace }, status },
      raw,
      { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal },
    );

    const events = [...plan.events, ...transitionEvents(fleet.status?.conditions ?? [], status.conditions ?? [], plan.decision)];
    this.#record(raw, events);
    this.#updateFleetMetrics(fleet, status, plan, components);
    if (applyError !== undefined) throw new Error(`apply children of ${key}: ${applyError}`);
    return plan.requeueAfterMs === undefined ? undefined : { requeueAfterMs: plan.requeueAfterMs };
  };

  /** Everything the pass needs from the caches, read once. */
  #read(fleet: UnmuteDeployment): FleetWorld {
    const { namespace, name } = fleet.metadata;
    const deployments: FleetWorld['deployments'] = {};
    for (const c of fleetComponents(fleet.spec)) {
      const d = this.#d.deployments.getByName(namespace, childName(name, c.name));
      if (d !== undefined) deployments[c.name] = d;
    }
    return {
      pods: this.#d.pods.list({ namespace, labelSelector: fleetSelector(name) }),
      deployments,
      slices: this.#d.endpointSlices.list({ namespace, labelSelector: fleetSelector(name) }),
    };
  }

  #observe(fleet: UnmuteDeployment, world: FleetWorld, written: Map<string, KubeObject>): Partial<Record<ComponentName, ObservedComponent>> {
    const components: Partial<Record<ComponentName, ObservedComponent>> = {};
    for (const c of fleetComponents(fleet.spec)) {
      // A Deployment written in this pass is newer than the cached copy: its rollout has not been seen yet.
      const fresh: DeploymentView | undefined = written.get(`Deployment/${childName(fleet.metadata.name, c.name)}`);
      components[c.name] = observeComponent(fleet, c, fresh ?? world.deployments[c.name], world.pods, world.slices);
    }
    return components;
  }

  #status(
    fleet: UnmuteDeployment,
    world: FleetWorld,
    plan: FleetPlan,
    components: Partial<Record<ComponentName, ObservedComponent>>,
    applyError: string | undefined,
  ): UnmuteDeploymentStatus {
    const { name } = fleet.metadata;
    const now = new Date(this.#d.clock.now());
    const d = plan.decision;
    const scaled = d !== undefined && (d.direction !== 'none' || d.remove.length > 0);
    return computeStatus({
      fleet,
      now,
      ...(applyError === undefined ? {} : { applyError }),
      components,
      backendSelector: Object.entries(selectorLabels(name, SESSIONS_COMPONENT))
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      backendPods: liveBackends(world.pods),
      ...(d === undefined
        ? {}
        : { autoscaling: { decision: d, readErrors: plan.readErrors, ...(scaled ? { lastScale: { time: now.toISOString().replace(/\.\d+Z$/, 'Z'), reason: d.reason } } : {}) } }),
      sessions: plan.sessions,
      drainingPods: drainingPodNames(world.pods),
      monitoring: { enabled: fleet.spec.monitoring.enabled, prometheusOperator: this.#d.capabilities.prometheusOperator },
    });
  }

  async #secretKeys(namespace: string, name: string, signal: AbortSignal): Promise<{ keys: string[] } | undefined> {
    const id = `${namespace}/${name}`;
    const now = this.#d.clock.now();
    const seen = this.#secretKeysSeen.get(id);
    if (seen !== undefined && now - seen.atMs < SECRET_RECHECK_MS) return { keys: seen.keys };
    // Only key names leave this function: Secret values are never logged or stored.
    const secret = await this.#d.client.getIfExists<KubeObject & { data?: Record<string, string> }>(SECRET, name, namespace, { signal });
    if (secret === undefined) {
      this.#secretKeysSeen.delete(id);
      return undefined;
    }
    const keys = Object.keys(secret.data ?? {});
    this.#secretKeysSeen.set(id, { keys, atMs: now });
    return { keys };
  }

  #forgetSecrets(namespace: string): void {
    for (const k of [...this.#secretKeysSeen.keys()]) if (k.startsWith(`${namespace}/`)) this.#secretKeysSeen.delete(k);
  }

  async #invalid(raw: KubeObject, problems: string[], ctx: ReconcileContext): Promise<ReconcileResult> {
    // The spec did not parse or cannot work; status is all we write, on top of what it says now.
    const prev = unmuteDeploymentStatus.safeParse(raw['status']);
    const status = invalidSpecStatus(prev.success ? prev.data : {}, raw.metadata.generation ?? 0, problems, new Date(this.#d.clock.now()));
    const result = await applyStatus(
      this.#d.client,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: raw.metadata.name ?? '', namespace: raw.metadata.namespace }, status },
      raw,
      { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal },
    );
    if (result.written) {
      ctx.logger.info({ problems }, 'invalid spec: nothing applied');
      this.#d.events.event(raw, 'Warning', 'InvalidSpec', problems.join('; '));
    }
    return { requeueAfterMs: INVALID_SPEC_RETRY_MS };
  }

  /** Pod labels and annotations of the plan, before any Deployment changes. */
  async #patchPods(fleet: UnmuteDeployment, plan: FleetPlan, ctx: ReconcileContext): Promise<void> {
    for (const patch of plan.podPatches) {
      try {
        await this.#d.client.patch(POD, patch.name, fleet.metadata.namespace, { metadata: { labels: patch.labels, annotations: patch.annotations } }, 'merge', {
          signal: ctx.signal,
          fieldManager: FIELD_MANAGER,
        });
      } catch (err) {
        // The pod went away meanwhile: nothing left to drain.
        if (!isNotFound(err)) throw err;
      }
    }
    const d = plan.decision;
    if (d !== undefined && planActs(plan)) {
      ctx.logger.info({ serving: d.serving, replicas: d.replicas, drain: d.drain, undrain: d.undrain, remove: d.remove, reason: d.reason }, 'scaling decision');
    }
  }

  /** Applies every desired object that differs from the cache. Returns the first error and the objects written, as the server answered. */
  async #applyChildren(desired: DesiredObject[], ctx: ReconcileContext): Promise<{ error: string | undefined; written: Map<string, KubeObject> }> {
    const written = new Map<string, KubeObject>();
    for (const obj of desired) {
      const ref = { apiVersion: obj.apiVersion, kind: obj.kind };
      const observed = this.#cached(ref, obj.metadata.namespace, obj.metadata.name);
      try {
        // A hand edit SSA cannot revert alone (repair.ts) is taken out first; the apply then always runs.
        const repair = repairPatch(obj, observed, FIELD_MANAGER);
        if (repair !== undefined) {
          ctx.logger.info({ kind: obj.kind, name: obj.metadata.name, paths: repair.filter((o) => o.op === 'replace').map((o) => o.path) }, 'removing hand-edited list elements that block the apply');
          await this.#d.client.patch(ref, obj.metadata.name, obj.metadata.namespace, repair, 'json', { fieldManager: REPAIR_FIELD_MANAGER, signal: ctx.signal });
        }
        const result = await applyIfChanged(this.#d.client, obj, repair === undefined ? observed : undefined, { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal });
        if (result.written) written.set(`${obj.kind}/${obj.metadata.name}`, result.object);
      } catch (err) {
        if (isConflict(err)) throw err;
        const apiErr = findKubeApiError(err);
        return { error: `${obj.kind} ${obj.metadata.name}: ${apiErr?.message ?? describeError(err)}`, written };
      }
    }
    return { error: undefined, written };
  }

  #cached(ref: TypeRef, namespace: string, name: string): KubeObject | undefined {
    return this.#d.owned.get(refKey(ref))?.cache.getByName(namespace, name);
  }

  /** Deletes children this fleet no longer implies (a component removed from the spec). */
  async #prune(fleet: UnmuteDeployment, desired: DesiredObject[], ctx: ReconcileContext): Promise<void> {
    const wanted = new Set(desired.map((o) => `${o.apiVersion}/${o.kind}/${o.metadata.name}`));
    for (const { ref, cache } of this.#d.owned.values()) {
      for (const obj of cache.list({ namespace: fleet.metadata.namespace, labelSelector: fleetSelector(fleet.metadata.name) })) {
        const controlled = (obj.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === fleet.metadata.uid);
        if (!controlled || wanted.has(`${ref.apiVersion}/${ref.kind}/${obj.metadata.name}`)) continue;
        ctx.logger.info({ kind: ref.kind, name: obj.metadata.name }, 'deleting object the spec no longer implies');
        try {
          await this.#d.client.delete(ref, obj.metadata.name ?? '', fleet.metadata.namespace, { propagationPolicy: 'Background', preconditions: { uid: obj.metadata.uid } });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
  }

  #record(regarding: KubeObject, events: PlannedEvent[]): void {
    for (const e of events) this.#d.events.event(regarding, e.type, e.reason, e.message);
  }

  #updateFleetMetrics(fleet: UnmuteDeployment, status: UnmuteDeploymentStatus, plan: FleetPlan, observed: Partial<Record<ComponentName, ObservedComponent>>): void {
    const { namespace, name } = fleet.metadata;
    for (const e of plan.scaleEvents) this.#d.fleetMetrics.recordScaleEvent(namespace, name, e.component, e.direction, e.reason);
    const now = this.#d.clock.now();
    const drainingSince = new Map(plan.backends.map((p) => [p.name, p.drainingSinceMs]));
    this.#d.fleetMetrics.update({
      namespace,
      name,
      components: Object.fromEntries(
        Object.entries(observed).map(([c, o]) => [c, { desired: o.desiredReplicas, ready: o.readyReplicas, gpusRequested: o.gpusPerPod * o.desiredReplicas, pendingPods: o.pendingPods }]),
      ),
      sessions: { active: status.sessions?.active ?? 0, capacity: status.sessions?.capacity ?? 0, unknownPods: status.sessions?.unknownPods ?? 0 },
      drainingPods: (status.drainingPods ?? []).map((pod) => ({ pod, sinceSeconds: Math.max(0, (now - (drainingSince.get(pod) ?? now)) / 1000) })),
      ...(fleet.spec.gpu.maxTotal === undefined ? {} : { gpuBudget: fleet.spec.gpu.maxTotal }),
      autoscalerAtMax: plan.decision?.limited !== undefined && plan.decision.limited.reason !== 'GpuPodsPending',
    });
  }
}
