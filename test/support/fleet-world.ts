// A filled world for fast controller tests (cert-manager's context-builder habit): real caches
// holding the objects a case needs, a recording API client that answers like the API server for
// the calls a reconcile makes, a load source with fixed readings, and the real reconciler.
// Tests assert the resulting writes, status and events; no cluster is involved.
import { Registry } from 'prom-client';
import { ANNOTATION_TEMPLATE_HASH, childName, componentLabels, FINALIZER_DRAIN, fleetLabels, LABEL_SERVING, SCHEDULING_GATE_GPU_BUDGET } from '../../src/api/v1alpha1/labels.ts';
import type { ComponentName } from '../../src/api/v1alpha1/components.ts';
import { FleetAutoscaler } from '../../src/autoscaler/fleet-autoscaler.ts';
import type { LoadReading, LoadSource, ReadTarget } from '../../src/autoscaler/readings.ts';
import { OWNED_KINDS, OPTIONAL_OWNED_KINDS, refKey } from '../../src/controller/kinds.ts';
import { FleetMetrics } from '../../src/monitoring/fleet-metrics.ts';
import type { ClusterCapabilities } from '../../src/render/types.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { UnmuteDeploymentReconciler, type FleetClient } from '../../src/controller/reconciler.ts';
import { ObjectCache } from '../../src/runtime/cache.ts';
import type { ReconcileContext, ReconcileResult } from '../../src/runtime/controller.ts';
import { KubeApiError } from '../../src/runtime/errors.ts';
import type { ApplyOptions, DeleteOptions, PatchType, RequestOptions, WriteOptions } from '../../src/runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../../src/runtime/object.ts';
import type { DeploymentView, EndpointSliceView, PodView } from '../../src/runtime/views.ts';
import { aRawUnmuteDeployment } from './factories.ts';

export interface Write {
  verb: 'apply' | 'patch' | 'delete';
  kind: string;
  name: string;
  subresource?: string;
  body?: unknown;
  patchType?: PatchType;
}

/** Answers the reconcile's calls as the API server would, and records them in order. */
export class RecordingClient implements FleetClient {
  readonly writes: Write[] = [];
  readonly secrets = new Map<string, Record<string, string>>();
  /** Objects the API server has that the caches do not (no operator labels), by `Kind/name`. */
  readonly uncached = new Map<string, KubeObject>();
  /** Makes an apply of this `Kind/name` fail with the given API error. */
  readonly failApply = new Map<string, KubeApiError>();
  #resourceVersion = 100;
  /** The last answer per `Kind/name`, while the cache still holds the version it was written over. */
  readonly #answers = new Map<string, { over: string | undefined; object: KubeObject }>();
  readonly #current: (kind: string, name: string) => KubeObject | undefined;

  /** `current` finds the object as the cache holds it: the server's answer keeps its status. */
  constructor(current: (kind: string, name: string) => KubeObject | undefined) {
    this.#current = current;
  }

