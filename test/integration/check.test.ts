// `unmute-operator check` against a real kube-apiserver with no nodes and no operator (api mode):
// what it reports, that -f names what a CR lacks, and that it reads Prometheus selectors right.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { checkCluster } from '../../src/check/run.ts';
import { isNotFound } from '../../src/runtime/errors.ts';
import { isWriteVerb } from '../../src/runtime/request-counter.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { readVersions, thirdPartyCrdDirs } from '../../scripts/cluster/config.ts';
import { createNamespace, kubeConfig, waitFor } from '../support/cluster.ts';
import { runCheck, tempFile, theCheck } from './check-support.ts';

const FIELD_MANAGER = 'check-test';

function aCr(namespace: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'unmute.sh/v1alpha1',
    kind: 'UnmuteDeployment',
    metadata: { name: 'voice', namespace },
    spec: {
      backend: { image: 'ghcr.io/acme/unmute-backend:1' },
      stt: { image: 'ghcr.io/acme/moshi-server:1', hfTokenSecretRef: { name: 'hf-token', key: 'token' } },
      tts: { image: 'ghcr.io/acme/moshi-server:1', hfTokenSecretRef: { name: 'hf-token', key: 'token' } },
      llm: { external: { url: 'https://llm.example.com' } },
      ...spec,
    },
  };
}

