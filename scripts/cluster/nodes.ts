// Reads scripts/cluster/nodes.yaml and turns it into Node objects for KWOK to manage.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { KubeObject } from '../../src/runtime/object.ts';
import { harnessDir } from './config.ts';

export const defaultNodesFile = join(harnessDir, 'nodes.yaml');

const Quantity = z.union([z.string().regex(/^\d+(\.\d+)?([KMGTPE]i?|[mkMGTPE])?$/), z.number().int().nonnegative()]).transform(String);
const LabelKey = z.string().regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/);

const PoolSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/),
  count: z.number().int().min(1).max(50),
  capacity: z.record(z.string(), Quantity).refine((c) => ['cpu', 'memory', 'pods'].every((k) => k in c), 'capacity needs cpu, memory and pods'),
  labels: z.record(LabelKey, z.string()).default({}),
  taints: z
    .array(z.strictObject({ key: LabelKey, value: z.string().optional(), effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']) }))
    .default([]),
});
const NodesFileSchema = z.strictObject({ pools: z.array(PoolSchema).min(1) });
export type NodePool = z.infer<typeof PoolSchema>;

/** Annotation KWOK is told to select on, so it only ever touches nodes the harness made. */
export const KWOK_NODE_ANNOTATION = { key: 'kwok.x-k8s.io/node', value: 'fake' };
export const POOL_LABEL = 'cluster.unmute.local/pool';

export interface SimNode {
  name: string;
  pool: string;
  podCIDR: string;
  ip: string;
  object: KubeObject;
}

export function loadNodes(file = defaultNodesFile): SimNode[] {
  const parsed = NodesFileSchema.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${z.prettifyError(parsed.error)}`);
  const nodes: SimNode[] = [];
  for (const pool of parsed.data.pools) {
    for (let k = 0; k < pool.count; k++) nodes.push(buildNode(pool, `kwok-${pool.name}-${k}`, nodes.length));
  }
  if (nodes.length > 250) throw new Error(`${file}: ${nodes.length} nodes; at most 250 fit the 10.250.<i>.0/24 layout`);
  const names = new Set(nodes.map((n) => n.name));
  if (names.size !== nodes.length) throw new Error(`${file}: two pools produce the same node names`);
  return nodes;
}

function buildNode(pool: NodePool, name: string, index: number): SimNode {
  const podCIDR = `10.250.${index}.0/24`;
  const ip = `10.250.255.${index + 1}`;
  const object: KubeObject = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        ...pool.labels,
        [POOL_LABEL]: pool.name,
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
      },
      annotations: { [KWOK_NODE_ANNOTATION.key]: KWOK_NODE_ANNOTATION.value, 'node.alpha.kubernetes.io/ttl': '0' },
    },
    spec: { podCIDR, podCIDRs: [podCIDR], taints: pool.taints },
    // Sent with the create, as a kubelet does on registration; KWOK's node-initialize stage keeps it.
    status: {
      capacity: pool.capacity,
      allocatable: pool.capacity,
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: { architecture: 'amd64', operatingSystem: 'linux', kubeletVersion: 'kwok', containerRuntimeVersion: 'kwok', kernelVersion: 'kwok', kubeProxyVersion: '', osImage: 'kwok', bootID: '', machineID: '', systemUUID: '' },
    },
  };
  return { name, pool: pool.name, podCIDR, ip, object };
}
