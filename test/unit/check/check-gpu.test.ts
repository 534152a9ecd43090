import { describe, expect, it } from 'vitest';
import { gpuChecks } from '../../../src/check/checks/gpu.ts';
import { blockingTaints, extendedRequests, nodeInfo, placeAll, tolerates } from '../../../src/check/scheduling.ts';
import { factOk } from '../../../src/check/types.ts';
import { aFleet, aGpuNode, aPod, byId, healthyFacts, one } from './support.ts';

describe('the scheduling model', () => {
  it('matches tolerations as the scheduler does', () => {
    const taint = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' };
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }, taint)).toBe(true);
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Exists' }, taint)).toBe(true);
    expect(tolerates({ operator: 'Exists' }, taint)).toBe(true);
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Equal', value: 'present' }, taint)).toBe(true);
    expect(tolerates({ key: 'nvidia.com/gpu', value: 'other' }, taint)).toBe(false);
    expect(tolerates({ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoExecute' }, taint)).toBe(false);
    const node = nodeInfo(aGpuNode('n', { taints: [taint, { key: 'soft', effect: 'PreferNoSchedule' }] }));
    expect(blockingTaints(node, [])).toEqual([taint]);
  });

  it('counts init containers by their maximum, app containers by their sum', () => {
    expect(
      extendedRequests({
        containers: [{ resources: { limits: { 'nvidia.com/gpu': 1, cpu: '2' } } }, { resources: { requests: { 'nvidia.com/gpu': '1' } } }],
        initContainers: [{ resources: { limits: { 'nvidia.com/gpu': 3 } } }],
      }),
    ).toEqual({ 'nvidia.com/gpu': 3 });
  });

  it('places pods on free capacity only', () => {
    const nodes = [nodeInfo(aGpuNode('a', { gpus: 2 })), nodeInfo(aGpuNode('b', { gpus: 1 }))];
    const used = new Map([['a', { 'nvidia.com/gpu': 1 }]]);
    const [p] = placeAll(nodes, used, [{ component: 'stt', replicas: 3, perPod: { 'nvidia.com/gpu': 1 }, nodeSelector: {}, tolerations: [{ operator: 'Exists' }] }]);
    expect(p).toMatchObject({ eligible: ['a', 'b'], placed: 2 });
  });
});

describe('the GPU checks', () => {
  it('fail when no node advertises nvidia.com/gpu, saying how many nodes there are', () => {
    const r = one(gpuChecks(healthyFacts({ nodes: factOk([]) })), 'gpu.nodes');
    expect(r.status).toBe('fail');
    expect(r.message).toBe('no node advertises nvidia.com/gpu (0 nodes in the cluster)');
    expect(r.hint).toMatch(/device plugin/);
  });

  it('list GPUs per product with what is free', () => {
    const facts = healthyFacts({
      nodes: factOk([aGpuNode('a', { product: 'NVIDIA-L40S' }), aGpuNode('b', { product: 'NVIDIA-H100' }), aGpuNode('cpu', { gpus: 0 })]),
      pods: factOk([aPod('p', 'a', 3)]),
    });
    const r = one(gpuChecks(facts), 'gpu.nodes');
    expect(r.status).toBe('pass');
    expect(r.message).toContain('NVIDIA-L40S: 1 node, 8 nvidia.com/gpu, 5 free');
    expect(r.message).toContain('NVIDIA-H100: 1 node, 8 nvidia.com/gpu, 8 free');
  });

  it('use the fleet gpu.resource instead of nvidia.com/gpu', () => {
    const r = one(gpuChecks(healthyFacts({ fleets: [aFleet({ gpu: { resource: 'amd.com/gpu' } })] })), 'gpu.nodes');
    expect(r).toMatchObject({ status: 'fail', title: 'GPU nodes advertise amd.com/gpu' });
  });

  it('pass a fleet whose GPU pods fit', () => {
    const r = one(gpuChecks(healthyFacts({ fleets: [aFleet({ gpu: { product: 'NVIDIA-L40S' } })] })), 'gpu.fleet');
    expect(r.status).toBe('pass');
    expect(r.details).toEqual(['stt: 1 pod × 1 nvidia.com/gpu on NVIDIA-L40S: fit (2 eligible nodes)', 'tts: 1 pod × 1 nvidia.com/gpu on NVIDIA-L40S: fit (2 eligible nodes)']);
  });

  it('fail a fleet asking for a product no node has', () => {
    const r = one(gpuChecks(healthyFacts({ fleets: [aFleet({ gpu: { product: 'NVIDIA-A100' } })] })), 'gpu.fleet');
    expect(r.status).toBe('fail');
    expect(r.message).toContain('none matches nvidia.com/gpu.product=NVIDIA-A100');
  });

  it('fail a fleet that does not tolerate the GPU taint, naming it', () => {
    const nodes = [aGpuNode('a', { taints: [{ key: 'gpu', value: 'true', effect: 'NoSchedule' }] })];
    const r = one(gpuChecks(healthyFacts({ nodes: factOk(nodes), fleets: [aFleet()] })), 'gpu.fleet');
    expect(r.status).toBe('fail');
    expect(r.message).toContain('gpu=true:NoSchedule');
    expect(r.hint).toMatch(/tolerationKey/);
  });

  it('warn when the GPUs exist but are taken, and not count the fleet\'s own pods as taken', () => {
    const nodes = [aGpuNode('a', { gpus: 1 })];
    const busy = healthyFacts({ nodes: factOk(nodes), pods: factOk([aPod('other', 'a', 1)]), fleets: [aFleet()] });
    expect(one(gpuChecks(busy), 'gpu.fleet').status).toBe('warn');
    const own = aPod('demo-stt-1', 'a', 1, { 'unmute.sh/fleet': 'demo' }, 'default');
    const running = healthyFacts({ nodes: factOk([aGpuNode('a', { gpus: 2 })]), pods: factOk([own]), fleets: [aFleet()] });
    expect(one(gpuChecks(running), 'gpu.fleet').status).toBe('pass');
  });

  it('ignore nodes that are not Ready', () => {
    const r = gpuChecks(healthyFacts({ nodes: factOk([aGpuNode('a', { ready: false })]), fleets: [aFleet()] }));
    expect(one(r, 'gpu.nodes').message).toContain('1 not Ready or cordoned');
    expect(one(r, 'gpu.fleet').status).toBe('fail');
  });

  it('pass a fleet that needs no GPU', () => {
    const fleet = aFleet({ stt: { gpu: { count: 0 } }, tts: { gpu: { count: 0 } } });
    expect(byId(gpuChecks(healthyFacts({ fleets: [fleet] })), 'gpu.fleet')[0]?.message).toBe('the fleet asks for no GPU');
  });
});
