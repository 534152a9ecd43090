// Bad input gets a clear answer and never a half-applied fleet: each spec below is either refused by
// the API server at apply time (schema or CEL in the generated CRD; the test asserts its message), or
// accepted and then answered by the operator with Ready=False, reason InvalidSpec and a message
// naming the problem, with no child object created. The controller runs in-process, scoped to this
// file's namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApiError } from '../../src/runtime/errors.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { TypeRef } from '../../src/runtime/object.ts';
import { createNamespace, kubeConfig, waitFor } from '../support/cluster.ts';
import { aRawUnmuteDeployment } from '../support/factories.ts';
import {
  SECRET,
  UMD,
  conditionOf,
  objectsControlledBy,
  servedOwnedKinds,
  startInProcessController,
  type InProcessController,
  type RawCr,
} from '../support/operator.ts';
import { aKubeClient } from './runtime-support.ts';

/** A valid CR (external LLM, no Secrets) with `spec` merged in; `undefined` values delete fields. */
function anUnmuteDeployment(name: string, namespace: string, spec: Record<string, unknown> = {}): RawCr {
  const raw = aRawUnmuteDeployment(spec);
  return { apiVersion: raw.apiVersion, kind: raw.kind, metadata: { name, namespace }, spec: raw.spec };
}

interface Rejected {
  sentence: string;
  name?: string;
  spec: Record<string, unknown>;
  /** Substrings of the API server's message. */
  message: string[];
}

const rejectedAtApply: Rejected[] = [
  {
    sentence: 'refuses a resource quantity that is not a quantity',
    spec: { backend: { resources: { requests: { cpu: 'lots' } } } },
    message: ['spec.backend.resources.requests.cpu', 'should match'],
  },
  {
    sentence: 'refuses autoscaling.minReplicas above autoscaling.maxReplicas',
    spec: { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 } },
    message: ['spec.autoscaling', 'autoscaling.minReplicas must not exceed autoscaling.maxReplicas'],
  },
  {
    sentence: 'refuses an LLM that is both in-cluster and external',
    spec: { llm: { inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'google/gemma-3-1b-it' } } },
    message: ['spec.llm', 'llm needs exactly one of inCluster or external'],
  },
  {
    sentence: 'refuses an LLM that is neither in-cluster nor external',
    spec: { llm: { external: undefined } },
    message: ['spec.llm', 'llm needs exactly one of inCluster or external'],
  },
  {
    sentence: 'refuses a Redis that is both in-cluster and external',
    spec: { redis: { inCluster: {}, external: { url: 'redis://redis.example.com:6379' } } },
    message: ['spec.redis', 'redis needs exactly one of inCluster or external'],
  },
  {
    sentence: 'refuses exposure through both a Gateway and an Ingress',
    spec: { exposure: { gateway: { parentRefs: [{ name: 'public' }] }, ingress: { hosts: ['unmute.example.com'] } } },
    message: ['spec.exposure', 'exposure takes gateway or ingress, not both'],
  },
  {
    sentence: 'refuses a name longer than 40 characters',
    name: 'a-fleet-name-that-is-far-too-long-for-children',
    spec: {},
    message: ['metadata.name must be at most 40 characters'],
  },
  {
    sentence: 'refuses a port above 65535',
    spec: { backend: { port: 70000 } },
    message: ['spec.backend.port', 'less than or equal to 65535'],
  },
  {
    sentence: 'refuses negative replicas',
    spec: { backend: { replicas: -1 } },
    message: ['spec.backend.replicas', 'greater than or equal to 0'],
  },
  {
    sentence: 'refuses targetSessionsPerPod above maxSessionsPerPod when autoscaling is on',
    spec: { backend: { maxSessionsPerPod: 4 }, autoscaling: { enabled: true, targetSessionsPerPod: 6 } },
    message: ['autoscaling.targetSessionsPerPod must not exceed backend.maxSessionsPerPod'],
  },
  {
    sentence: 'refuses a backend without an image',
    spec: { backend: { image: undefined } },
    message: ['spec.backend.image', 'Required value'],
  },
  {
    sentence: 'refuses an unknown scrapeKind',
    spec: { monitoring: { scrapeKind: 'Probe' } },
    message: ['spec.monitoring.scrapeKind', 'Unsupported value: "Probe"'],
  },
  {
    sentence: 'refuses a monitoring interval that is not a Prometheus duration',
    spec: { monitoring: { interval: '5 seconds' } },
    message: ['spec.monitoring.interval', 'should match'],
  },
  {
    sentence: 'refuses metrics.source Prometheus without a Prometheus to ask',
    spec: { autoscaling: { enabled: true, metrics: { source: 'Prometheus' } } },
    message: ['metrics.prometheus is required when metrics.source is Prometheus'],
  },
  {
    sentence: 'refuses a model cache that is both an emptyDir and a PersistentVolumeClaim',
    spec: { stt: { modelCache: { emptyDir: {}, persistentVolumeClaim: { claimName: 'models' } } } },
    message: ['spec.stt.modelCache', 'set emptyDir or persistentVolumeClaim, not both'],
  },
  {
    sentence: 'refuses an image of spaces, saying what an image reference is',
    spec: { backend: { image: '   ' } },
    message: ['spec.backend.image', 'must be an image reference such as registry.example.com/unmute/backend:1.4.0'],
  },
  {
    sentence: 'refuses a fleet name with a dot, which no Service could carry',
    name: 'my.fleet',
    spec: {},
    message: ['metadata.name must be a DNS-1035 label'],
  },
  {
    sentence: 'refuses an LLM URL that is not http or https',
    spec: { llm: { external: { url: 'file:///etc/passwd' } } },
    message: ['llm.external.url must start with http:// or https:// followed by a host'],
  },
  {
    sentence: 'refuses credentials inside the LLM URL',
    spec: { llm: { external: { url: 'https://user:sk-123@llm.example.com' } } },
    message: ['llm.external.url must not carry credentials: use apiKeySecretRef'],
  },
  {
    sentence: 'refuses a password inside the Redis URL',
    spec: { redis: { external: { url: 'redis://:hunter2@cache.example.com:6379' } } },
    message: ['redis.external.url must not carry credentials: use passwordSecretRef'],
  },
  {
    sentence: 'refuses a runbook URL that is not http or https',
    spec: { monitoring: { alerts: { runbookBaseUrl: 'javascript:alert(1)' } } },
    message: ['alerts.runbookBaseUrl must start with http:// or https://'],
  },
  {
    sentence: 'refuses a constant target label that would overwrite histogram buckets',
    spec: { monitoring: { targetLabels: { le: 'x' } } },
    message: ['spec.monitoring.targetLabels', 'not be one the scrape configuration sets'],
  },
  {
    sentence: 'refuses a scrape timeout longer than the interval',
    spec: { monitoring: { interval: '5s', scrapeTimeout: '10s' } },
    message: ['monitoring.scrapeTimeout must not exceed monitoring.interval'],
  },
  {
    sentence: 'refuses a pod-deletion-cost set from the spec, naming the key',
    spec: { backend: { podAnnotations: { 'controller.kubernetes.io/pod-deletion-cost': '-2147483648', team: 'voice' } } },
    message: ['podAnnotations may not set controller.kubernetes.io/pod-deletion-cost'],
  },
  {
    sentence: 'refuses the operator\'s own labels set from the spec, naming the key',
    spec: { stt: { podLabels: { 'unmute.sh/serving': 'true' } } },
    message: ['podLabels may not set keys under unmute.sh/'],
  },
  {
    sentence: 'refuses a drain timeout shorter than one autoscaling interval',
    spec: { autoscaling: { intervalSeconds: 30, drainTimeoutSeconds: 10 } },
    message: ['autoscaling.drainTimeoutSeconds must be at least one interval'],
  },
];

