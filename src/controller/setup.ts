// Wires the UnmuteDeployment controller: informers for every kind it reads, the watches that map
// their events to UnmuteDeployment keys, and the reconciler.
import { PodLoadSource } from '../autoscaler/pod-load-source.ts';
import { PrometheusLoadSource } from '../autoscaler/prometheus-load-source.ts';
import { FleetAutoscaler } from '../autoscaler/fleet-autoscaler.ts';
import type { LoadSource } from '../autoscaler/readings.ts';
import { FleetMetrics } from '../monitoring/fleet-metrics.ts';
import type { Logger } from '../observability/logger.ts';
import { sessionReadMetrics, type RuntimeMetrics } from '../observability/metrics.ts';
import { LABEL_APP_INSTANCE, LABEL_APP_MANAGED_BY, LABEL_FLEET, MANAGED_BY } from '../api/v1alpha1/labels.ts';
import type { ClusterCapabilities } from '../render/types.ts';
import type { Clock } from '../runtime/clock.ts';
import { Controller } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import { createInformer, type Informer } from '../runtime/informer.ts';
import {
  composeTransforms,
  nodeDrainFields,
  podReadFields,
  withForeignObjectsReduced,
  withSharedFieldSets,
  withoutManagedFields,
  withoutPodTemplateSpec,
  withoutSubresourceManagedFields,
  type CacheTransform,
} from '../runtime/transform.ts';
import { isForbidden } from '../runtime/errors.ts';
import type { KubeClient } from '../runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../runtime/object.ts';
import { servedSchemaHasField } from '../runtime/openapi.ts';
import { HTTP_ROUTE_TIMEOUTS_PATH } from '../render/exposure.ts';
import { DEPLOYMENT, ENDPOINT_SLICE, NODE, POD, isLeavingNode, type DeploymentView, type EndpointSliceView, type NodeView, type PodView } from '../runtime/views.ts';
import { forObject, ownedBy, specOrMetadataChanged } from '../runtime/watch-mappers.ts';
import type { Registry } from 'prom-client';
import { GRAFANA_DASHBOARD, HTTP_ROUTE, OPTIONAL_OWNED_KINDS, OWNED_KINDS, PROMETHEUS_RULE, UNMUTE_DEPLOYMENT, refKey } from './kinds.ts';
import { ANNOTATION_ADOPT } from './ownership.ts';
import { UnmuteDeploymentReconciler, createdByFleet } from './reconciler.ts';
import { RotationReconciler } from './rotation.ts';

export const CONTROLLER_NAME = 'unmutedeployment';
export const ROTATION_CONTROLLER_NAME = 'unmutedeployment-rotation';

export interface ControllerSetupOptions {
  client: KubeClient;
  logger: Logger;
  clock: Clock;
  registry: Registry;
  metrics: RuntimeMetrics;
  events: EventRecorder;
  /** Watch one namespace only; all when undefined. */
  namespace?: string;
  workers: number;
  scrapeConcurrency: number;
  /** Namespace of the operator's pods, when it runs in the cluster. */
  operatorNamespace?: string | undefined;
}

export interface UnmuteController {
  /** The UnmuteDeployment controller. */
  controller: Controller;
  /** Every controller to run on the leader: the main one and the rotation fast path. */
  controllers: Controller[];
  informers: Informer<KubeObject>[];
  capabilities: ClusterCapabilities;
  hasSynced(): boolean;
}

/** Pods, slices and Deployments the controller watches carry this label; of other kinds, only these keep more than their owner. */
const MANAGED_SELECTOR = `${LABEL_APP_MANAGED_BY}=${MANAGED_BY}`;
const isManaged = (obj: KubeObject) => obj.metadata.labels?.[LABEL_APP_MANAGED_BY] === MANAGED_BY;

/** Whether the served HTTPRoute schema has rules[].timeouts; unknown (unreadable schema) counts as no. */
async function httpRouteHasTimeouts(client: KubeClient, logger: Logger): Promise<boolean> {
  try {
    return await servedSchemaHasField(client, HTTP_ROUTE, HTTP_ROUTE_TIMEOUTS_PATH);
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'cannot read the HTTPRoute schema (OpenAPI v3): HTTPRoutes get no timeouts');
    return false;
  }
}

/**
 * Whether the operator may list and watch Nodes (the chart grants it; a namespaced install may not).
 * Without, node drains fall back to the PodDisruptionBudget and each pod's preStop wait.
 */
