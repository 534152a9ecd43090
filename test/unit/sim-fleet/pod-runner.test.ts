import { describe, expect, it } from 'vitest';
import { gracePeriodSeconds, hasPreStop, workerAddress, type PodLike } from '../../../src/sim/fleet/pod-runner.ts';
import { baselineFleet, operatorFleet, operatorFleetTargets } from '../../../src/sim/fleet/fleets.ts';
import { unmuteDeployment } from '../../../src/api/v1alpha1/unmute-deployment.ts';
import { renderFleet } from '../../../src/render/index.ts';

const pod = (over: Partial<PodLike> = {}): PodLike => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'ns', uid: 'u' },
  spec: { containers: [{ name: 'backend', ports: [{ name: 'metrics', containerPort: 9000 }, { name: 'http', containerPort: 8000 }] }] },
  status: { phase: 'Running', podIP: '10.250.1.7' },
  ...over,
});

const shape = { minReplicas: 2, maxReplicas: 20, targetSessionsPerPod: 3, maxSessionsPerPod: 4, podStartDelay: '3s' };
const timing = { intervalSeconds: 1, metricsStaleSeconds: 5, scaleDownStabilizationSeconds: 30, drainTimeoutSeconds: 360, drainGracePeriodSeconds: 360 };

describe('the pod runner reads pods as a kubelet would', () => {
  it('serves a running pod on its IP and its `http` port', () => {
    expect(workerAddress(pod())).toEqual({ ip: '10.250.1.7', port: 8000 });
    expect(workerAddress(pod(), 'metrics')).toEqual({ ip: '10.250.1.7', port: 9000 });
  });

  it('does not start a pod that is Pending or has no IP yet', () => {
    expect(workerAddress(pod({ status: { phase: 'Pending' } }))).toBeUndefined();
    expect(workerAddress(pod({ status: { phase: 'Running' } }))).toBeUndefined();
  });

  it('waits in preStop only for pods that have a preStop hook, at most their grace period', () => {
    expect(hasPreStop(pod())).toBe(false);
    expect(hasPreStop(pod({ spec: { containers: [{ lifecycle: { preStop: { exec: { command: ['x'] } } } }] } }))).toBe(true);
    expect(gracePeriodSeconds(pod({ spec: { terminationGracePeriodSeconds: 360 } }))).toBe(360);
    expect(gracePeriodSeconds(pod({ metadata: { name: 'p', deletionGracePeriodSeconds: 3 }, spec: { terminationGracePeriodSeconds: 360 } }))).toBe(3);
    expect(gracePeriodSeconds(pod({ spec: {} }))).toBe(30);
  });
});

describe('the benchmark fleets', () => {
  it('give the operator fleet a valid UnmuteDeployment whose backend pods have a preStop hook and the start delay', () => {
    const cr = unmuteDeployment.parse({ ...operatorFleet('fleet', 'ns', shape, timing), metadata: { name: 'fleet', namespace: 'ns', uid: 'x', generation: 1 } });
    type Template = { metadata: { annotations: Record<string, string> }; spec: NonNullable<PodLike['spec']> & { terminationGracePeriodSeconds: number } };
    const d = renderFleet(cr, { capabilities: { prometheusOperator: false, gatewayApi: false, httpRouteTimeouts: false, grafanaOperator: false, nodeDrains: true }, replicas: { backend: 2 } }).find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'fleet-backend',
    ) as unknown as { spec: { template: Template } };
    const tpl = d.spec.template;
    expect(tpl.metadata.annotations['pod-ready.stage.kwok.x-k8s.io/delay']).toBe('3s');
    expect(hasPreStop({ ...pod(), spec: tpl.spec } as PodLike)).toBe(true);
    expect(tpl.spec.terminationGracePeriodSeconds).toBe(360);
    expect(operatorFleetTargets('fleet')).toEqual({
      podSelector: 'app.kubernetes.io/name=unmute,app.kubernetes.io/instance=fleet,app.kubernetes.io/component=backend',
      servicesSelector: 'app.kubernetes.io/instance=fleet,app.kubernetes.io/component in (stt,tts,llm)',
      service: 'fleet-backend',
      deployment: 'fleet-backend',
    });
  });

  it('give the STT/TTS/vLLM pods their batch size and a start of minutes (compressed), from annotations, not operator fields', () => {
    const cr = unmuteDeployment.parse({ ...operatorFleet('fleet', 'ns', { ...shape, gpuStartDelay: '12s' }, timing, { pipeline: true }), metadata: { name: 'fleet', namespace: 'ns', uid: 'x', generation: 1 } });
    const objects = renderFleet(cr, { capabilities: { prometheusOperator: false, gatewayApi: false, httpRouteTimeouts: false, grafanaOperator: false, nodeDrains: true }, replicas: { backend: 2 } });
    const template = (name: string) =>
      (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as unknown as { spec: { template: { metadata: { annotations: Record<string, string> }; spec: NonNullable<PodLike['spec']> } } }).spec.template;
    expect(template('fleet-stt').metadata.annotations).toMatchObject({ 'sim.unmute.sh/batch-size': '64', 'pod-ready.stage.kwok.x-k8s.io/delay': '12s' });
    expect(template('fleet-tts').metadata.annotations).toMatchObject({ 'sim.unmute.sh/batch-size': '16' });
    expect(template('fleet-llm').spec.containers![0]!.args).toEqual(['--model', 'sim/simulated-llm', '--port', '8000']);
    const backendEnv = Object.fromEntries((template('fleet-backend').spec.containers![0]!.env ?? []).map((e) => [e.name, e.value]));
    expect(backendEnv).toMatchObject({ KYUTAI_STT_URL: 'ws://fleet-stt.ns.svc:8080', KYUTAI_LLM_MODEL: 'sim/simulated-llm' });
  });

  it('give the baseline no serving label and no preStop: the ReplicaSet picks victims, SIGTERM cuts', () => {
    const b = baselineFleet('baseline', 'ns', shape);
    const spec = b.deployment.spec.template.spec;
    expect(hasPreStop({ ...pod(), spec } as PodLike)).toBe(false);
    expect(b.deployment.spec.template.metadata.labels).toEqual({ app: 'baseline' });
    expect(b.service.spec.selector).toEqual({ app: 'baseline' });
  });
});
