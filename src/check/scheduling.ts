// A small model of the scheduler's filters that decide where GPU pods can go: node selector,
// taints and tolerations, allocatable minus what running pods request. Enough to say "no node
// can take this pod" or "only 2 of 3 fit now" before applying, without a dry-run scheduler.
import { z } from 'zod';
import { parseQuantity } from '../runtime/quantity.ts';
import type { KubeObject } from '../runtime/object.ts';

const BASIC_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage', 'pods']);
/** Extended resources (GPUs and the like): integer-only, requests equal limits. */
export const isExtendedResource = (name: string): boolean => !BASIC_RESOURCES.has(name) && !name.startsWith('hugepages-');

const taintSchema = z.looseObject({ key: z.string(), value: z.string().optional(), effect: z.string() });
export type Taint = z.infer<typeof taintSchema>;
const tolerationSchema = z.looseObject({
  key: z.string().optional(),
  operator: z.string().optional(),
  value: z.string().optional(),
  effect: z.string().optional(),
});
export type Toleration = z.infer<typeof tolerationSchema>;

const nodeSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string(), labels: z.record(z.string(), z.string()).optional() }),
  spec: z.looseObject({ unschedulable: z.boolean().optional(), taints: z.array(taintSchema).nullish() }).optional(),
  status: z
    .looseObject({
      allocatable: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).nullish(),
    })
    .optional(),
});

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  allocatable: Record<string, number>;
  schedulable: boolean;
  ready: boolean;
}

export function nodeInfo(obj: KubeObject): NodeInfo {
  const n = nodeSchema.parse(obj);
  const allocatable: Record<string, number> = {};
  for (const [k, v] of Object.entries(n.status?.allocatable ?? {})) allocatable[k] = parseQuantity(v) ?? 0;
  return {
    name: n.metadata.name,
    labels: n.metadata.labels ?? {},
    taints: n.spec?.taints ?? [],
    allocatable,
    schedulable: n.spec?.unschedulable !== true,
    ready: (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  };
}

const containerSchema = z.looseObject({
  resources: z
    .looseObject({
      requests: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
      limits: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    })
    .optional(),
});
const podSpecSchema = z.looseObject({
  nodeName: z.string().optional(),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(tolerationSchema).optional(),
  containers: z.array(containerSchema).default([]),
  initContainers: z.array(containerSchema).optional(),
});

/** Extended resources one pod asks for (limits, falling back to requests; init containers by max). */
export function extendedRequests(podSpec: unknown): Record<string, number> {
  const spec = podSpecSchema.parse(podSpec ?? {});
  const of = (c: z.infer<typeof containerSchema>) => {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries({ ...c.resources?.requests, ...c.resources?.limits })) {
      if (isExtendedResource(k)) out[k] = parseQuantity(v) ?? 0;
    }
    return out;
  };
  const total: Record<string, number> = {};
  for (const c of spec.containers) for (const [k, v] of Object.entries(of(c))) total[k] = (total[k] ?? 0) + v;
  for (const c of spec.initContainers ?? []) for (const [k, v] of Object.entries(of(c))) total[k] = Math.max(total[k] ?? 0, v);
  return total;
}

/** Extended resources in use on each node by the given (running or pending-bound) pods. */
export function usedByNode(pods: KubeObject[], exclude: (pod: KubeObject) => boolean = () => false): Map<string, Record<string, number>> {
  const used = new Map<string, Record<string, number>>();
  for (const pod of pods) {
    if (exclude(pod)) continue;
    const spec = podSpecSchema.safeParse(pod['spec'] ?? {});
    const nodeName = spec.success ? spec.data.nodeName : undefined;
    if (nodeName === undefined) continue;
    const mine = used.get(nodeName) ?? {};
    for (const [k, v] of Object.entries(extendedRequests(pod['spec']))) mine[k] = (mine[k] ?? 0) + v;
    used.set(nodeName, mine);
  }
  return used;
}

/** Whether one toleration matches one taint (the rules of the scheduler's TaintToleration filter). */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect) return false;
  if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
  return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
}

/** Taints that keep a pod with these tolerations off the node (PreferNoSchedule only prefers). */
export function blockingTaints(node: NodeInfo, tolerations: Toleration[]): Taint[] {
  return node.taints.filter((taint) => taint.effect !== 'PreferNoSchedule' && !tolerations.some((t) => tolerates(t, taint)));
}

/** A group of identical pods to place (one Deployment). */
export interface PodDemand {
  component: string;
  replicas: number;
  perPod: Record<string, number>;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
}

export function demandOf(component: string, deployment: KubeObject): PodDemand | undefined {
  const spec = z
    .looseObject({ replicas: z.number().int().optional(), template: z.looseObject({ spec: z.unknown() }) })
    .safeParse(deployment['spec']);
  if (!spec.success) return undefined;
  const podSpec = podSpecSchema.parse(spec.data.template.spec ?? {});
  return {
    component,
    replicas: spec.data.replicas ?? 1,
    perPod: extendedRequests(spec.data.template.spec),
    nodeSelector: podSpec.nodeSelector ?? {},
    tolerations: podSpec.tolerations ?? [],
  };
}

export const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

export interface Placement {
  demand: PodDemand;
  /** Nodes the pods may run on (selector, taints, schedulable, Ready, and the resource exists). */
  eligible: string[];
  /** Pods of the demand that found free room, in order. */
  placed: number;
}

/**
 * First-fit, largest pods first, on free capacity (allocatable minus `used`). It ignores affinity,
 * CPU and memory: a fit here is necessary, not sufficient; a miss is certain for GPU-bound pods.
 */
export function placeAll(nodes: NodeInfo[], used: Map<string, Record<string, number>>, demands: PodDemand[]): Placement[] {
  const free = new Map(
    nodes.map((n) => {
      const u = used.get(n.name) ?? {};
      return [n.name, Object.fromEntries(Object.entries(n.allocatable).map(([k, v]) => [k, v - (u[k] ?? 0)]))];
    }),
  );
  const size = (d: PodDemand) => Object.values(d.perPod).reduce((a, b) => a + b, 0);
  const order = [...demands].sort((a, b) => size(b) - size(a));
  const result = new Map<PodDemand, Placement>();
  for (const d of order) {
    const eligible = nodes.filter(
      (n) =>
        n.schedulable &&
        n.ready &&
        selects(d.nodeSelector, n.labels) &&
        blockingTaints(n, d.tolerations).length === 0 &&
        Object.keys(d.perPod).every((r) => (n.allocatable[r] ?? 0) > 0),
    );
    let placed = 0;
    for (let i = 0; i < d.replicas; i++) {
      const node = eligible.find((n) => Object.entries(d.perPod).every(([r, q]) => (free.get(n.name)![r] ?? 0) >= q));
      if (node === undefined) break;
      const f = free.get(node.name)!;
      for (const [r, q] of Object.entries(d.perPod)) f[r] = (f[r] ?? 0) - q;
      placed++;
    }
    result.set(d, { demand: d, eligible: eligible.map((n) => n.name), placed });
  }
  return demands.map((d) => result.get(d)!);
}