interface Answered {
  sentence: string;
  spec: Record<string, unknown>;
  /** Substrings of the Ready condition's message. */
  message: string[];
}

const SECRET_VALUE = 'sk-do-not-leak-0123456789';

const answeredWithInvalidSpec: Answered[] = [
  {
    sentence: 'answers a reference to a Secret that does not exist with InvalidSpec',
    spec: { llm: { external: { apiKeySecretRef: { name: 'no-such-secret', key: 'key' } } } },
    message: ['spec.llm.external.apiKeySecretRef: Secret "no-such-secret" not found'],
  },
  {
    sentence: 'answers a reference to a Secret key that does not exist with InvalidSpec',
    spec: { llm: { external: { apiKeySecretRef: { name: 'llm-api-key', key: 'api-key' } } } },
    message: ['spec.llm.external.apiKeySecretRef: Secret "llm-api-key" has no key "api-key"'],
  },
  {
    sentence: 'answers an external LLM URL ending in /v1 with InvalidSpec',
    spec: { llm: { external: { url: 'https://llm.example.com/v1' } } },
    message: ['spec.llm.external.url must not end in /v1'],
  },
  {
    sentence: 'answers a GPU budget below what the smallest fleet needs with InvalidSpec',
    spec: { gpu: { maxTotal: 1 } },
    message: ['spec.gpu.maxTotal is 1 but the fleet needs 2 GPUs at its smallest'],
  },
  {
    sentence: 'answers an in-cluster LLM without a GPU with InvalidSpec',
    spec: { llm: { external: undefined, inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'google/gemma-3-1b-it', gpu: { count: 0 } } } },
    message: ['vLLM needs a GPU'],
  },
];

