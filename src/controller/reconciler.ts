// The UnmuteDeployment reconcile: read (cache) → validate → autoscale → render → apply → prune →
// status. Level-triggered: it looks only at what the caches say now, never at which event woke it.
import { API_VERSION, KIND, type UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { drainPatches } from '../autoscaler/drain.ts';
import type { FleetAutoscaler, SessionsObservation } from '../autoscaler/fleet-autoscaler.ts';
import type { PolicyDecision } from '../autoscaler/policy.ts';
import { baselineBackendReplicas } from '../autoscaler/replicas.ts';
import type { FleetMetrics } from '../monitoring/fleet-metrics.ts';
import { presentComponents, renderAll } from '../render/index.ts';
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_SERVING, MANAGED_BY, childName, selectorLabels, type Component } from '../render/labels.ts';
import type { KubeObject as RenderedObject } from '../render/types.ts';
import { applyIfChanged, applyStatus } from '../runtime/apply.ts';
import type { ObjectCache } from '../runtime/cache.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ReconcileContext, ReconcileResult } from '../runtime/controller.ts';
import { findKubeApiError, isConflict, isNotFound, describeError } from '../runtime/errors.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../runtime/object.ts';
import { refKey, DEPLOYMENT, POD, SECRET } from './kinds.ts';
import { drainingPodNames, isTerminating, isUnschedulable, observeComponent, podPhase, podsOf } from './observe.ts';
import { CONDITION_READY, computeStatus, type ObservedComponent } from './status.ts';
import { repairPatch } from './repair.ts';
import { parseUnmuteDeployment, validateUnmuteDeployment } from './validate.ts';

export const FIELD_MANAGER = 'unmute-operator';
/** Manager of the rare JSON patches that undo hand edits SSA cannot (repair.ts); never applies. */
export const REPAIR_FIELD_MANAGER = 'unmute-operator-repair';
/** Sessions are refreshed this often in status when autoscaling is off. */
const STATUS_REFRESH_MS = 30_000;
/** A spec referring to a missing Secret is looked at again this often (Secrets are not watched). */
const INVALID_SPEC_RETRY_MS = 30_000;
/** How long a Secret found present is trusted before it is read again. */
const SECRET_RECHECK_MS = 60_000;

export interface ClusterFacts {
  prometheusOperator: boolean;
  gatewayApi: boolean;
  grafanaOperator: boolean;
}

export interface ReconcilerDeps {
  client: KubeClient;
  unmuteDeployments: ObjectCache<KubeObject>;
  /** One cache per owned kind the API server serves, keyed by refKey. */
  owned: Map<string, { ref: TypeRef; cache: ObjectCache<KubeObject> }>;
  pods: ObjectCache<KubeObject>;
  endpointSlices: ObjectCache<KubeObject>;
  facts: ClusterFacts;
  autoscaler: FleetAutoscaler;
  events: EventRecorder;
  fleetMetrics: FleetMetrics;
  clock: Clock;
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
    const raw = this.#d.unmuteDeployments.get(key);
    if (raw === undefined) {
      // Gone: children go with it through owner references; only in-memory state is ours to drop.
      this.#d.autoscaler.forget(ctx.namespace ?? '', ctx.name);
      this.#d.fleetMetrics.forget(ctx.namespace ?? '', ctx.name);
      return;
    }
    if (isTerminating(raw)) return;

