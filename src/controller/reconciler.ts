// The UnmuteDeployment reconcile: read (caches) → validate → plan → render → apply → status.
// Level-triggered: it looks only at what the caches say now, never at which event woke it. Every
// decision is made by pure functions (validate.ts, autoscaler/plan.ts, render/, status.ts); this
// file only gathers their inputs and carries out their outputs.
import { SESSIONS_COMPONENT, fleetComponents, type ComponentName } from '../api/v1alpha1/components.ts';
import {
  ANNOTATION_APPLIED_HASH,
  ANNOTATION_TEMPLATE_HASH,
  FINALIZER_DRAIN,
  LABEL_APP_COMPONENT,
  SCHEDULING_GATE_GPU_BUDGET,
  childName,
  fleetSelector,
  selectorLabels,
} from '../api/v1alpha1/labels.ts';
import { API_VERSION, KIND, unmuteDeploymentStatus, type UnmuteDeployment, type UnmuteDeploymentStatus } from '../api/v1alpha1/unmute-deployment.ts';
import type { FleetAutoscaler } from '../autoscaler/fleet-autoscaler.ts';
import { drainPatches, type PodPatch } from '../autoscaler/drain.ts';
import { planActs, type FleetPlan, type PlannedEvent } from '../autoscaler/plan.ts';
import type { FleetMetrics } from '../monitoring/fleet-metrics.ts';
import { renderFleetParts } from '../render/index.ts';
import type { RenderedFleet } from '../render/index.ts';
import type { ClusterCapabilities, DesiredObject } from '../render/types.ts';
import { applyIfChanged, applyStatus } from '../runtime/apply.ts';
import type { ObjectCache } from '../runtime/cache.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { describeError, findKubeApiError, isConflict, isInvalid, isNamespaceTerminating, isNotFound } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import { objectKey, type KubeObject, type TypeRef } from '../runtime/object.ts';
import { DEPLOYMENT, POD, isLeavingNode, isTerminating, type DeploymentView, type EndpointSliceView, type NodeView, type PodView } from '../runtime/views.ts';
import { SECRET, refKey } from './kinds.ts';
import { liveBackends, observeComponent, type ObservedComponent } from './observe.ts';
import { repairMayApply, repairPatch } from './repair.ts';
import { deletionStep } from './deletion.ts';
import { ownershipOf } from './ownership.ts';
import { computeStatus, deletingStatus, invalidSpecStatus, type ApplyFailure } from './status.ts';
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
  /**
   * One cache per owned kind the API server serves, keyed by refKey. `complete`: the cache holds every
   * object of the kind in the operator's scope, not only labelled ones, so a miss means no such object.
   */
  owned: Map<string, { ref: TypeRef; cache: ObjectCache<KubeObject>; complete?: boolean }>;
  deployments: ObjectCache<DeploymentView>;
  pods: ObjectCache<PodView>;
  endpointSlices: ObjectCache<EndpointSliceView>;
  /** Nodes (what transform.ts nodeDrainFields keeps); absent when the operator may not read them. */
  nodes?: ObjectCache<NodeView> | undefined;
  capabilities: ClusterCapabilities;
  /** Where the operator's own pods run (for the NetworkPolicies); undefined outside the cluster. */
  operatorNamespace?: string | undefined;
  autoscaler: FleetAutoscaler;
  events: Pick<EventRecorder, 'event'>;
  fleetMetrics: FleetMetrics;
  clock: Clock;
  /** The fast path of load-aware routing (rotation.ts): handed the hot backends after each pass. */
  rotation?: { arm(key: string, hot: string[]): void; forget(key: string): void };
}

/** What one pass reads from the caches about a fleet. */
interface FleetWorld {
  /** The fleet's own pods: those its ReplicaSets created. */
  pods: PodView[];
  deployments: Partial<Record<ComponentName, DeploymentView>>;
  slices: EndpointSliceView[];
  /** A Warning for each pod seen for the first time with the fleet's labels but no ReplicaSet of the fleet as its owner. */
  foreignEvents: PlannedEvent[];
  /** Nodes of the fleet's pods that are being drained. */
  leavingNodes: Set<string>;
}