  async apply<T extends KubeObject = KubeObject>(obj: KubeObject, options: ApplyOptions): Promise<T> {
    const name = obj.metadata.name ?? '';
    const failure = this.failApply.get(`${obj.kind}/${name}`);
    if (failure !== undefined) throw failure;
    this.writes.push({ verb: 'apply', kind: obj.kind, name, ...(options.subresource ? { subresource: options.subresource } : {}), body: obj });
    // Like the server, the answer is the whole object: what exists (as last answered, else as
    // cached) with the applied fields over it. No managedFields: the next pass writes again.
    const key = `${obj.kind}/${name}`;
    const cached = this.#current(obj.kind, name);
    const answered = this.#answers.get(key);
    const current = answered !== undefined && cached !== undefined && answered.over === cached.metadata.resourceVersion ? answered.object : cached;
    const status = options.subresource === 'status' ? obj['status'] : current?.['status'];
    const { metadata: appliedMetadata, ...applied } = options.subresource === 'status' ? { metadata: {} } : obj;
    const answer = {
      ...current,
      ...applied,
      ...(status === undefined ? {} : { status }),
      metadata: { ...current?.metadata, ...appliedMetadata, name, resourceVersion: String(++this.#resourceVersion), generation: current?.metadata.generation ?? 1 },
    } as KubeObject;
    if (cached !== undefined) this.#answers.set(key, { over: cached.metadata.resourceVersion, object: answer });
    return answer as T;
  }

  async patch<T extends KubeObject = KubeObject>(ref: TypeRef, name: string, _ns: string | undefined, body: unknown, type: PatchType, _o?: WriteOptions): Promise<T> {
    this.writes.push({ verb: 'patch', kind: ref.kind, name, body, patchType: type });
    return { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name } } as T;
  }

  async delete(ref: TypeRef, name: string, _ns?: string, _o?: DeleteOptions): Promise<void> {
    this.writes.push({ verb: 'delete', kind: ref.kind, name });
  }

  async getIfExists<T extends KubeObject = KubeObject>(ref: TypeRef, name: string, namespace?: string, _o?: RequestOptions): Promise<T | undefined> {
    this.reads.push(`${ref.kind}/${name}`);
    if (ref.kind !== 'Secret') return this.uncached.get(`${ref.kind}/${name}`) as T | undefined;
    const data = this.secrets.get(`${namespace}/${name}`);
    return data === undefined ? undefined : ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, data } as unknown as T);
  }

  /** `Kind/name` of every read, in order (the reconcile reads only what its caches cannot tell). */
  readonly reads: string[] = [];

  applied(kind: string, name?: string): KubeObject[] {
    return this.writes.filter((w) => w.verb === 'apply' && w.kind === kind && !w.subresource && (name === undefined || w.name === name)).map((w) => w.body as KubeObject);
  }

  /** Writes other than the fleet's own finalizer and status: what the pass did to the fleet's objects. */
  childWrites(): Write[] {
    return this.writes.filter((w) => w.kind !== 'UnmuteDeployment');
  }

  /** The last status written to the fleet, if any. */
  status(): Record<string, unknown> | undefined {
    const w = this.writes.filter((x) => x.subresource === 'status').at(-1);
    return (w?.body as { status?: Record<string, unknown> } | undefined)?.status;
  }
}

