import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { LABEL_SERVING } from '../../../src/api/v1alpha1/labels.ts';
import { unmuteDeployment } from '../../../src/api/v1alpha1/unmute-deployment.ts';
import { initialReplicas } from '../../../src/autoscaler/plan.ts';
import { renderFleet } from '../../../src/render/index.ts';
import type { ClusterCapabilities, DesiredObject, RenderContext } from '../../../src/render/types.ts';
import { anUnmuteDeployment } from '../../support/factories.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const everything: ClusterCapabilities = { prometheusOperator: true, gatewayApi: true, httpRouteTimeouts: true, grafanaOperator: false, nodeDrains: true };
const ctx: RenderContext = { capabilities: everything, replicas: { backend: 2 } };

const find = (objs: DesiredObject[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (o === undefined) throw new Error(`${kind} ${name} not rendered; have ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o as any;
};
const env = (deployment: any) => Object.fromEntries(deployment.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));

/** Dashboards are large and have their own tests; the golden files keep their names only. */
const goldenYaml = (objects: DesiredObject[]) =>
  objects
    .map((o) => (o.kind === 'ConfigMap' && o.metadata.name.includes('dashboard') ? { ...o, data: '(dashboard JSON)' } : o))
    .map((o) => stringify(o, { lineWidth: 0 }))
    .join('---\n');

const readFleet = (path: string) => {
  const raw = parse(readFileSync(path, 'utf8'));
  raw.metadata.uid = '00000000-0000-0000-0000-000000000001';
  return unmuteDeployment.parse(raw);
};

describe('rendering the examples', () => {
  for (const file of readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml'))) {
    it(`${file} matches its golden file`, async () => {
      const objects = renderFleet(readFleet(join(root, 'examples', file)), ctx);
      await expect(goldenYaml(objects)).toMatchFileSnapshot(join(root, 'test', 'golden', file));
    });
  }
});

/** Render cases beyond the examples, each with the cluster capabilities it is rendered against. */
const CASES: Record<string, ClusterCapabilities> = {
  'autoscaling-gpu-budget.yaml': everything,
  'ingress-frontend.yaml': everything,
  'podmonitor-annotations.yaml': { ...everything, grafanaOperator: true },
  'monitoring-off.yaml': everything,
  'no-prometheus-operator.yaml': { prometheusOperator: false, gatewayApi: false, httpRouteTimeouts: false, grafanaOperator: false, nodeDrains: false },
  'gateway-api-before-v1.2.yaml': { ...everything, httpRouteTimeouts: false },
};

describe('rendering the render cases', () => {
  it('has a capability set for every fixture', () => {
    expect(readdirSync(join(root, 'test', 'fixtures', 'render')).sort()).toEqual(Object.keys(CASES).sort());
  });
  for (const [file, capabilities] of Object.entries(CASES)) {
    it(`${file} matches its golden file`, async () => {
      const fleet = readFleet(join(root, 'test', 'fixtures', 'render', file));
      const objects = renderFleet(fleet, { capabilities, replicas: initialReplicas(fleet) });
      await expect(goldenYaml(objects)).toMatchFileSnapshot(join(root, 'test', 'golden', 'render', file));
    });
  }
});

describe('renderFleet', () => {
  it('gives every object a controller owner reference to the CR', () => {
    const cr = anUnmuteDeployment();
    for (const o of renderFleet(cr, ctx)) {
      expect(o.metadata.ownerReferences, `${o.kind}/${o.metadata.name}`).toEqual([
        { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment', name: 'demo', uid: cr.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      expect(o.metadata.namespace).toBe('default');
    }
  });

  it('selects backend pods in the Service by the serving label, which the Deployment selector leaves out', () => {
    const objs = renderFleet(anUnmuteDeployment(), ctx);
    const svc = find(objs, 'Service', 'demo-backend');
    const dep = find(objs, 'Deployment', 'demo-backend');
    expect(svc.spec.selector[LABEL_SERVING]).toBe('true');
    expect(dep.spec.selector.matchLabels[LABEL_SERVING]).toBeUndefined();
    expect(dep.spec.template.metadata.labels[LABEL_SERVING]).toBe('true');
    for (const [k, v] of Object.entries(dep.spec.selector.matchLabels)) expect(dep.spec.template.metadata.labels[k]).toBe(v);
  });

  it('makes the STT and TTS Services headless and the backend one not', () => {
    const objs = renderFleet(anUnmuteDeployment(), ctx);
    expect(find(objs, 'Service', 'demo-stt').spec.clusterIP).toBe('None');
    expect(find(objs, 'Service', 'demo-tts').spec.clusterIP).toBe('None');
    expect(find(objs, 'Service', 'demo-backend').spec.clusterIP).toBeUndefined();
  });

  it('wires the backend to STT, TTS, the LLM and Redis', () => {
    const cr = anUnmuteDeployment({
      llm: { external: undefined, inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'google/gemma-3-1b-it' } },
      redis: { inCluster: {} },
    } as never);
    const e = env(find(renderFleet(cr, ctx), 'Deployment', 'demo-backend'));
    expect(e.KYUTAI_STT_URL).toBe('ws://demo-stt.default.svc:8080');
    expect(e.KYUTAI_TTS_URL).toBe('ws://demo-tts.default.svc:8080');
    expect(e.KYUTAI_LLM_URL).toBe('http://demo-llm.default.svc:8000');
    expect(e.KYUTAI_LLM_MODEL).toBe('google/gemma-3-1b-it');
    expect(e.KYUTAI_REDIS_URL).toBe('redis://demo-redis.default.svc:6379');
  });

  it('passes an external LLM key by Secret reference, never by value', () => {
    const cr = anUnmuteDeployment({ llm: { external: { url: 'https://llm.example.com/', apiKeySecretRef: { name: 'k', key: 'api' } } } });
    const e = env(find(renderFleet(cr, ctx), 'Deployment', 'demo-backend'));
    expect(e.KYUTAI_LLM_URL).toBe('https://llm.example.com');
    expect(e.KYUTAI_LLM_API_KEY).toEqual({ secretKeyRef: { name: 'k', key: 'api' } });
  });

  it('lets a user variable replace an operator one', () => {
    const cr = anUnmuteDeployment({ backend: { env: [{ name: 'KYUTAI_STT_URL', value: 'ws://elsewhere:1' }] } });
    const containerEnv = find(renderFleet(cr, ctx), 'Deployment', 'demo-backend').spec.template.spec.containers[0].env;
    expect(containerEnv.filter((e: any) => e.name === 'KYUTAI_STT_URL')).toEqual([{ name: 'KYUTAI_STT_URL', value: 'ws://elsewhere:1' }]);
  });

  it('puts GPU tiers on the right GPU product with the GPU toleration', () => {
    const cr = anUnmuteDeployment({ gpu: { product: 'NVIDIA-L40S' }, tts: { gpu: { count: 2, product: 'NVIDIA-H100-80GB-HBM3' } } });
    const objs = renderFleet(cr, ctx);
    const stt = find(objs, 'Deployment', 'demo-stt').spec.template.spec;
    const tts = find(objs, 'Deployment', 'demo-tts').spec.template.spec;
    expect(stt.nodeSelector).toEqual({ 'nvidia.com/gpu.product': 'NVIDIA-L40S' });
    expect(stt.containers[0].resources.limits['nvidia.com/gpu']).toBe(1);
    expect(tts.nodeSelector).toEqual({ 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' });
    expect(tts.containers[0].resources.limits['nvidia.com/gpu']).toBe(2);
    expect(stt.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    const backend = find(objs, 'Deployment', 'demo-backend').spec.template.spec;
    expect(backend.tolerations).toBeUndefined();
    expect(backend.nodeSelector).toBeUndefined();
  });

  it('gives GPU tiers a startup probe that allows their model download', () => {
    const stt = find(renderFleet(anUnmuteDeployment({ stt: { startupTimeoutSeconds: 900 } }), ctx), 'Deployment', 'demo-stt');
    const probe = stt.spec.template.spec.containers[0].startupProbe;
    expect(probe.periodSeconds * probe.failureThreshold).toBeGreaterThanOrEqual(900);
  });

  it('reads the health body for backend readiness and drains in preStop', () => {
    const dep = find(renderFleet(anUnmuteDeployment({ backend: { port: 8000, drainGracePeriodSeconds: 1200 } }), ctx), 'Deployment', 'demo-backend');
    const c = dep.spec.template.spec.containers[0];
    expect(c.readinessProbe.exec.command.join(' ')).toContain('http://127.0.0.1:8000/v1/health');
    expect(c.readinessProbe.exec.command.join(' ')).toContain('body.get("ok")');
    expect(c.livenessProbe.httpGet.path).toBe('/metrics');
    expect(c.lifecycle.preStop.exec.command.join(' ')).toContain('worker_active_sessions');
    expect(dep.spec.template.spec.terminationGracePeriodSeconds).toBe(1200);
    expect(dep.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
  });

  it('uses restrictive security contexts', () => {
    for (const o of renderFleet(anUnmuteDeployment(), ctx).filter((x) => x.kind === 'Deployment') as any[]) {
      for (const c of o.spec.template.spec.containers) {
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
      }
    }
  });

  it('renders the replicas the plan gives, and the spec replicas for the rest', () => {
    const objs = renderFleet(anUnmuteDeployment(), { ...ctx, replicas: { backend: 7, stt: 2, tts: 3 } });
    expect(find(objs, 'Deployment', 'demo-backend').spec.replicas).toBe(7);
    expect(find(objs, 'Deployment', 'demo-stt').spec.replicas).toBe(2);
    expect(find(objs, 'Deployment', 'demo-tts').spec.replicas).toBe(3);
    const fixed = renderFleet(anUnmuteDeployment({ stt: { replicas: 4 } }), { ...ctx, replicas: { backend: 7 } });
    expect(find(fixed, 'Deployment', 'demo-stt').spec.replicas).toBe(4);
  });

  it('routes /api to the backend with the prefix replaced, the rest to the frontend', () => {
    const cr = anUnmuteDeployment({
      frontend: { image: 'example.com/frontend:1' },
      exposure: { gateway: { parentRefs: [{ name: 'public', namespace: 'gw' }], hostnames: ['unmute.example.com'] } },
    });
    const route = find(renderFleet(cr, ctx), 'HTTPRoute', 'demo');
    expect(route.spec.rules[0].matches[0].path).toEqual({ type: 'PathPrefix', value: '/api' });
    expect(route.spec.rules[0].filters[0].urlRewrite.path).toEqual({ type: 'ReplacePrefixMatch', replacePrefixMatch: '/' });
    expect(route.spec.rules[1].backendRefs[0]).toEqual({ name: 'demo-frontend', port: 3000 });
    expect(renderFleet(cr, { ...ctx, capabilities: { ...everything, gatewayApi: false } }).some((o) => o.kind === 'HTTPRoute')).toBe(false);
  });

  it('disables the request timeout of the /api rule only, and only where the served HTTPRoute has the field', () => {
    const cr = anUnmuteDeployment({ frontend: { image: 'example.com/frontend:1' }, exposure: { gateway: { parentRefs: [{ name: 'public' }] } } });
    const route = find(renderFleet(cr, ctx), 'HTTPRoute', 'demo');
    expect(route.spec.rules[0].timeouts).toEqual({ request: '0s' });
    expect(route.spec.rules[1].timeouts).toBeUndefined();
    // A Gateway API < v1.2 CRD refuses the field on server-side apply: the route goes without it.
    const old = find(renderFleet(cr, { ...ctx, capabilities: { ...everything, httpRouteTimeouts: false } }), 'HTTPRoute', 'demo');
    expect(old.spec.rules.map((r: { timeouts?: unknown }) => r.timeouts)).toEqual([undefined, undefined]);
  });

  it('gives the Ingress ingress-nginx\'s long read/send timeouts unless the user set their own', () => {
    const ingress = (annotations?: Record<string, string>) =>
      find(renderFleet(anUnmuteDeployment({ exposure: { ingress: { hosts: ['a.example.com'], ...(annotations ? { annotations } : {}) } } }), ctx), 'Ingress', 'demo').metadata.annotations;
    expect(ingress()).toEqual({ 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600', 'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600' });
    expect(ingress({ 'nginx.ingress.kubernetes.io/proxy-read-timeout': '86400', 'example.com/x': 'y' })).toEqual({
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '86400',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
      'example.com/x': 'y',
    });
  });

  it('skips prometheus-operator objects when the kinds are not served', () => {
    const kinds = renderFleet(anUnmuteDeployment(), { ...ctx, capabilities: { ...everything, prometheusOperator: false } }).map((o) => o.kind);
    expect(kinds).not.toContain('ServiceMonitor');
    expect(kinds).not.toContain('PrometheusRule');
  });

  it('does not change its input', () => {
    const cr = anUnmuteDeployment({ backend: { env: [{ name: 'A', value: '1' }] } });
    const before = JSON.stringify(cr);
    renderFleet(cr, ctx);
    expect(JSON.stringify(cr)).toBe(before);
  });
});