/** A write that lost to another writer (409) is retried this soon. */
const CONFLICT_RETRY_MS = 1_000;

export class UnmuteDeploymentReconciler {
  readonly #d: ReconcilerDeps;
  /**
   * Key names of Secrets found present, by namespace/name, with when they were read. Autoscaled
   * fleets reconcile every few seconds; re-reading their Secrets each pass would be wasted I/O.
   * Missing Secrets are never remembered, so a fix is seen at the next retry.
   */
  readonly #secretKeysSeen = new Map<string, { keys: string[]; atMs: number }>();
  /** Foreign pods already reported, by uid: each gets one Event, not one per pass. */
  readonly #foreignPodsReported = new Set<string>();
  /**
   * A fleet as our last write of it (finalizer, status) was answered, with the resourceVersions it
   * was written over, kept until the cache shows another version. A pass that starts before the
   * watch delivered our own write (the finalizer's event wakes the next pass at once) would otherwise
   * read the older status and write the same status again. Versions are only compared for equality.
   */
  readonly #ownWrites = new Map<string, { over: Set<string>; object: KubeObject }>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
    const caughtUp = (obj: KubeObject): void => {
      const key = objectKey(obj);
      const own = this.#ownWrites.get(key);
      if (own !== undefined && !own.over.has(obj.metadata.resourceVersion ?? '')) this.#ownWrites.delete(key);
    };
    deps.fleets.addHandler({ onUpdate: (_old, obj) => caughtUp(obj), onDelete: (obj) => this.#ownWrites.delete(objectKey(obj)) });
  }

  /** The newest state of the fleet we know: the cache's, or our own write's answer while the cache lags behind it. */
  #latest(key: string): KubeObject | undefined {
    const cached = this.#d.fleets.get(key);
    const own = this.#ownWrites.get(key);
    if (cached === undefined || own === undefined) return cached;
    return own.over.has(cached.metadata.resourceVersion ?? '') ? own.object : cached;
  }

