// Small fixtures for the pure checks: Facts as a healthy cluster would give them, and builders
// for the objects a test changes.
import { binaryCrdSchemaHash } from '../../../src/check/crd-hash.ts';
import { buildUnmuteDeploymentCrd } from '../../../src/check/fleet-facts.ts';
import { fleetFromCluster } from '../../../src/check/fleets.ts';
import { KINDS, servedKey } from '../../../src/check/kinds.ts';
import { factOk, type Facts, type FleetInput, type OperatorInstall } from '../../../src/check/types.ts';
import type { KubeObject } from '../../../src/runtime/object.ts';
import { aRawUnmuteDeployment } from '../../support/factories.ts';

export const NOW = Date.parse('2026-03-01T12:00:00Z');

export function allServed(except: string[] = []): Record<string, boolean> {
  const served: Record<string, boolean> = {};
  for (const ref of Object.values(KINDS)) served[servedKey(ref)] = !except.includes(ref.kind);
  return served;
}

export function aGpuNode(name: string, o: { product?: string; gpus?: number; taints?: { key: string; value?: string; effect: string }[]; ready?: boolean; labels?: Record<string, string> } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { ...(o.product ? { 'nvidia.com/gpu.product': o.product } : {}), ...o.labels } },
    spec: { taints: o.taints ?? [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }] },
    status: {
      allocatable: { cpu: '48', memory: '384Gi', ...(o.gpus === 0 ? {} : { 'nvidia.com/gpu': String(o.gpus ?? 8) }) },
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

export function aPod(name: string, nodeName: string, gpus: number, labels: Record<string, string> = {}, namespace = 'other'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName, containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': String(gpus) } } }] },
  };
}

export function anOperator(o: Partial<OperatorInstall> = {}): OperatorInstall {
  return {
    deployment: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'unmute-operator', namespace: 'unmute-system' } },
    namespace: 'unmute-system',
    name: 'unmute-operator',
    serviceAccount: 'unmute-operator',
    desiredReplicas: 2,
    readyReplicas: 2,
    watchNamespace: undefined,
    leaderElection: true,
    leaseName: 'unmute-operator',
    lease: factOk({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'unmute-operator', namespace: 'unmute-system' },
      spec: { holderIdentity: 'unmute-operator-abc', renewTime: new Date(NOW - 3000).toISOString(), leaseDurationSeconds: 15 },
    }),
    ...o,
  };
}

/** A fleet as read from the cluster, from a spec patch over the test factory's minimal CR. */
export function aFleet(spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): FleetInput {
  return fleetFromCluster(aRawUnmuteDeployment(spec, metadata) as { metadata: { name: string; namespace: string } });
}

export function aCrd(): KubeObject {
  const crd = buildUnmuteDeploymentCrd() as KubeObject;
  return { ...crd, status: { conditions: [{ type: 'Established', status: 'True' }] } };
}

/** A cluster where everything is in order and nothing is scoped to a fleet. */
export function healthyFacts(o: Partial<Facts> = {}): Facts {
  return {
    now: NOW,
    server: factOk({ major: '1', minor: '31', gitVersion: 'v1.31.4' }),
    served: allServed(),
    httpRouteTimeouts: true,
    controllerManagerGates: factOk(undefined),
    crd: factOk(aCrd()),
    binaryCrdSchemaHash: binaryCrdSchemaHash(),
    operators: factOk([anOperator()]),
    access: [],
    nodes: factOk([aGpuNode('gpu-0', { product: 'NVIDIA-L40S' }), aGpuNode('gpu-1', { product: 'NVIDIA-L40S' })]),
    pods: factOk([]),
    prometheuses: factOk([]),
    grafanaSidecars: factOk([]),
    ingressClasses: factOk([]),
    namespaces: {},
    secrets: {},
    persistentVolumeClaims: {},
    gateways: {},
    gatewayClasses: {},
    fleets: [],
    canApply: {},
    ignoredDocuments: [],
    fleetScope: { fromFile: false, namespace: '' },
    ...o,
  };
}

export const byId = <T extends { id: string }>(results: T[], id: string): T[] => results.filter((r) => r.id === id);
export const one = <T extends { id: string }>(results: T[], id: string): T => {
  const found = byId(results, id);
  if (found.length !== 1) throw new Error(`expected one ${id}, found ${found.length}: ${JSON.stringify(results.map((r) => r.id))}`);
  return found[0]!;
};
