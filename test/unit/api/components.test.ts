// The component descriptor: what each component of a fleet is, read by every other layer.
import { describe, expect, it } from 'vitest';
import { describeComponent, fleetComponents, minimumGpus, minimumReplicas } from '../../../src/api/v1alpha1/components.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const inClusterLlm = { external: undefined, inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'm' } };

describe('the components of a fleet', () => {
  it('are the three always there plus whatever the spec runs in the cluster, in render order', () => {
    expect(fleetComponents(anUnmuteDeployment().spec).map((c) => c.name)).toEqual(['backend', 'stt', 'tts']);
    const full = anUnmuteDeployment({ llm: inClusterLlm, voiceCloning: { image: 'x' }, frontend: { image: 'y' }, redis: { inCluster: {} } } as never);
    expect(fleetComponents(full.spec).map((c) => c.name)).toEqual(['backend', 'stt', 'tts', 'llm', 'voice-cloning', 'frontend', 'redis']);
    expect(fleetComponents(anUnmuteDeployment({ voiceCloning: { image: 'x', enabled: false } }).spec).map((c) => c.name)).not.toContain('voice-cloning');
  });

  it('give STT and TTS headless Services, and every component that drains a Service over serving pods only', () => {
    const spec = anUnmuteDeployment().spec;
    expect(describeComponent(spec, 'stt')?.service).toEqual({ headless: true, selectsServing: true });
    expect(describeComponent(spec, 'tts')?.service).toEqual({ headless: true, selectsServing: true });
    expect(describeComponent(spec, 'backend')?.service).toEqual({ headless: false, selectsServing: true });
  });

  it('resolve GPUs with the fleet defaults, and none for a count of 0', () => {
    const spec = anUnmuteDeployment({ gpu: { product: 'L40S', resource: 'example.com/gpu' }, tts: { gpu: { count: 2, product: 'H100' } }, stt: { gpu: { count: 0 } } }).spec;
    expect(describeComponent(spec, 'tts')?.gpu).toEqual({ count: 2, resource: 'example.com/gpu', product: 'H100', tolerationKey: 'nvidia.com/gpu' });
    expect(describeComponent(spec, 'stt')?.gpu).toBeUndefined();
    expect(describeComponent(spec, 'stt')?.gpusPerReplica).toBe(0);
  });

  it('say which ones the autoscaler drives', () => {
    const off = anUnmuteDeployment().spec;
    expect(fleetComponents(off).map((c) => c.scaling)).toEqual(['fixed', 'fixed', 'fixed']);
    const on = anUnmuteDeployment({ llm: inClusterLlm, autoscaling: { enabled: true, followers: { tts: false } } } as never).spec;
    expect(Object.fromEntries(fleetComponents(on).map((c) => [c.name, c.scaling]))).toEqual({ backend: 'sessions', stt: 'follower', tts: 'fixed', llm: 'follower' });
  });

  it('name the load signal of each pod that holds sessions or streams', () => {
    const spec = anUnmuteDeployment({ llm: inClusterLlm } as never).spec;
    expect(fleetComponents(spec).map((c) => [c.name, c.load?.metric])).toEqual([
      ['backend', 'worker_active_sessions'],
      ['stt', 'asr_open_channels'],
      ['tts', 'py_open_channels'],
      ['llm', 'vllm:num_requests_running'],
    ]);
  });

  it('hold the fewest GPUs when fixed components run their replicas and autoscaled ones one pod', () => {
    expect(minimumGpus(anUnmuteDeployment({ stt: { replicas: 3 }, tts: { replicas: 2 } }).spec)).toBe(5);
    const scaled = anUnmuteDeployment({ stt: { replicas: 3 }, tts: { replicas: 2 }, autoscaling: { enabled: true, followers: { tts: false } } }).spec;
    expect(minimumGpus(scaled)).toBe(3);
    expect(minimumReplicas(scaled, describeComponent(scaled, 'backend')!)).toBe(1);
  });
});