  /** Remembers the server's answer to a write of the fleet `over` was the state of. */
  #wrote(over: KubeObject, answer: KubeObject): void {
    const key = objectKey(answer);
    const previous = this.#ownWrites.get(key);
    const versions = new Set(previous?.over ?? []);
    versions.add(over.metadata.resourceVersion ?? '');
    if (previous !== undefined) versions.add(previous.object.metadata.resourceVersion ?? '');
    versions.delete(answer.metadata.resourceVersion ?? '');
    // The watch may deliver our write before its answer comes back: then the cache is not behind,
    // and nothing would ever remove the entry (the fleet stays idle), a whole object per fleet.
    const cached = this.#d.fleets.get(key);
    if (cached !== undefined && !versions.has(cached.metadata.resourceVersion ?? '')) {
      this.#ownWrites.delete(key);
      return;
    }
    this.#ownWrites.set(key, { over: versions, object: answer });
  }

  readonly reconcile = async (key: string, ctx: ReconcileContext): Promise<ReconcileResult> => {
    let raw = this.#latest(key);
    if (raw === undefined) {
      // Gone: children go with it through owner references; only in-memory state is ours to drop.
      this.#d.autoscaler.forget(ctx.namespace ?? '', ctx.name);
      this.#d.fleetMetrics.forget(ctx.namespace ?? '', ctx.name);
      this.#d.rotation?.forget(key);
      return;
    }
    const parsed = parseUnmuteDeployment(raw);
    if (isTerminating(raw)) return this.#deleting(raw, parsed.ok ? parsed.fleet : undefined, ctx);
    if (!parsed.ok) return this.#invalid(raw, parsed.problems, ctx);
    const fleet = parsed.fleet;
    raw = await this.#holdFinalizer(raw, ctx);
    const problems = await validateUnmuteDeployment(fleet, (ns, name) => this.#secretKeys(ns, name, ctx.signal));
    if (problems.length > 0) {
      this.#forgetSecrets(fleet.metadata.namespace);
      return this.#invalid(raw, problems, ctx);
    }

    const world = this.#read(fleet);
    const deployedReplicas = Object.fromEntries(Object.entries(world.deployments).map(([c, d]) => [c, d.spec?.replicas]));
    const templateHashes = Object.fromEntries(
      Object.entries(world.deployments).flatMap(([c, d]) => {
        const hash = d.spec?.template.metadata?.annotations?.[ANNOTATION_TEMPLATE_HASH];
        return hash === undefined ? [] : [[c, hash]];
      }),
    );
    const plan = await this.#d.autoscaler.plan(fleet, { pods: world.pods, deployedReplicas, templateHashes, leavingNodes: world.leavingNodes }, ctx.signal);
    await this.#patchPods(fleet, plan.podPatches, ctx);
    await this.#carryOutRollout(fleet, world, plan, ctx);
    const d = plan.decision;
    if (d !== undefined && planActs(plan)) {
      ctx.logger.info({ serving: d.serving, replicas: d.replicas, drain: d.drain, undrain: d.undrain, remove: d.remove, reason: d.reason }, 'scaling decision');
    }

    const parts = renderFleetParts(fleet, { capabilities: this.#d.capabilities, replicas: plan.replicas, operatorNamespace: this.#d.operatorNamespace });
    const { failures, written, conflicts, namespaceTerminating } = await this.#applyChildren(fleet, parts, ctx);
    if (namespaceTerminating) {
      // Nothing can be created in a namespace being deleted, and the fleet goes with it: its
      // deletion (and drain) starts when the namespace controller deletes the custom resource.
      ctx.logger.debug('namespace is being deleted; no children applied');
      return undefined;
    }
    const desired = [...parts.workloads, ...parts.monitoring];
    if (failures.length === 0) await this.#prune(fleet, desired, ctx);

    const components = this.#observe(fleet, world, written);
    const status = this.#status(fleet, world, plan, components, failures);
    const statusResult = await applyStatus(
      this.#d.client,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: fleet.metadata.name, namespace: fleet.metadata.namespace }, status },
      raw,
      { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal },
    );
    if (statusResult.written) this.#wrote(raw, statusResult.object);

    const events = [...plan.events, ...transitionEvents(fleet.status?.conditions ?? [], status.conditions ?? [], plan.decision), ...world.foreignEvents];
    this.#record(raw, events);
    this.#updateFleetMetrics(fleet, status, plan, components);
    this.#d.rotation?.arm(key, plan.hot);
    // A conflict of writers is expected: retry soon, quietly. A name taken by someone else's object
    // waits for a person: look again later, without the error backoff growing to minutes.
    if (conflicts > 0) return { requeueAfterMs: CONFLICT_RETRY_MS };
    const applyFailed = failures.filter((f) => f.reason === 'ApplyFailed');
    if (applyFailed.length > 0) throw new Error(`apply children of ${key}: ${applyFailed.map((f) => `${f.kind} ${f.name}: ${f.message}`).join('; ')}`);
    if (failures.length > 0) return { requeueAfterMs: INVALID_SPEC_RETRY_MS };
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
    const pods: PodView[] = [];
    const foreignEvents: PlannedEvent[] = [];
    for (const pod of this.#d.pods.list({ namespace, labelSelector: fleetSelector(name) })) {
      if (createdByFleet(pod, name)) {
        pods.push(pod);
        continue;
      }
      const uid = pod.metadata.uid ?? pod.metadata.name ?? '';
      if (this.#foreignPodsReported.has(uid)) continue;
      this.#foreignPodsReported.add(uid);
      foreignEvents.push({
        type: 'Warning',
        reason: 'ForeignPod',
        message: `pod ${pod.metadata.name} carries this fleet's labels but no ReplicaSet of the fleet owns it: not counted, never drained; remove its labels or delete it`,
      });
    }
    const leavingNodes = new Set<string>();
    for (const pod of pods) {
      const node = pod.spec?.nodeName;
      if (node === undefined || leavingNodes.has(node)) continue;
      const seen = this.#d.nodes?.getByName(undefined, node);
      if (seen !== undefined && isLeavingNode(seen)) leavingNodes.add(node);
    }
    return { pods, deployments, slices: this.#d.endpointSlices.list({ namespace, labelSelector: fleetSelector(name) }), foreignEvents, leavingNodes };
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
    applyFailures: ApplyFailure[],
  ): UnmuteDeploymentStatus {
    const { name } = fleet.metadata;
    const now = new Date(this.#d.clock.now());
    const d = plan.decision;
    const scaled = d !== undefined && (d.direction !== 'none' || d.remove.length > 0);
    return computeStatus({
      fleet,
      now,
      applyFailures,
      components,
      backendSelector: Object.entries(selectorLabels(name, SESSIONS_COMPONENT))
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      backendPods: liveBackends(world.pods),
      ...(d === undefined
        ? {}
        : { autoscaling: { decision: d, readErrors: plan.readErrors, ...(scaled ? { lastScale: { time: now.toISOString().replace(/\.\d+Z$/, 'Z'), reason: d.reason } } : {}) } }),
      sessions: plan.sessions,
      drainingPods: plan.draining.map((d) => d.pod).sort(),
      rollouts: plan.rollout.components,
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
      this.#wrote(raw, result.object);
      ctx.logger.info({ problems }, 'invalid spec: nothing applied');
      this.#d.events.event(raw, 'Warning', 'InvalidSpec', problems.join('; '));
    }
    return { requeueAfterMs: INVALID_SPEC_RETRY_MS };
  }

  /** Pod labels and annotations (drain state), before any Deployment changes. */
  /** Lifts GPU-budget gates and deletes old pods drained first, as the rollout plan says. */
  async #carryOutRollout(fleet: UnmuteDeployment, world: FleetWorld, plan: FleetPlan, ctx: ReconcileContext): Promise<void> {
    const { namespace } = fleet.metadata;
    const write = { signal: ctx.signal, fieldManager: FIELD_MANAGER };
    for (const { name, uid } of plan.rollout.deletePods) {
      try {
        // The uid precondition: never a new pod that took the name meanwhile.
        await this.#d.client.delete(POD, name, namespace, { signal: ctx.signal, preconditions: { uid } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    }
    for (const name of plan.rollout.ungate) {
      const gates = world.pods.find((p) => p.metadata.name === name)?.spec?.schedulingGates ?? [];
      const kept = gates.filter((g) => g.name !== SCHEDULING_GATE_GPU_BUDGET);
      try {
        // The test makes the write lose to any other change of the gates meanwhile (the next pass looks again).
        await this.#d.client.patch(POD, name, namespace, [
          { op: 'test', path: '/spec/schedulingGates', value: gates },
          { op: 'replace', path: '/spec/schedulingGates', value: kept },
        ], 'json', write);
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err) && !isInvalid(err)) throw err;
      }
    }
    if (plan.rollout.ungate.length > 0) ctx.logger.info({ pods: plan.rollout.ungate, gpusHeld: plan.rollout.gpus.held }, 'GPU budget: gates lifted');
  }

  async #patchPods(fleet: UnmuteDeployment, patches: PodPatch[], ctx: ReconcileContext): Promise<void> {
    for (const patch of patches) {
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
  }

  /**
   * Applies every desired object that differs from what exists, and goes on past failures so that
   * status can name every object that is missing, not only the first. An object that exists but is
   * not this fleet's (a name collision) is left untouched. Returns the objects written, as the
   * server answered.
   */
  async #applyChildren(
    fleet: UnmuteDeployment,
    parts: RenderedFleet,
    ctx: ReconcileContext,
  ): Promise<{ failures: ApplyFailure[]; written: Map<string, KubeObject>; conflicts: number; namespaceTerminating: boolean }> {
    const written = new Map<string, KubeObject>();
    const failures: ApplyFailure[] = [];
    let conflicts = 0;
    const objects = [...parts.workloads.map((o) => ({ o, monitoring: false })), ...parts.monitoring.map((o) => ({ o, monitoring: true }))];
    for (const { o: obj, monitoring } of objects) {
      const ref = { apiVersion: obj.apiVersion, kind: obj.kind };
      const { name, namespace } = obj.metadata;
      try {
        // A cache of labelled objects only may miss a foreign object of the same name, which a
        // blind apply would take over: then ask the API server. A complete cache's miss is final.
        const owned = this.#d.owned.get(refKey(ref));
        const cached = owned?.cache.getByName(namespace, name);
        const observed = cached ?? (owned?.complete === true ? undefined : await this.#d.client.getIfExists(ref, name, namespace, { signal: ctx.signal }));
        if (observed !== undefined) {
          const ownership = ownershipOf(observed, fleet);
          if (!ownership.ours) {
            failures.push({ kind: obj.kind, name, reason: 'NameConflict', message: `exists and is not this fleet's: ${ownership.why}`, monitoring });
            continue;
          }
        }
        // A hand edit SSA cannot revert alone (repair.ts) is taken out first; the apply then always runs.
        // Caches keep no lists to repair (metadata only): managedFields say when the object is worth reading.
        const whole = cached !== undefined && repairMayApply(obj, cached, FIELD_MANAGER) ? await this.#d.client.getIfExists(ref, name, namespace, { signal: ctx.signal }) : observed;
        const repair = repairPatch(obj, whole, FIELD_MANAGER);
        if (repair !== undefined) {
          ctx.logger.info({ kind: obj.kind, name, paths: repair.filter((op) => op.op === 'replace').map((op) => op.path) }, 'removing hand-edited list elements that block the apply');
          await this.#d.client.patch(ref, name, namespace, repair, 'json', { fieldManager: REPAIR_FIELD_MANAGER, signal: ctx.signal });
        }
        const result = await applyIfChanged(this.#d.client, obj, repair === undefined ? observed : undefined, {
          fieldManager: FIELD_MANAGER,
          hashAnnotation: ANNOTATION_APPLIED_HASH,
          // Of what a write answers, only Deployments are read (their rollout, in status).
          metadataOnly: ref.kind !== DEPLOYMENT.kind,
          logger: ctx.logger,
          signal: ctx.signal,
        });
        if (result.written) written.set(`${obj.kind}/${name}`, result.object);
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        if (isConflict(err)) {
          conflicts++;
          continue;
        }
        if (isNamespaceTerminating(err)) return { failures, written, conflicts, namespaceTerminating: true };
        const apiErr = findKubeApiError(err);
        failures.push({ kind: obj.kind, name, reason: 'ApplyFailed', message: apiErr?.message ?? describeError(err), monitoring });
      }
    }
    return { failures, written, conflicts, namespaceTerminating: false };
  }

  /** Deleting a fleet drains it first (deletion.ts); the finalizer goes when it is done. */
  async #deleting(raw: KubeObject, fleet: UnmuteDeployment | undefined, ctx: ReconcileContext): Promise<ReconcileResult> {
    if (!(raw.metadata.finalizers ?? []).includes(FINALIZER_DRAIN)) return;
    const deletedAtMs = Date.parse(String(raw.metadata.deletionTimestamp));
    if (fleet === undefined) {
      // A spec that no longer parses cannot be drained by it: let the deletion go ahead.
      await this.#releaseFinalizer(raw, ctx);
      return;
    }
    const world = this.#read(fleet);
    const sessions = await this.#d.autoscaler.observeSessions(fleet, world.pods, ctx.signal);
    const step = deletionStep(fleet, sessions.pods, deletedAtMs, this.#d.clock.now());
    if (step.done) {
      this.#d.events.event(raw, step.reason === 'DrainTimeout' ? 'Warning' : 'Normal', `Deletion${step.reason}`, step.message);
      await this.#releaseFinalizer(raw, ctx);
      return;
    }
    const nowIso = new Date(this.#d.clock.now()).toISOString();
    await this.#patchPods(fleet, drainPatches({ drain: step.drain, undrain: [], remove: [] }, sessions.pods, nowIso), ctx);
    const status = deletingStatus(fleet.status ?? {}, fleet.metadata.generation ?? 0, step.message, new Date(this.#d.clock.now()));
    const result = await applyStatus(
      this.#d.client,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: fleet.metadata.name, namespace: fleet.metadata.namespace }, status },
      raw,
      { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal },
    );
    if (step.drain.length > 0 || result.written) this.#d.events.event(raw, 'Normal', 'DeletionDraining', step.message);
    return { requeueAfterMs: step.requeueAfterMs };
  }

  /** The drain finalizer on every fleet, applied as the operator's own field; returns the fleet as it is now. */
  async #holdFinalizer(raw: KubeObject, ctx: ReconcileContext): Promise<KubeObject> {
    if ((raw.metadata.finalizers ?? []).includes(FINALIZER_DRAIN)) return raw;
    const answer = await this.#d.client.apply(
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: raw.metadata.name, namespace: raw.metadata.namespace, finalizers: [FINALIZER_DRAIN] } },
      { fieldManager: FIELD_MANAGER, force: true, signal: ctx.signal },
    );
    this.#wrote(raw, answer);
    return answer;
  }

  async #releaseFinalizer(raw: KubeObject, ctx: ReconcileContext): Promise<void> {
    try {
      // Applying no finalizers gives up the one this manager owns; other managers' stay.
      await this.#d.client.apply(
        { apiVersion: API_VERSION, kind: KIND, metadata: { name: raw.metadata.name, namespace: raw.metadata.namespace, finalizers: [] } },
        { fieldManager: FIELD_MANAGER, force: true, signal: ctx.signal },
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
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
    this.#d.fleetMetrics.update({
      namespace,
      name,
      components: Object.fromEntries(
        Object.entries(observed).map(([c, o]) => [c, { desired: o.desiredReplicas, ready: o.readyReplicas, gpusRequested: o.gpusPerPod * o.desiredReplicas, pendingPods: o.pendingPods }]),
      ),
      sessions: { active: status.sessions?.active ?? 0, capacity: status.sessions?.capacity ?? 0, unknownPods: status.sessions?.unknownPods ?? 0, free: status.sessions?.free ?? 0 },
      drainingPods: plan.draining.map((d) => ({ component: d.component, pod: d.pod, sinceSeconds: Math.max(0, (now - (d.sinceMs ?? now)) / 1000) })),
      ...(fleet.spec.gpu.maxTotal === undefined ? {} : { gpuBudget: fleet.spec.gpu.maxTotal }),
      autoscalerAtMax: plan.decision?.limited !== undefined && plan.decision.limited.reason !== 'GpuPodsPending',
    });
  }
}

/** Created by one of the fleet's ReplicaSets (`<fleet>-<component>-<hash>`), not a pod made by hand with its labels. */
export function createdByFleet(pod: PodView, fleet: string): boolean {
  const component = pod.metadata.labels?.[LABEL_APP_COMPONENT];
  const owner = (pod.metadata.ownerReferences ?? []).find((r) => r.controller === true);
  return component !== undefined && owner?.kind === 'ReplicaSet' && owner.name.startsWith(`${fleet}-${component}-`);
}