/** Fixed readings per pod; a pod with an Error value fails its read. */
export class FixedLoadSource implements LoadSource {
  readonly values = new Map<string, number | Error>();
  readonly #now: () => number;
  constructor(now: () => number) {
    this.#now = now;
  }
  async read(targets: ReadTarget[]) {
    const readings = new Map<string, LoadReading>();
    const errors = new Map<string, string>();
    for (const t of targets) {
      const v = this.values.get(t.pod);
      if (v === undefined) errors.set(t.pod, 'no reading configured');
      else if (v instanceof Error) errors.set(t.pod, v.message);
      else readings.set(t.pod, { load: v, observedAtMs: this.#now() });
    }
    return { readings, errors };
  }
}

export interface RecordedEvent {
  regarding: string;
  type: string;
  reason: string;
  message: string;
}

/** Components whose Service selects serving pods (their descriptors say selectsServing). */
const DRAINABLE = new Set<ComponentName>(['backend', 'stt', 'tts', 'llm']);

export const NAMESPACE = 'voice';
export const NAME = 'demo';
export const UID = '11111111-2222-3333-4444-555555555555';

export class FleetWorld {
  nowMs = Date.UTC(2026, 0, 1);
  readonly clock = { now: () => this.nowMs, schedule: () => () => undefined };
  readonly client = new RecordingClient((kind, name) =>
    kind === 'Deployment' ? this.deployments.getByName(NAMESPACE, name) : kind === 'UnmuteDeployment' ? this.fleets.getByName(NAMESPACE, name) : undefined,
  );
  readonly loads = new FixedLoadSource(() => this.nowMs);
  readonly events: RecordedEvent[] = [];
  readonly registry = new Registry();
  readonly fleets = new ObjectCache<KubeObject>({ logger: silentLogger() });
  readonly deployments = new ObjectCache<DeploymentView>({ logger: silentLogger() });
  readonly pods = new ObjectCache<PodView>({ logger: silentLogger() });
  readonly slices = new ObjectCache<EndpointSliceView>({ logger: silentLogger() });
  readonly owned = new Map<string, { ref: TypeRef; cache: ObjectCache<KubeObject> }>();
  readonly reconciler: UnmuteDeploymentReconciler;
  #fleetVersion = 0;
  #objects = { fleets: [] as KubeObject[], deployments: [] as DeploymentView[], pods: [] as PodView[], owned: new Map<string, KubeObject[]>() };

  constructor(capabilities: ClusterCapabilities = { prometheusOperator: false, gatewayApi: false, httpRouteTimeouts: false, grafanaOperator: false, nodeDrains: true }) {
    for (const ref of [...OWNED_KINDS, ...OPTIONAL_OWNED_KINDS]) {
      const cache = ref.kind === 'Deployment' ? (this.deployments as ObjectCache<KubeObject>) : new ObjectCache<KubeObject>({ logger: silentLogger() });
      this.owned.set(refKey(ref), { ref, cache });
    }
    this.reconciler = new UnmuteDeploymentReconciler({
      client: this.client,
      fleets: this.fleets,
      owned: this.owned,
      deployments: this.deployments,
      pods: this.pods,
      endpointSlices: this.slices,
      capabilities,
      autoscaler: new FleetAutoscaler({ now: () => this.nowMs, sourceFor: () => this.loads }),
      events: { event: (regarding, type, reason, message) => void this.events.push({ regarding: `${regarding.kind}/${regarding.metadata.name}`, type, reason, message }) },
      fleetMetrics: new FleetMetrics(this.registry),
      clock: this.clock,
    });
  }

  /** Puts a fleet in the cache: spec merged over the test factory's minimal valid one. */
  withFleet(
    spec: Record<string, unknown> = {},
    extra: { status?: Record<string, unknown>; generation?: number; finalizers?: string[]; deletedAt?: string; annotations?: Record<string, string> } = {},
  ): this {
    const raw = aRawUnmuteDeployment(spec, {
      name: NAME,
      namespace: NAMESPACE,
      uid: UID,
      generation: extra.generation ?? 1,
      // The steady state: the operator holds its finalizer (a test can say otherwise).
      finalizers: extra.finalizers ?? [FINALIZER_DRAIN],
      ...(extra.deletedAt ? { deletionTimestamp: extra.deletedAt } : {}),
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
    });
    // Each call is a new version of the fleet, as the watch would deliver it.
    const metadata = { ...(raw as KubeObject).metadata, resourceVersion: `fleet-${++this.#fleetVersion}` };
    this.#objects.fleets = [{ ...raw, metadata, ...(extra.status ? { status: extra.status } : {}) } as KubeObject];
    this.fleets.replace(this.#objects.fleets, '1');
    return this;
  }

  /** A component Deployment as the Deployment controller reports it. */
  /** A Deployment as the cache holds it; `templateHash` is the pod-template hash it runs (rollout.ts). */
  withDeployment(component: ComponentName, replicas: number, ready = replicas, templateHash?: string): this {
    const d: DeploymentView = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: childName(NAME, component), namespace: NAMESPACE, generation: 1, labels: componentLabels(NAME, component), ownerReferences: [this.#owner()] },
      spec: { replicas, selector: {}, template: templateHash === undefined ? {} : { metadata: { annotations: { [ANNOTATION_TEMPLATE_HASH]: templateHash } } } },
      status: { replicas, readyReplicas: ready, updatedReplicas: replicas, observedGeneration: 1 },
    };
    this.#objects.deployments.push(d);
    this.deployments.replace(this.#objects.deployments, '1');
    return this;
  }

  /** A running pod of a component; pods of components that drain are serving unless told otherwise. */
  withPod(
    component: ComponentName,
    name: string,
    opts: {
      serving?: boolean;
      annotations?: Record<string, string>;
      phase?: 'Pending' | 'Running';
      unschedulable?: boolean;
      load?: number | Error;
      foreign?: boolean;
      /** Behind the GPU-budget scheduling gate (Pending, no IP). */
      gated?: boolean;
    } = {},
  ): this {
    const labels: Record<string, string> = { ...componentLabels(NAME, component) };
    // Pods of the fleet are created by its ReplicaSets; a "foreign" one was made by hand with its labels.
    const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${childName(NAME, component)}-5d9f7c`, uid: `rs-${component}`, controller: true };
    if (DRAINABLE.has(component)) labels[LABEL_SERVING] = opts.serving === false ? 'false' : 'true';
    const phase = opts.phase ?? (opts.unschedulable || opts.gated ? 'Pending' : 'Running');
    const pod: PodView = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NAMESPACE, uid: `pod-${name}`, labels, ...(opts.annotations ? { annotations: opts.annotations } : {}), ...(opts.foreign ? {} : { ownerReferences: [owner] }) },
      spec: { containers: [], ...(opts.gated ? { schedulingGates: [{ name: SCHEDULING_GATE_GPU_BUDGET }] } : {}) },
      status: {
        phase,
        ...(phase === 'Running' ? { podIP: `10.250.0.${this.#objects.pods.length + 1}`, conditions: [{ type: 'Ready', status: 'True' }] } : {}),
        ...(opts.unschedulable ? { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }] } : {}),
      },
    };
    this.#objects.pods.push(pod);
    this.pods.replace(this.#objects.pods, '1');
    if (opts.load !== undefined) this.loads.values.set(name, opts.load);
    return this;
  }

  /** Any other owned object (Service, ConfigMap, ...), controlled by the fleet unless `owner: false`. */
  withOwned(obj: { apiVersion: string; kind: string; name: string; owner?: boolean }): this {
    const key = refKey(obj);
    const list = this.#objects.owned.get(key) ?? [];
    list.push({
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.name, namespace: NAMESPACE, labels: fleetLabels(NAME), ...(obj.owner === false ? {} : { ownerReferences: [this.#owner()] }) },
    });
    this.#objects.owned.set(key, list);
    const entry = this.owned.get(key);
    if (entry === undefined) throw new Error(`${key} is not an owned kind`);
    entry.cache.replace(list, '1');
    return this;
  }

  withSecret(name: string, data: Record<string, string>): this {
    this.client.secrets.set(`${NAMESPACE}/${name}`, data);
    return this;
  }

  /** Moves the clock and forgets the writes so far (the next pass is asserted alone). */
  later(ms: number): this {
    this.nowMs += ms;
    this.client.writes.length = 0;
    this.events.length = 0;
    return this;
  }

  async reconcile(): Promise<ReconcileResult> {
    const ctx: ReconcileContext = {
      key: `${NAMESPACE}/${NAME}`,
      namespace: NAMESPACE,
      name: NAME,
      logger: silentLogger(),
      reconcileId: 'test',
      signal: new AbortController().signal,
      retries: 0,
    };
    return this.reconciler.reconcile(ctx.key, ctx);
  }

  /** The condition of `type` in the last status written. */
  condition(type: string): { status: string; reason: string; message: string } | undefined {
    const conditions = (this.client.status()?.['conditions'] ?? []) as { type: string; status: string; reason: string; message: string }[];
    return conditions.find((c) => c.type === type);
  }

  #owner() {
    return { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name: NAME, uid: UID, controller: true, blockOwnerDeletion: true };
  }
}