describe('invalid UnmuteDeployments', () => {
  let client: KubeClient;
  let operator: InProcessController;
  let namespace = '';
  let kinds: TypeRef[] = [];
  let n = 0;
  const answered: RawCr[] = [];

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('op-invalid');
    kinds = await servedOwnedKinds(client);
    // Present, but without the key one case asks for; its value must never show up in status.
    await client.create({ ...SECRET, metadata: { name: 'llm-api-key', namespace }, data: { key: Buffer.from(SECRET_VALUE).toString('base64') } });
    operator = await startInProcessController({ kubeConfig: kubeConfig(), namespace });
  });

  afterAll(async () => {
    await operator?.stop();
    await client?.close();
  });

  describe('rejected by the API server at apply', () => {
    for (const c of rejectedAtApply) {
      it(c.sentence, async () => {
        const cr = anUnmuteDeployment(c.name ?? `rejected-${++n}`, namespace, c.spec);
        const err = await client.create(cr).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, 'the API server accepted it').toBeInstanceOf(KubeApiError);
        const apiErr = err as KubeApiError;
        expect(apiErr.code).toBe(422);
        expect(apiErr.reason).toBe('Invalid');
        for (const part of c.message) expect(apiErr.message).toContain(part);
        expect(await client.getIfExists(UMD, cr.metadata.name!, namespace)).toBeUndefined();
      });
    }
  });

  describe('kubectl scale with autoscaling on', () => {
    it('is refused with the reason, and the backend count stays with the autoscaler', async () => {
      const cr = await client.create(anUnmuteDeployment('scaled', namespace, { autoscaling: { enabled: true, minReplicas: 1, maxReplicas: 4 } }));
      const err = await client.patch(UMD, cr.metadata.name!, namespace, { spec: { replicas: 7 } }, 'merge', { subresource: 'scale' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).message).toContain('backend.replicas cannot change while autoscaling is enabled (kubectl scale is refused)');
      const live = await client.get<RawCr>(UMD, cr.metadata.name!, namespace);
      expect((live.spec['backend'] as { replicas?: number }).replicas ?? 1).toBe(1);
      // Without autoscaling the scale subresource sets the backend count as before.
      const plain = await client.create(anUnmuteDeployment('plain-scale', namespace));
      await client.patch(UMD, plain.metadata.name!, namespace, { spec: { replicas: 3 } }, 'merge', { subresource: 'scale' });
      expect(((await client.get<RawCr>(UMD, plain.metadata.name!, namespace)).spec['backend'] as { replicas: number }).replicas).toBe(3);
    });
  });

  describe('accepted, then answered with Ready=False InvalidSpec and nothing created', () => {
    for (const c of answeredWithInvalidSpec) {
      it(c.sentence, async () => {
        const created = await client.create(anUnmuteDeployment(`invalid-${++n}`, namespace, c.spec));
        answered.push(created);
        const live = await waitFor('the InvalidSpec condition', async () => {
          const cr = await client.get<RawCr>(UMD, created.metadata.name!, namespace);
          return conditionOf(cr, 'Ready')?.reason === 'InvalidSpec' ? cr : undefined;
        });
        const ready = conditionOf(live, 'Ready')!;
        expect(ready.status).toBe('False');
        expect(ready.observedGeneration).toBe(live.metadata.generation);
        expect(live.status?.['observedGeneration']).toBe(live.metadata.generation);
        for (const part of c.message) expect(ready.message).toContain(part);
        expect(conditionOf(live, 'Progressing')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
        expect(JSON.stringify(live.status)).not.toContain(SECRET_VALUE);
        expect(await objectsControlledBy(client, kinds, namespace, created.metadata.uid!)).toEqual([]);
      });
    }

    it('still has created nothing for any of them after another reconcile of each', async () => {
      expect(answered.length).toBe(answeredWithInvalidSpec.length);
      const before = operator.reconciles();
      const keys = operator.resyncAll();
      await waitFor('the resync', () => operator.reconciles() >= before + keys.length);
      for (const cr of answered) {
        expect(await objectsControlledBy(client, kinds, namespace, cr.metadata.uid!), cr.metadata.name).toEqual([]);
        expect(conditionOf(await client.get<RawCr>(UMD, cr.metadata.name!, namespace), 'Ready')?.reason).toBe('InvalidSpec');
      }
      // Every InvalidSpec answer is also a Warning event on the object.
      const events = await client.list<{ metadata: { name?: string }; reason?: string; regarding?: { name?: string } } & { kind: string; apiVersion: string }>(
        { apiVersion: 'events.k8s.io/v1', kind: 'Event' },
        { namespace },
      );
      for (const cr of answered) {
        expect(events.items.some((e) => e.reason === 'InvalidSpec' && e.regarding?.name === cr.metadata.name), `event for ${cr.metadata.name}`).toBe(true);
      }
    });
  });
});
