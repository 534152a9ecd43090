// No Secret value and no credential ever leaves the Secret: the operator's logs (at debug level),
// the Events it records, the fleet's status and every object it creates are scanned for the values.
// Secret values reach pods only by reference (secretKeyRef), the Redis password by $(VAR) expansion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import { createNamespace, kubeClient, kubeConfig, waitFor } from '../support/cluster.ts';
import { aRawUnmuteDeployment } from '../support/factories.ts';
import { SECRET, UMD, conditionOf, objectsControlledBy, servedOwnedKinds, startInProcessController, type InProcessController, type RawCr } from '../support/operator.ts';

const VALUES = {
  hf: 'hf_secretvalue_0123456789abcdef',
  llm: 'sk-llm-key-do-not-leak-9876543210',
  redis: 'redis-password-do-not-leak-4242',
};

describe('secrets stay secret', () => {
  let client: KubeClient;
  let operator: InProcessController;
  let namespace = '';

  beforeAll(async () => {
    client = await kubeClient();
    namespace = await createNamespace('op-secrets');
    const secret = (name: string, key: string, value: string) =>
      client.create({ ...SECRET, metadata: { name, namespace }, data: { [key]: Buffer.from(value).toString('base64') } });
    await secret('hf-token', 'token', VALUES.hf);
    await secret('llm-key', 'key', VALUES.llm);
    await secret('redis-password', 'password', VALUES.redis);
    operator = await startInProcessController({ kubeConfig: kubeConfig(), namespace, logLevel: 'debug' });
  });

  afterAll(async () => {
    await operator?.stop();
    await client?.close();
  });

  it('appear in no log line, Event, status or child object, for a valid fleet and for one with a wrong key', async () => {
    const raw = aRawUnmuteDeployment({
      stt: { hfTokenSecretRef: { name: 'hf-token', key: 'token' } },
      tts: { hfTokenSecretRef: { name: 'hf-token', key: 'token' } },
      llm: { external: undefined, inCluster: { image: 'vllm/vllm-openai:v0.11.0', model: 'm', apiKeySecretRef: { name: 'llm-key', key: 'key' }, hfTokenSecretRef: { name: 'hf-token', key: 'token' } } },
      redis: { external: { url: 'rediss://cache.example.com:6380/0', passwordSecretRef: { name: 'redis-password', key: 'password' } } },
    });
    const good = await client.create<RawCr>({ apiVersion: raw.apiVersion, kind: raw.kind, metadata: { name: 'keys', namespace }, spec: raw.spec });
    const wrong = await client.create<RawCr>({
      apiVersion: raw.apiVersion,
      kind: raw.kind,
      metadata: { name: 'wrong-key', namespace },
      spec: { ...raw.spec, stt: { ...(raw.spec['stt'] as object), hfTokenSecretRef: { name: 'llm-key', key: 'token' } } },
    });
    await waitFor('both fleets reconciled', async () => {
      const a = conditionOf(await client.get<RawCr>(UMD, 'keys', namespace), 'Ready');
      const b = conditionOf(await client.get<RawCr>(UMD, 'wrong-key', namespace), 'Ready');
      return a !== undefined && b?.reason === 'InvalidSpec';
    });

    const kinds = await servedOwnedKinds(client);
    const children = await objectsControlledBy(client, kinds, namespace, good.metadata.uid!);
    const backend = children.find((o) => o.kind === 'Deployment' && o.metadata.name === 'keys-backend') as { spec: { template: { spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[] } } } } | undefined;
    const env = Object.fromEntries((backend?.spec.template.spec.containers[0]?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    expect(env['KYUTAI_LLM_API_KEY']).toEqual({ secretKeyRef: { name: 'llm-key', key: 'key' } });
    expect(env['UNMUTE_REDIS_PASSWORD']).toEqual({ secretKeyRef: { name: 'redis-password', key: 'password' } });
    expect(env['KYUTAI_REDIS_URL']).toBe('rediss://:$(UNMUTE_REDIS_PASSWORD)@cache.example.com:6380/0');

    const events = await client.list({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace });
    const haystacks: Array<[string, string]> = [
      ['operator logs', JSON.stringify(operator.logs())],
      ['events', JSON.stringify(events.items)],
      ['status of keys', JSON.stringify((await client.get<RawCr>(UMD, 'keys', namespace)).status)],
      ['status of wrong-key', JSON.stringify((await client.get<RawCr>(UMD, 'wrong-key', namespace)).status)],
      ['children', JSON.stringify(children)],
      ['wrong-key children', JSON.stringify(await objectsControlledBy(client, kinds, namespace, wrong.metadata.uid!))],
    ];
    // The logs must have said something, or the scan proves nothing.
    expect(operator.logs().length).toBeGreaterThan(10);
    for (const [where, text] of haystacks) {
      for (const [name, value] of Object.entries(VALUES)) {
        expect(text.includes(value), `${name} value found in ${where}`).toBe(false);
        expect(text.includes(Buffer.from(value).toString('base64')), `${name} value (base64) found in ${where}`).toBe(false);
      }
    }
    const token = kubeConfig().getCurrentUser()?.token;
    if (token) for (const [where, text] of haystacks) expect(text.includes(token), `the API token found in ${where}`).toBe(false);
  });
});