describe('check on a cluster without nodes (api mode)', () => {
  let client: KubeClient;
  let ns = '';

  beforeAll(async () => {
    client = await KubeClient.fromKubeConfig(kubeConfig());
    ns = await createNamespace('check');
  });
  afterAll(async () => {
    await client.close();
  });

  it('reports the GPU check as × with a hint, passes what is there, and exits 1', async () => {
    const { code, report } = await runCheck();
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    const gpu = theCheck(report, 'gpu.nodes');
    expect(gpu.status).toBe('fail');
    expect(gpu.message).toBe('no node advertises nvidia.com/gpu (0 nodes in the cluster)');
    expect(gpu.hint).toMatch(/device plugin/);
    expect(gpu.docUrl).toMatch(/docs\/getting-started\.md#gpu-nodes$/);
    expect(theCheck(report, 'kubernetes.version').status).toBe('pass');
    expect(theCheck(report, 'kubernetes.endpointslice-conditions').status).toBe('pass');
    // The harness installs crds/ from this repository: the schema must be the binary's.
    expect(theCheck(report, 'operator.crd')).toMatchObject({ status: 'pass' });
    expect(theCheck(report, 'operator.running').status).toBe('fail');
    expect(theCheck(report, 'monitoring.crds').status).toBe('pass');
  });

  it('with -f, names the missing Secret, then the missing key, then passes', async () => {
    const file = tempFile('cr.yaml', stringify(aCr(ns)));
    const fleet = `${ns}/voice`;
    const missing = theCheck((await runCheck(['-f', file])).report, 'fleet.secrets', fleet);
    expect(missing.status).toBe('fail');
    expect(missing.message).toBe(`spec.stt.hfTokenSecretRef: Secret hf-token not found in namespace ${ns}`);
    expect(missing.hint).toBe(`kubectl -n ${ns} create secret generic hf-token --from-literal=token=...`);

    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hf-token', namespace: ns }, stringData: { other: 'x' } };
    await client.apply(secret, { fieldManager: FIELD_MANAGER });
    expect(theCheck((await runCheck(['-f', file])).report, 'fleet.secrets', fleet).message).toBe('spec.stt.hfTokenSecretRef: Secret hf-token has no key token');

    await client.apply({ ...secret, stringData: { token: 'hf_x' } }, { fieldManager: FIELD_MANAGER });
    const ok = (await runCheck(['-f', file])).report;
    expect(theCheck(ok, 'fleet.secrets', fleet).status).toBe('pass');
    expect(theCheck(ok, 'fleet.schema', fleet).status).toBe('pass');
    // The admin running it may create the CR (a SelfSubjectAccessReview, nothing stored).
    expect(theCheck(ok, 'fleet.can-apply', fleet).status).toBe('pass');
    // Nothing of the CR was created: check reads only.
    expect(await client.getIfExists({ apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' }, 'voice', ns)).toBeUndefined();
  });

  it('with -f, reports schema problems as × with the field', async () => {
    const file = tempFile('bad.yaml', stringify(aCr(ns, { backend: { image: 'x', replicas: -3 } })));
    const { code, report } = await runCheck(['-f', file]);
    expect(code).toBe(1);
    const schema = theCheck(report, 'fleet.schema', `${ns}/voice`);
    expect(schema.status).toBe('fail');
    expect(schema.details!.some((d) => d.startsWith('spec.backend.replicas'))).toBe(true);
  });

  it('checks the UnmuteDeployments already in a namespace without -f', async () => {
    await client.apply(aCr(ns) as KubeObject, { fieldManager: FIELD_MANAGER });
    const { report } = await runCheck(['-n', ns]);
    expect(theCheck(report, 'fleet.schema', `${ns}/voice`).message).toBe('parsed (cluster)');
    expect(theCheck(report, 'fleet.secrets', `${ns}/voice`).status).toBe('pass');
  });

  it('never writes: only reads (and access reviews, of which there are none without an operator)', async () => {
    const reader = await KubeClient.fromKubeConfig(kubeConfig());
    try {
      await checkCluster(reader, { namespace: undefined, operatorNamespace: undefined, now: Date.now() });
      const writes = Object.entries(reader.requests.snapshot()).filter(([k]) => isWriteVerb(k.split(' ')[0] as never));
      expect(writes).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

describe('check and a Prometheus that selects other labels', () => {
  let client: KubeClient;
  let ns = '';
  let monitoring = '';
  let crdName = '';

  beforeAll(async () => {
    client = await KubeClient.fromKubeConfig(kubeConfig());
    ns = await createNamespace('check-prom');
    monitoring = await createNamespace('monitoring');
    // The real Prometheus CRD from the pinned prometheus-operator (the harness leaves it out).
    const dir = thirdPartyCrdDirs(readVersions())[0]!;
    const file = readdirSync(dir).find((f) => f.endsWith('_prometheuses.yaml'));
    if (file === undefined) throw new Error(`no Prometheus CRD in ${dir}`);
    const crd = parseAllDocuments(readFileSync(join(dir, file), 'utf8'))[0]!.toJS() as KubeObject;
    crdName = crd.metadata.name!;
    await client.apply(crd, { fieldManager: FIELD_MANAGER, timeoutMs: 120_000 });
    await waitFor('the Prometheus CRD to be served', async () => {
      client.invalidateDiscovery('monitoring.coreos.com/v1');
      return client.isServed('monitoring.coreos.com/v1', 'Prometheus');
    });
    const selector = { matchLabels: { release: 'kps' } };
    await client.apply(
      {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'Prometheus',
        metadata: { name: 'kps', namespace: monitoring },
        spec: { serviceMonitorSelector: selector, serviceMonitorNamespaceSelector: {}, ruleSelector: selector, ruleNamespaceSelector: {} },
      },
      { fieldManager: FIELD_MANAGER },
    );
  });

  afterAll(async () => {
    await client.delete({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition' }, crdName).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
    await client.close();
  });

  it('fails a fleet whose monitoring labels it does not select, listing the selectors it looked at', async () => {
    const fleet = `${ns}/voice`;
    const r = theCheck((await runCheck(['-f', tempFile('cr.yaml', stringify(aCr(ns)))])).report, 'monitoring.prometheus', fleet);
    expect(r.status).toBe('fail');
    expect(r.message).toContain("no Prometheus selects the fleet's ServiceMonitors");
    expect(r.message).toContain('spec.monitoring.labels (none)');
    expect(r.details).toEqual([`${monitoring}/kps: serviceMonitorSelector release=kps in {} (everything); ruleSelector release=kps in {} (everything)`]);

    const labelled = aCr(ns, { monitoring: { labels: { release: 'kps' } } });
    const ok = theCheck((await runCheck(['-f', tempFile('cr.yaml', stringify(labelled))])).report, 'monitoring.prometheus', fleet);
    expect(ok).toMatchObject({ status: 'pass', message: `Prometheus ${monitoring}/kps selects the fleet's ServiceMonitors and PrometheusRule` });
  });
});