    const parsed = parseUnmuteDeployment(raw);
    if (!parsed.ok) return this.#invalid(raw, undefined, parsed.problems, ctx);
    const cr = parsed.cr;
    const problems = await validateUnmuteDeployment(cr, (ns, name) => this.#secretKeys(ns, name, ctx.signal));
    if (problems.length > 0) {
      for (const k of [...this.#secretKeysSeen.keys()]) if (k.startsWith(`${cr.metadata.namespace}/`)) this.#secretKeysSeen.delete(k);
      return this.#invalid(raw, cr, problems, ctx);
    }

    const { namespace, name } = cr.metadata;
    const pods = this.#d.pods.list({ namespace, labelSelector: `${LABEL_INSTANCE}=${name},${LABEL_MANAGED_BY}=${MANAGED_BY}` });
    const deploymentOf = (c: Component) => this.#cached(DEPLOYMENT, namespace, childName(name, c)) as { spec?: { replicas?: number } } | undefined;
    const backendDeployment = deploymentOf('backend');

    // Autoscale: sessions are read every pass (status shows them); decisions only when enabled.
    const sessions = await this.#d.autoscaler.observe(cr, pods as never, ctx.signal);
    let decision: PolicyDecision | undefined;
    let backendReplicas = baselineBackendReplicas(cr, backendDeployment?.spec?.replicas);
    let followerReplicas: Partial<Record<'stt' | 'tts' | 'llm', number>> | undefined;
    if (cr.spec.autoscaling.enabled) {
      const pendingGpuPods = pods.filter((p) => isUnschedulable(p) && p.metadata.labels?.[LABEL_COMPONENT] !== 'backend').length;
      decision = this.#d.autoscaler.decide(cr, sessions, {
        backendReplicas,
        followers: {
          stt: deploymentOf('stt')?.spec?.replicas,
          tts: deploymentOf('tts')?.spec?.replicas,
          llm: deploymentOf('llm')?.spec?.replicas,
        },
        pendingGpuPods,
      });
      await this.#applyDrain(cr, decision, sessions, ctx);
      backendReplicas = decision.replicas;
      const f = cr.spec.autoscaling.followers;
      followerReplicas = {
        ...(f.stt ? { stt: decision.followers.stt } : {}),
        ...(f.tts ? { tts: decision.followers.tts } : {}),
        ...(f.llm && cr.spec.llm.inCluster ? { llm: decision.followers.llm } : {}),
      };
    }

    const desired = renderAll(cr, {
      prometheusOperatorAvailable: this.#d.facts.prometheusOperator,
      gatewayApiAvailable: this.#d.facts.gatewayApi,
      grafanaOperatorAvailable: this.#d.facts.grafanaOperator,
      backendReplicas,
      followerReplicas,
    });
    const { error: applyError, written } = await this.#applyChildren(desired, ctx);
    if (applyError === undefined) await this.#prune(cr, desired, ctx);

    const components: Partial<Record<Component, ObservedComponent>> = {};
    const slices = this.#d.endpointSlices.list({ namespace, labelSelector: `${LABEL_INSTANCE}=${name}` });
    for (const c of presentComponents(cr)) {
      // A Deployment written in this pass is newer than the cached copy: its rollout has not been seen yet.
      const fresh = written.get(`Deployment/${childName(name, c)}`);
      components[c] = observeComponent(cr, c, fresh ?? this.#cached(DEPLOYMENT, namespace, childName(name, c)), pods, slices);
    }
    const draining = drainingPodNames(pods);
    const now = new Date(this.#d.clock.now());
    const previousScale = cr.status?.lastScaleTime ? { time: cr.status.lastScaleTime, reason: cr.status.lastScaleReason ?? '' } : undefined;
    const scaled = decision !== undefined && (decision.direction !== 'none' || decision.remove.length > 0);
    const status = computeStatus({
      cr,
      now,
      applyError,
      components,
      backendSelector: Object.entries(selectorLabels(name, 'backend')).map(([k, v]) => `${k}=${v}`).join(','),
      backendPods: podsOf(pods, 'backend').filter((p) => !isTerminating(p)).length,
      autoscaling:
        decision === undefined
          ? undefined
          : {
              decision,
              scrapeErrors: [...sessions.errors.entries()].map(([pod, err]) => `${pod}: ${err}`),
              lastScale: scaled ? { time: now.toISOString().replace(/\.\d+Z$/, 'Z'), reason: decision.reason } : previousScale,
            },
      sessionsWithoutAutoscaling: decision === undefined ? sessionsSummary(cr, sessions, pods) : undefined,
      drainingPods: draining,
      monitoring: { enabled: cr.spec.monitoring.enabled, prometheusOperator: this.#d.facts.prometheusOperator },
    });
    await applyStatus(
      this.#d.client,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace }, status: status as Record<string, unknown> },
      raw,
      { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal },
    );

    this.#recordTransitions(raw, cr, status.conditions ?? [], decision);
    this.#updateFleetMetrics(cr, components, status, sessions, decision, draining, pods);
    if (applyError !== undefined) throw new Error(`apply children of ${key}: ${applyError}`);
    if (decision !== undefined) return { requeueAfterMs: cr.spec.autoscaling.intervalSeconds * 1000 };
    return sessions.pods.some((p) => p.phase === 'Running') ? { requeueAfterMs: STATUS_REFRESH_MS } : undefined;
  };

  #cached(ref: TypeRef, namespace: string, name: string): KubeObject | undefined {
    return this.#d.owned.get(refKey(ref))?.cache.getByName(namespace, name);
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

  async #invalid(raw: KubeObject, cr: UnmuteDeployment | undefined, problems: string[], ctx: ReconcileContext): Promise<ReconcileResult> {
    const base = cr ?? ({ metadata: raw.metadata, spec: {}, status: raw['status'] } as unknown as UnmuteDeployment);
    const status = computeStatus({
      cr: base,
      now: new Date(this.#d.clock.now()),
      invalidSpec: problems,
      components: {},
      backendSelector: '',
      backendPods: 0,
      drainingPods: [],
      monitoring: { enabled: false, prometheusOperator: this.#d.facts.prometheusOperator },
    });
    const result = await applyStatus(
      this.#d.client,
      { apiVersion: API_VERSION, kind: KIND, metadata: { name: raw.metadata.name ?? '', namespace: raw.metadata.namespace }, status: status as Record<string, unknown> },
      raw,
      { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal },
    );
    if (result.written) {
      ctx.logger.info({ problems }, 'invalid spec: nothing applied');
      this.#d.events.event(raw, 'Warning', 'InvalidSpec', problems.join('; '));
    }
    return { requeueAfterMs: INVALID_SPEC_RETRY_MS };
  }

  /** Pod labels and annotations first, so the ReplicaSet sees the deletion costs before replicas drop. */
  async #applyDrain(cr: UnmuteDeployment, decision: PolicyDecision, sessions: SessionsObservation, ctx: ReconcileContext): Promise<void> {
    const nowIso = new Date(this.#d.clock.now()).toISOString();
    for (const patch of drainPatches(decision, sessions.pods, nowIso)) {
      try {
        await this.#d.client.patch(POD, patch.name, cr.metadata.namespace, { metadata: { labels: patch.labels, annotations: patch.annotations } }, 'merge', {
          signal: ctx.signal,
          fieldManager: FIELD_MANAGER,
        });
      } catch (err) {
        // The pod went away meanwhile: nothing left to drain.
        if (!isNotFound(err)) throw err;
      }
    }
    const regarding = { apiVersion: API_VERSION, kind: KIND, metadata: cr.metadata } as KubeObject;
    if (decision.drain.length > 0) {
      this.#d.events.event(regarding, 'Normal', 'DrainStarted', `taking ${decision.drain.join(', ')} out of service: ${decision.reason}`);
      this.#d.fleetMetrics.recordScaleEvent(cr.metadata.namespace, cr.metadata.name, 'backend', 'down', 'drain');
    }
    if (decision.remove.length > 0) {
      this.#d.events.event(regarding, 'Normal', 'DrainCompleted', `removing drained backend(s) ${decision.remove.join(', ')}`);
    }
    if (decision.direction === 'up') {
      this.#d.events.event(regarding, 'Normal', 'ScaledUp', `backends → ${decision.serving}: ${decision.reason}`);
      this.#d.fleetMetrics.recordScaleEvent(cr.metadata.namespace, cr.metadata.name, 'backend', 'up', decision.undrain.length > 0 ? 'undrain' : 'load');
    }
    if (decision.drain.length + decision.undrain.length + decision.remove.length > 0 || decision.direction !== 'none') {
      ctx.logger.info(
        { serving: decision.serving, replicas: decision.replicas, drain: decision.drain, undrain: decision.undrain, remove: decision.remove, reason: decision.reason },
        'scaling decision',
      );
    }
  }

  /** Applies every desired object that differs from the cache. Returns the first error and the objects written, as the server answered. */
  async #applyChildren(desired: RenderedObject[], ctx: ReconcileContext): Promise<{ error: string | undefined; written: Map<string, KubeObject> }> {
    const written = new Map<string, KubeObject>();
    for (const obj of desired) {
      const ref = { apiVersion: obj.apiVersion, kind: obj.kind };
      const observed = this.#cached(ref, obj.metadata.namespace ?? '', obj.metadata.name);
      try {
        // A hand edit SSA cannot revert alone (repair.ts) is taken out first; the apply then always runs.
        const repair = repairPatch(obj as KubeObject, observed, FIELD_MANAGER);
        if (repair !== undefined) {
          ctx.logger.info({ kind: obj.kind, name: obj.metadata.name, paths: repair.filter((o) => o.op === 'replace').map((o) => o.path) }, 'removing hand-edited list elements that block the apply');
          await this.#d.client.patch(ref, obj.metadata.name, obj.metadata.namespace, repair, 'json', { fieldManager: REPAIR_FIELD_MANAGER, signal: ctx.signal });
        }
        const result = await applyIfChanged(this.#d.client, obj as KubeObject, repair === undefined ? observed : undefined, { fieldManager: FIELD_MANAGER, logger: ctx.logger, signal: ctx.signal });
        if (result.written) written.set(`${obj.kind}/${obj.metadata.name}`, result.object as KubeObject);
      } catch (err) {
        if (isConflict(err)) throw err;
        const apiErr = findKubeApiError(err);
        return { error: `${obj.kind} ${obj.metadata.name}: ${apiErr?.message ?? describeError(err)}`, written };
      }
    }
    return { error: undefined, written };
  }

  /** Deletes children this CR no longer implies (a component removed from the spec). */
  async #prune(cr: UnmuteDeployment, desired: RenderedObject[], ctx: ReconcileContext): Promise<void> {
    const wanted = new Set(desired.map((o) => `${o.apiVersion}/${o.kind}/${o.metadata.name}`));
    for (const { ref, cache } of this.#d.owned.values()) {
      for (const obj of cache.list({ namespace: cr.metadata.namespace, labelSelector: `${LABEL_INSTANCE}=${cr.metadata.name}` })) {
        const controlled = (obj.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === cr.metadata.uid);
        if (!controlled || wanted.has(`${ref.apiVersion}/${ref.kind}/${obj.metadata.name}`)) continue;
        ctx.logger.info({ kind: ref.kind, name: obj.metadata.name }, 'deleting object the spec no longer implies');
        try {
          await this.#d.client.delete(ref, obj.metadata.name ?? '', cr.metadata.namespace, { propagationPolicy: 'Background', preconditions: { uid: obj.metadata.uid } });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
  }

  #recordTransitions(raw: KubeObject, cr: UnmuteDeployment, conditions: { type: string; status: string; reason: string; message: string }[], decision: PolicyDecision | undefined): void {
    const before = (cr.status?.conditions ?? []).find((c) => c.type === CONDITION_READY);
    const after = conditions.find((c) => c.type === CONDITION_READY);
    if (after !== undefined && (before?.status !== after.status || before.reason !== after.reason)) {
      this.#d.events.event(raw, after.status === 'True' ? 'Normal' : 'Warning', after.reason, after.message || after.reason);
    }
    if (decision === undefined) return;
    const wasAvailable = (cr.status?.conditions ?? []).find((c) => c.type === 'MetricsAvailable')?.status !== 'False';
    if (wasAvailable && !decision.metricsAvailable) {
      this.#d.events.event(raw, 'Warning', 'MetricsUnavailable', `${decision.sessions.unknownPods} backend(s) without a fresh session count: scale-down held`);
    }
    const wasLimited = (cr.status?.conditions ?? []).find((c) => c.type === 'ScalingLimited');
    if (decision.limited && (wasLimited?.status !== 'True' || wasLimited.reason !== decision.limited.reason)) {
      this.#d.events.event(raw, 'Warning', 'ScalingLimited', decision.limited.message);
    }
  }

  #updateFleetMetrics(
    cr: UnmuteDeployment,
    components: Partial<Record<Component, ObservedComponent>>,
    status: { sessions?: { active?: number; capacity?: number; unknownPods?: number } },
    sessions: SessionsObservation,
    decision: PolicyDecision | undefined,
    draining: string[],
    pods: KubeObject[],
  ): void {
    const now = this.#d.clock.now();
    const since = new Map(sessions.pods.map((p) => [p.name, p.drainingSinceMs]));
    this.#d.fleetMetrics.update({
      namespace: cr.metadata.namespace,
      name: cr.metadata.name,
      components: Object.fromEntries(
        Object.entries(components).map(([c, o]) => [
          c,
          {
            desired: o.desiredReplicas,
            ready: o.readyReplicas,
            gpusRequested: o.gpusPerPod * o.desiredReplicas,
            pendingPods: podsOf(pods, c as Component).filter((p) => podPhase(p) === 'Pending').length,
          },
        ]),
      ),
      sessions: { active: status.sessions?.active ?? 0, capacity: status.sessions?.capacity ?? 0, unknownPods: status.sessions?.unknownPods ?? 0 },
      drainingPods: draining.map((pod) => ({ pod, sinceSeconds: Math.max(0, (now - (since.get(pod) ?? now)) / 1000) })),
      ...(cr.spec.gpu.maxTotal === undefined ? {} : { gpuBudget: cr.spec.gpu.maxTotal }),
      autoscalerAtMax: decision?.limited !== undefined && decision.limited.reason !== 'GpuPodsPending',
    });
  }
}

function sessionsSummary(cr: UnmuteDeployment, sessions: SessionsObservation, pods: KubeObject[]) {
  const serving = podsOf(pods, 'backend').filter(
    (p) => !isTerminating(p) && podPhase(p) === 'Running' && p.metadata.labels?.[LABEL_SERVING] === 'true',
  ).length;
  return { active: sessions.active, capacity: serving * cr.spec.backend.maxSessionsPerPod, unknownPods: sessions.unknownPods };
}

