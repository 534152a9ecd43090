// docs/getting-started.md against a real API server: every manifest in it passes
// `apply --dry-run=server`, and the guide's own steps (Secret, Gateway, the sed that sets the
// registry, `check -f`) lead where the guide says.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { isAlreadyExists } from '../../src/runtime/errors.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { kubeConfig } from '../support/cluster.ts';
import { runCheck, tempFile, theCheck } from './check-support.ts';

const root = join(import.meta.dirname, '..', '..');
const guide = readFileSync(join(root, 'docs/getting-started.md'), 'utf8');
const FIELD_MANAGER = 'getting-started-test';

function blocks(lang: string): string[] {
  return [...guide.matchAll(new RegExp('^( *)```' + lang + '\\n([\\s\\S]*?)^\\1```', 'gm'))].map((m) =>
    m[2]!
      .split('\n')
      .map((l) => l.slice(m[1]!.length))
      .join('\n'),
  );
}

const yamlDocs = blocks('yaml').flatMap((b) => parseAllDocuments(b).map((d) => d.toJS() as unknown));
const manifests = yamlDocs.filter((d): d is KubeObject => typeof d === 'object' && d !== null && 'apiVersion' in d && 'kind' in d);
const sh = blocks('sh').join('\n');

describe('docs/getting-started.md', () => {
  let client: KubeClient;

  beforeAll(async () => {
    client = await KubeClient.fromKubeConfig(kubeConfig());
    // `kubectl create namespace unmute`, as the guide does before applying anything.
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'unmute' } }).catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
  });
  afterAll(async () => {
    await client.close();
  });

  it('has the manifests the steps refer to', () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(['Gateway', 'PersistentVolumeClaim', 'UnmuteDeployment']);
    expect(yamlDocs.length).toBe(manifests.length + 1); // plus kps-values.yaml
  });

  for (const m of manifests) {
    it(`${m.kind} ${m.metadata.name} passes apply --dry-run=server`, async () => {
      await client.apply(m, { fieldManager: FIELD_MANAGER, dryRun: true });
      expect(await client.getIfExists(m, m.metadata.name!, m.metadata.namespace)).toBeUndefined();
    });
  }

  it('leads to a CR that check passes once the registry is set, the Secret and the Gateway exist', async () => {
    const cr = manifests.find((m) => m.kind === 'UnmuteDeployment')!;
    const file = tempFile('unmute.yaml', blocks('yaml').find((b) => b.includes('kind: UnmuteDeployment'))!);
    const fleet = `${cr.metadata.namespace}/${cr.metadata.name}`;

    const before = (await runCheck(['-f', file])).report;
    expect(theCheck(before, 'fleet.schema', fleet).status).toBe('pass');
    expect(theCheck(before, 'fleet.images', fleet).status).toBe('fail');
    expect(theCheck(before, 'fleet.secrets', fleet).message).toContain('Secret hf-token not found');

    // The guide's steps: the Secret, the Gateway (and a class standing in for the user's), the sed line.
    await client.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hf-token', namespace: 'unmute' }, stringData: { token: 'hf_x' } }, { fieldManager: FIELD_MANAGER });
    const gateway = manifests.find((m) => m.kind === 'Gateway')!;
    await client.apply(gateway, { fieldManager: FIELD_MANAGER });
    const className = (gateway['spec'] as { gatewayClassName: string }).gatewayClassName;
    await client.apply({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: className }, spec: { controllerName: 'example.com/test-gateway' } }, { fieldManager: FIELD_MANAGER });
    const sed = sh.split('\n').find((l) => l.startsWith('sed -i') && l.includes('unmute.yaml'))!;
    execFileSync('bash', ['-c', sed.replace('unmute.yaml', JSON.stringify(file))], { env: { ...process.env, REGISTRY: 'ghcr.io/acme', TAG: 'v7' } });
    expect(readFileSync(file, 'utf8')).toContain('image: ghcr.io/acme/unmute-backend:v7');

    const after = (await runCheck(['-f', file])).report;
    for (const id of ['fleet.schema', 'fleet.images', 'fleet.secrets', 'exposure.gateway']) expect(theCheck(after, id, fleet).status, id).toBe('pass');
    expect(theCheck(after, 'monitoring.prometheus', fleet).message).toContain('release=kps');
  });
});
