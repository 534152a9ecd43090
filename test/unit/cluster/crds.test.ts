// How the harness installs CRDs: every object server-side applied, then each CRD polled until
// Established, failing at once when its names are refused and after the deadline otherwise.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installCrds, readManifests, waitForCrdsEstablished } from '../../../scripts/cluster/crds.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { json, RecordingTransport } from '../runtime/support/recording-transport.ts';

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

function crd(name: string, conditions: Array<{ type: string; status: string; message?: string }> | null = []) {
  return { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name }, spec: {}, status: { conditions } };
}

const ESTABLISHED = [{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True' }];

const dir = mkdtempSync(join(tmpdir(), 'unmute-crds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function file(content: string): string {
  const path = join(dir, `bundle-${files++}.yaml`);
  writeFileSync(path, content);
  return path;
}

describe('installCrds', () => {
  it('applies every object of the files, then polls each CRD until it is Established', async () => {
    const gets = new Map<string, number>();
    const transport = new RecordingTransport((req) => {
      if (req.path === '/apis/admissionregistration.k8s.io/v1') {
        return json(200, { resources: [{ name: 'validatingadmissionpolicies', kind: 'ValidatingAdmissionPolicy', namespaced: false }] });
      }
      if (req.method !== 'GET') return json(200, JSON.parse(req.body ?? '{}'));
      const name = req.path.slice(CRDS.length + 1);
      const n = (gets.get(name) ?? 0) + 1;
      gets.set(name, n);
      // widgets becomes Established on the third read (fresh CRDs have conditions: null).
      return json(200, crd(name, name === 'widgets.example.com' && n < 3 ? null : ESTABLISHED));
    });
    const path = file(
      [
        'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {}',
        'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: gadgets.example.com}\nspec: {}',
        'apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: safe-upgrades}\nspec: {}',
      ].join('\n---\n'),
    );
    expect(await installCrds(new KubeClient(transport), [path], 5_000)).toBe(2);
    const writes = transport.requests.filter((r) => r.method === 'PATCH');
    expect(writes.map((r) => [r.path, r.contentType, r.query?.['fieldManager']])).toEqual([
      [`${CRDS}/widgets.example.com`, 'application/apply-patch+yaml', 'unmute-cluster-harness'],
      [`${CRDS}/gadgets.example.com`, 'application/apply-patch+yaml', 'unmute-cluster-harness'],
      ['/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/safe-upgrades', 'application/apply-patch+yaml', 'unmute-cluster-harness'],
    ]);
    expect(Object.fromEntries(gets)).toEqual({ 'widgets.example.com': 3, 'gadgets.example.com': 1 });
  });

  it('refuses a file with a kind it does not install', () => {
    const path = file('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}');
    expect(() => readManifests(path)).toThrow(/v1 ConfigMap is not a kind the harness installs/);
  });
});

describe('waitForCrdsEstablished', () => {
  it('fails at once when the CRD names are not accepted', async () => {
    const conflict = [{ type: 'NamesAccepted', status: 'False', message: '"widgets" is already in use' }];
    const transport = new RecordingTransport(() => json(200, crd('widgets.example.com', conflict)));
    await expect(waitForCrdsEstablished(new KubeClient(transport), ['widgets.example.com'], 60_000)).rejects.toThrow(
      'CRD widgets.example.com: names not accepted: "widgets" is already in use',
    );
    expect(transport.requests).toHaveLength(1);
  });

  it('gives up after the deadline', async () => {
    const transport = new RecordingTransport(() => json(200, crd('widgets.example.com')));
    await expect(waitForCrdsEstablished(new KubeClient(transport), ['widgets.example.com'], 50, 10)).rejects.toThrow('CRD widgets.example.com not Established after 50 ms');
    expect(transport.requests.length).toBeGreaterThan(2);
  });
});
