// GPU nodes: does any node advertise the GPU resource, and can each fleet's GPU pods be placed
// (product label, taints it tolerates, free capacity)?
import { DOC } from '../docs.ts';
import { GPU_PRODUCT_LABEL, LABEL_FLEET, LABEL_COMPONENT } from '../fleet-facts.ts';
import { renderedObjects } from '../fleets.ts';
import { blockingTaints, demandOf, nodeInfo, placeAll, selects, usedByNode, type NodeInfo, type PodDemand } from '../scheduling.ts';
import type { CheckResult, CheckStatus, Facts, FleetInput } from '../types.ts';
import type { KubeObject } from '../../runtime/object.ts';

const group = 'gpu' as const;
const DEFAULT_RESOURCE = 'nvidia.com/gpu';
const rank: Record<CheckStatus, number> = { skip: 0, pass: 1, warn: 2, fail: 3 };

function gpuResources(f: Facts): string[] {
  const set = new Set<string>();
  for (const fleet of f.fleets) if (fleet.parsed.ok) set.add(fleet.parsed.fleet.spec.gpu.resource);
  return set.size === 0 ? [DEFAULT_RESOURCE] : [...set].sort();
}

/** `NVIDIA-L40S: 3 nodes, 24 GPUs, 20 free` per product, for one resource. */
function inventory(nodes: NodeInfo[], used: Map<string, Record<string, number>>, resource: string): string[] {
  const byProduct = new Map<string, { nodes: number; total: number; free: number; notReady: number }>();
  for (const n of nodes) {
    const total = n.allocatable[resource] ?? 0;
    if (total <= 0) continue;
    const product = n.labels[GPU_PRODUCT_LABEL] ?? '(no product label)';
    const e = byProduct.get(product) ?? { nodes: 0, total: 0, free: 0, notReady: 0 };
    e.nodes++;
    e.total += total;
    if (n.ready && n.schedulable) e.free += total - (used.get(n.name)?.[resource] ?? 0);
    else e.notReady++;
    byProduct.set(product, e);
  }
  return [...byProduct.entries()].map(
    ([p, e]) => `${p}: ${e.nodes} node${e.nodes === 1 ? '' : 's'}, ${e.total} ${resource}, ${e.free} free${e.notReady ? `, ${e.notReady} not Ready or cordoned` : ''}`,
  );
}

export function gpuNodesCheck(f: Facts): CheckResult[] {
  if (!f.nodes.ok) return [{ group, id: 'gpu.nodes', title: 'GPU nodes', status: 'warn', message: `cannot list nodes: ${f.nodes.error}` }];
  const nodes = f.nodes.value.map(nodeInfo);
  const used = usedByNode(f.pods.ok ? f.pods.value : []);
  return gpuResources(f).map((resource): CheckResult => {
    const base = { group, id: 'gpu.nodes', title: `GPU nodes advertise ${resource}` };
    const lines = inventory(nodes, used, resource);
    if (lines.length === 0) {
      return {
        ...base,
        status: 'fail',
        message: `no node advertises ${resource} (${nodes.length} node${nodes.length === 1 ? '' : 's'} in the cluster)`,
        hint: 'install the NVIDIA device plugin or GPU operator on the GPU nodes, then: kubectl describe node <gpu-node> | grep nvidia.com/gpu',
        doc: DOC.gpuNodes,
      };
    }
    return { ...base, status: 'pass', message: lines.join('; ') };
  });
}