async function canWatchNodes(client: KubeClient, logger: Logger): Promise<boolean> {
  try {
    await client.list(NODE, { limit: 1 });
    return true;
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      isForbidden(err)
        ? 'may not list Nodes: pods on a node being drained are not replaced before they go (grant get/list/watch on nodes, as the chart does)'
        : 'cannot list Nodes: pods on a node being drained are not replaced before they go',
    );
    return false;
  }
}

export async function setupUnmuteDeploymentController(o: ControllerSetupOptions): Promise<UnmuteController> {
  const deps = { logger: o.logger, clock: o.clock, metrics: o.metrics };
  const scope = (labelSelector?: string, metadataOnly = false) => ({
    ...(o.namespace ? { namespace: o.namespace } : {}),
    ...(labelSelector ? { labelSelector } : {}),
    ...(metadataOnly ? { metadataOnly } : {}),
  });
  const inform = <T extends KubeObject = KubeObject>(ref: TypeRef, labelSelector?: string, transform?: CacheTransform<T>, metadataOnly = false) =>
    // Indexed by fleet: each pass lists one fleet's pods and slices, not the cluster's.
    createInformer<T>(o.client, ref, scope(labelSelector, metadataOnly), { ...deps, indexLabel: LABEL_APP_INSTANCE, ...(transform === undefined ? {} : { transform }) });

  // Optional kinds are decided once at start: a CRD installed later needs an operator restart.
  const served = async (ref: TypeRef) => o.client.isServed(ref.apiVersion, ref.kind);
  const gatewayApi = await served(HTTP_ROUTE);
  const capabilities: ClusterCapabilities = {
    prometheusOperator: await served(PROMETHEUS_RULE),
    gatewayApi,
    httpRouteTimeouts: gatewayApi && (await httpRouteHasTimeouts(o.client, o.logger)),
    grafanaOperator: await served(GRAFANA_DASHBOARD),
    nodeDrains: await canWatchNodes(o.client, o.logger),
  };
  const ownedRefs: TypeRef[] = OWNED_KINDS.filter((ref) => ref !== DEPLOYMENT);
  for (const ref of OPTIONAL_OWNED_KINDS) if (await served(ref)) ownedRefs.push(ref);

  // One table of shared managedFields field sets for every cache of objects the operator applies.
  const sharedFieldSets = withSharedFieldSets();
  const fleets = inform(UNMUTE_DEPLOYMENT, undefined, sharedFieldSets);
  // Deployments are read typed (replicas, rollout); the same informer serves the owned-kinds map.
  // Their pod template's spec is never read back: no-op detection compares the applied hash.
  const deployments = inform<DeploymentView>(DEPLOYMENT, MANAGED_SELECTOR, composeTransforms(withoutSubresourceManagedFields, withoutPodTemplateSpec, sharedFieldSets));
  // The other children are read for their metadata alone (owner, labels, applied hash, managedFields),
  // so their caches hold PartialObjectMetadata. They watch every object of the kind, not only ours:
  // a name missing from such a cache is free, with no GET to make sure before the first apply.
  // Objects that are not ours keep only what says whose they are.
  const foreignReduced = withForeignObjectsReduced<KubeObject>(isManaged, [ANNOTATION_ADOPT]);
  const owned = new Map<string, { ref: TypeRef; informer: Informer<KubeObject>; complete: boolean }>([
    [refKey(DEPLOYMENT), { ref: DEPLOYMENT, informer: deployments, complete: false }],
    ...ownedRefs.map((ref) => [refKey(ref), { ref, informer: inform(ref, undefined, composeTransforms(foreignReduced, withoutSubresourceManagedFields, sharedFieldSets), true), complete: true }] as const),
  ]);
  // Never applied by the operator: their managedFields are read by nothing.
  const pods = inform<PodView>(POD, MANAGED_SELECTOR, podReadFields);
  const endpointSlices = inform<EndpointSliceView>(ENDPOINT_SLICE, MANAGED_SELECTOR, withoutManagedFields);
  // Nodes are cluster-scoped and read for one thing: whether one is being drained.
  const nodes = capabilities.nodeDrains
    ? createInformer<NodeView>(o.client, NODE, {}, { ...deps, transform: nodeDrainFields })
    : undefined;

  // One pod source per timeout value in use (spec.autoscaling.metrics.timeoutSeconds).
  const podSources = new Map<number, LoadSource>();
  const podSource = (timeoutSeconds: number) => {
    let source = podSources.get(timeoutSeconds);
    if (source === undefined) {
      source = new PodLoadSource({ timeoutMs: timeoutSeconds * 1000, concurrency: o.scrapeConcurrency, now: () => o.clock.now(), metrics: sessionReadMetrics(o.registry) });
      podSources.set(timeoutSeconds, source);
    }
    return source;
  };
  const prometheusSources = new Map<string, LoadSource>();
  const autoscaler = new FleetAutoscaler({
    now: () => o.clock.now(),
    sourceFor: (cr) => {
      const m = cr.spec.autoscaling.metrics;
      if (m.source !== 'Prometheus' || m.prometheus === undefined) return podSource(m.timeoutSeconds);
      const key = `${cr.metadata.namespace}/${cr.metadata.name}/${m.prometheus.url}/${m.prometheus.query}`;
      let source = prometheusSources.get(key);
      if (source === undefined) {
        source = new PrometheusLoadSource({
          url: m.prometheus.url,
          queryTemplate: m.prometheus.query,
          namespace: cr.metadata.namespace,
          name: cr.metadata.name,
          windowSeconds: Math.max(cr.spec.autoscaling.metricsStaleSeconds, 2 * cr.spec.autoscaling.intervalSeconds),
          timeoutMs: m.timeoutSeconds * 1000,
        });
        prometheusSources.set(key, source);
      }
      return source;
    },
  });

  // The fast path of load-aware routing: its own queue, armed by the main reconciler after each pass.
  let rotationController: Controller | undefined;
  let mainController: Controller | undefined;
  const rotation = new RotationReconciler({
    client: o.client,
    fleets: fleets.cache,
    pods: pods.cache,
    autoscaler,
    wakeMain: (key) => mainController?.enqueue(key),
    ownPods: (fleet, list) => list.filter((p) => createdByFleet(p, fleet)),
  });

  const reconciler = new UnmuteDeploymentReconciler({
    client: o.client,
    fleets: fleets.cache,
    owned: new Map([...owned].map(([k, v]) => [k, { ref: v.ref, cache: v.informer.cache, complete: v.complete }])),
    deployments: deployments.cache,
    pods: pods.cache,
    endpointSlices: endpointSlices.cache,
    nodes: nodes?.cache,
    capabilities,
    operatorNamespace: o.operatorNamespace,
    autoscaler,
    events: o.events,
    fleetMetrics: new FleetMetrics(o.registry),
    clock: o.clock,
    rotation: {
      arm: (key, hot) => {
        if (rotation.setHot(key, hot)) rotationController?.enqueue(key);
      },
      forget: (key) => rotation.forget(key),
    },
  });

  const controller = new Controller({
    name: CONTROLLER_NAME,
    reconcile: reconciler.reconcile,
    logger: o.logger,
    clock: o.clock,
    metrics: o.metrics,
    workers: o.workers,
    keyLogField: 'unmuteDeployment',
    reconcileTimeoutMs: 60_000,
    resyncPeriodMs: 10 * 60_000,
  });
  mainController = controller;
  rotationController = new Controller({
    name: ROTATION_CONTROLLER_NAME,
    reconcile: rotation.reconcile,
    logger: o.logger,
    clock: o.clock,
    metrics: o.metrics,
    workers: o.workers,
    keyLogField: 'unmuteDeployment',
    reconcileTimeoutMs: 10_000,
  });
  // Status-only updates of our own CR do not wake us (that would loop on every status write).
  controller.watch(fleets, forObject(), { updatePredicate: specOrMetadataChanged, resync: true });
  const toOwner = ownedBy({ apiVersion: UNMUTE_DEPLOYMENT.apiVersion, kind: UNMUTE_DEPLOYMENT.kind });
  for (const { informer } of owned.values()) controller.watch(informer, toOwner);
  // Pods and EndpointSlices are not owned by the CR; the fleet label says whose they are.
  const byFleetLabel = (obj: KubeObject) => {
    const fleet = obj.metadata.labels?.[LABEL_FLEET];
    return fleet === undefined || obj.metadata.namespace === undefined ? [] : [`${obj.metadata.namespace}/${fleet}`];
  };
  controller.watch(pods, byFleetLabel);
  controller.watch(endpointSlices, byFleetLabel);
  if (nodes !== undefined) {
    // A node starting (or ending) a drain wakes the fleets with pods on it, at once rather than at their next interval.
    const fleetsOnNode = (node: NodeView) =>
      [...new Set(pods.cache.list().filter((p) => p.spec?.nodeName === node.metadata.name).flatMap(byFleetLabel))];
    controller.watch(nodes, fleetsOnNode, { updatePredicate: (before, after) => isLeavingNode(before) !== isLeavingNode(after) });
  }

  const informers = [fleets, ...[...owned.values()].map((v) => v.informer), pods, endpointSlices, ...(nodes === undefined ? [] : [nodes])];
  return { controller, controllers: [controller, rotationController], informers, capabilities, hasSynced: () => informers.every((i) => i.hasSynced()) };
}