/** Why no node takes a pod: counts at each filter, and the taints in the way. */
function whyNoNode(d: PodDemand, nodes: NodeInfo[]): string {
  const resources = Object.keys(d.perPod);
  const withResource = nodes.filter((n) => resources.every((r) => (n.allocatable[r] ?? 0) > 0));
  const selected = withResource.filter((n) => selects(d.nodeSelector, n.labels));
  const taints = new Set(selected.flatMap((n) => blockingTaints(n, d.tolerations).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`)));
  const ready = selected.filter((n) => n.ready && n.schedulable && blockingTaints(n, d.tolerations).length === 0);
  const sel = Object.entries(d.nodeSelector).map(([k, v]) => `${k}=${v}`).join(',');
  if (withResource.length === 0) return `no node has ${resources.join(', ')}`;
  if (selected.length === 0) return `${withResource.length} nodes have ${resources.join(', ')}, none matches ${sel}`;
  if (taints.size > 0 && ready.length === 0) return `${selected.length} nodes match ${sel || 'the selector'} but carry taints the pods do not tolerate: ${[...taints].join(', ')}`;
  return `${selected.length} nodes match, none is Ready and schedulable`;
}

function fleetGpu(f: Facts, fleet: FleetInput, nodes: NodeInfo[]): CheckResult | undefined {
  if (!fleet.parsed.ok) return undefined;
  const cr = fleet.parsed.fleet;
  const fleetName = `${fleet.namespace}/${fleet.name}`;
  const demands = renderedObjects(cr)
    .filter((o) => o.kind === 'Deployment')
    .map((o) => demandOf(String(o.metadata.labels?.[LABEL_COMPONENT] ?? o.metadata.name), o as KubeObject))
    .filter((d): d is PodDemand => d !== undefined && Object.keys(d.perPod).length > 0 && d.replicas > 0);
  const base = { group, id: 'gpu.fleet', title: `GPU pods of ${fleetName} can be placed`, fleet: fleetName };
  if (demands.length === 0) return { ...base, status: 'pass', message: 'the fleet asks for no GPU' };
  // A fleet already running holds its own GPUs: they are not taken from it.
  const mine = (pod: KubeObject) => pod.metadata.namespace === fleet.namespace && pod.metadata.labels?.[LABEL_FLEET] === fleet.name;
  const placements = placeAll(nodes, usedByNode(f.pods.ok ? f.pods.value : [], mine), demands);
  let status: CheckStatus = 'pass';
  const details: string[] = [];
  const unplaceable = new Map<string, string[]>();
  const partial: string[] = [];
  for (const p of placements) {
    const d = p.demand;
    const ask = Object.entries(d.perPod).map(([r, q]) => `${q} ${r}`).join(' + ');
    const product = d.nodeSelector[GPU_PRODUCT_LABEL];
    const what = `${d.component}: ${d.replicas} pod${d.replicas === 1 ? '' : 's'} × ${ask}${product ? ` on ${product}` : ''}`;
    let s: CheckStatus = 'pass';
    if (p.eligible.length === 0) {
      s = 'fail';
      const reason = whyNoNode(d, nodes);
      unplaceable.set(reason, [...(unplaceable.get(reason) ?? []), d.component]);
      details.push(`${what}: no node can run them (${reason})`);
    } else if (p.placed < d.replicas) {
      s = 'warn';
      partial.push(`${d.component} ${p.placed}/${d.replicas}`);
      details.push(`${what}: ${p.placed} fit in free capacity on ${p.eligible.length} eligible nodes; the rest stay Pending until GPUs free up or nodes are added`);
    } else {
      details.push(`${what}: fit (${p.eligible.length} eligible node${p.eligible.length === 1 ? '' : 's'})`);
    }
    if (rank[s] > rank[status]) status = s;
  }
  const message =
    status === 'fail'
      ? [...unplaceable.entries()].map(([reason, comps]) => `no node can run ${comps.join(', ')}: ${reason}`).join('; ')
      : status === 'warn'
        ? `not enough free GPUs now: pods that fit ${partial.join(', ')}`
        : `${demands.length} GPU tier${demands.length === 1 ? '' : 's'} fit on the current nodes`;
  return {
    ...base,
    status,
    message,
    ...(status === 'pass'
      ? {}
      : {
          hint:
            status === 'fail'
              ? 'label and taint the GPU nodes as the CR selects (spec.gpu.product, spec.gpu.tolerationKey), or change the CR to match the nodes'
              : 'add GPU nodes (or let the cluster autoscaler do it), or lower replicas',
          doc: DOC.gpuNodes,
        }),
    details,
  };
}

export function gpuChecks(f: Facts): CheckResult[] {
  const out = gpuNodesCheck(f);
  if (!f.nodes.ok) return out;
  const nodes = f.nodes.value.map(nodeInfo);
  for (const fleet of f.fleets) {
    const r = fleetGpu(f, fleet, nodes);
    if (r !== undefined) out.push(r);
  }
  return out;
}
