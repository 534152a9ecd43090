import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetChecks } from '../../../src/check/checks/fleet.ts';
import { runChecks } from '../../../src/check/checks/index.ts';
import { fleetsFromYaml, fleetReferences } from '../../../src/check/fleets.ts';
import { factError, factOk } from '../../../src/check/types.ts';
import { aFleet, anOperator, byId, healthyFacts, one } from './support.ts';

const root = join(import.meta.dirname, '..', '..', '..');

describe('reading -f', () => {
  it('parses the examples, fills the namespace, lists other documents', () => {
    const text = `apiVersion: v1\nkind: Secret\nmetadata: {name: hf-token}\n---\n${readFileSync(join(root, 'examples/external-llm.yaml'), 'utf8')}`;
    const { fleets, ignored } = fleetsFromYaml(text, 'x.yaml', 'fallback');
    expect(ignored).toEqual(['x.yaml#1: Secret hf-token']);
    expect(fleets).toHaveLength(1);
    expect(fleets[0]!.parsed.ok).toBe(true);
  });

  it('reports schema problems, and YAML errors, instead of throwing', () => {
    const bad = 'apiVersion: unmute.sh/v1alpha1\nkind: UnmuteDeployment\nmetadata: {name: x}\nspec:\n  backend: {image: a, replicas: -1}\n';
    const { fleets } = fleetsFromYaml(bad + '---\nkind: [unclosed\n', 'bad.yaml', 'ns');
    expect(fleets[0]).toMatchObject({ namespace: 'ns', name: 'x', parsed: { ok: false } });
    const problems = fleets[0]!.parsed.ok ? [] : fleets[0]!.parsed.problems;
    expect(problems.some((p) => p.startsWith('spec.backend.replicas'))).toBe(true);
    expect(problems.some((p) => p.startsWith('spec.stt'))).toBe(true);
    expect(fleets[1]!.parsed.ok).toBe(false);
  });

  it('finds every Secret, claim and Gateway a CR names', () => {
    const { fleets } = fleetsFromYaml(readFileSync(join(root, 'examples/multi-gpu-production.yaml'), 'utf8'), 'p.yaml', 'x');
    const refs = fleetReferences(fleets[0]!.parsed.ok ? fleets[0]!.parsed.fleet : (undefined as never));
    expect(new Set(refs.secrets.map((s) => `${s.name}:${s.key}`))).toEqual(new Set(['hf-token:token']));
    expect(new Set(refs.claims.map((c) => c.name))).toEqual(new Set(['unmute-models']));
    expect(refs.gateways).toEqual([{ namespace: 'gateways', name: 'public' }]);
  });
});

describe('the fleet checks', () => {
  const withSecret = aFleet({ stt: { hfTokenSecretRef: { name: 'hf-token', key: 'token' } } });

  it('fail a missing Secret, naming it, the field and the namespace', () => {
    const r = one(fleetChecks(healthyFacts({ secrets: { 'default/hf-token': factOk(undefined) } }), withSecret), 'fleet.secrets');
    expect(r.status).toBe('fail');
    expect(r.message).toBe('spec.stt.hfTokenSecretRef: Secret hf-token not found in namespace default');
    expect(r.hint).toBe('kubectl -n default create secret generic hf-token --from-literal=token=...');
  });

  it('fail a Secret without the key, pass one with it, warn when it cannot be read', () => {
    const check = (s: Parameters<typeof healthyFacts>[0]) => one(fleetChecks(healthyFacts(s), withSecret), 'fleet.secrets');
    expect(check({ secrets: { 'default/hf-token': factOk({ keys: ['other'] }) } }).message).toContain('has no key token');
    expect(check({ secrets: { 'default/hf-token': factOk({ keys: ['token'] }) } }).status).toBe('pass');
    expect(check({ secrets: { 'default/hf-token': factError('forbidden') } }).status).toBe('warn');
  });

  it('fail the placeholder images of the examples', () => {
    const fleet = aFleet({ backend: { image: 'registry.example.com/unmute/backend:latest' } });
    const r = one(fleetChecks(healthyFacts(), fleet), 'fleet.images');
    expect(r.status).toBe('fail');
    expect(r.message).toContain('registry.example.com/unmute/backend:latest');
    expect(one(fleetChecks(healthyFacts(), aFleet({ backend: { image: 'ghcr.io/acme/unmute-backend:1' }, stt: { image: 'ghcr.io/acme/moshi:1' }, tts: { image: 'ghcr.io/acme/moshi:1' } })), 'fleet.images').status).toBe('pass');
  });

  it('fail a missing claim and warn about a ReadWriteOnce claim shared by several pods', () => {
    const fleet = aFleet({ stt: { modelCache: { persistentVolumeClaim: { claimName: 'models' } } }, tts: { modelCache: { persistentVolumeClaim: { claimName: 'models' } } } });
    expect(one(fleetChecks(healthyFacts({ persistentVolumeClaims: { 'default/models': factOk(undefined) } }), fleet), 'fleet.volumes').status).toBe('fail');
    const rwo = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'models' }, spec: { accessModes: ['ReadWriteOnce'] }, status: { phase: 'Bound' } };
    const r = one(fleetChecks(healthyFacts({ persistentVolumeClaims: { 'default/models': factOk(rwo) } }), fleet), 'fleet.volumes');
    expect(r.status).toBe('warn');
    expect(r.message).toContain('shared by 2 pods');
  });

  it('fail a namespace that does not exist', () => {
    expect(one(fleetChecks(healthyFacts({ namespaces: { default: factOk(undefined) } }), aFleet()), 'fleet.namespace').hint).toBe('kubectl create namespace default');
  });

  it('fail a fleet outside the namespace a namespaced operator watches', () => {
    const r = one(fleetChecks(healthyFacts({ operators: factOk([anOperator({ watchNamespace: 'team-a' })]) }), aFleet()), 'fleet.watched');
    expect(r.status).toBe('fail');
  });

  it('fail what validation would refuse (GPU budget too small)', () => {
    const r = one(fleetChecks(healthyFacts(), aFleet({ gpu: { maxTotal: 1 } })), 'fleet.schema');
    expect(r.status).toBe('fail');
    expect(r.message).toContain('spec.gpu.maxTotal is 1');
  });
});

describe('runChecks', () => {
  it('still checks a file against the schema when the cluster cannot be reached', () => {
    const { fleets } = fleetsFromYaml('apiVersion: unmute.sh/v1alpha1\nkind: UnmuteDeployment\nmetadata: {name: x}\nspec: {}\n', 'f.yaml', 'ns');
    const r = runChecks(healthyFacts({ server: factError('refused'), fleets }));
    expect(r.map((x) => [x.id, x.status])).toEqual([
      ['kubernetes.reachable', 'fail'],
      ['fleet.schema', 'fail'],
    ]);
  });

  it('says where it looked when there is no fleet', () => {
    const r = one(runChecks(healthyFacts({ fleetScope: { fromFile: false, namespace: 'voice' } })), 'fleet.none');
    expect(r.message).toContain('namespace voice');
    expect(byId(runChecks(healthyFacts({ fleets: [aFleet()] })), 'fleet.none')).toEqual([]);
  });
});

describe('the Hugging Face token check', () => {
  it('warns about moshi-server tiers without a token, and not when one is given', () => {
    const r = one(fleetChecks(healthyFacts(), aFleet()), 'fleet.hf-token');
    expect(r.status).toBe('warn');
    expect(r.message).toContain('spec.stt, spec.tts');
    const token = { hfTokenSecretRef: { name: 'hf-token', key: 'token' } };
    expect(byId(fleetChecks(healthyFacts(), aFleet({ stt: token, tts: token })), 'fleet.hf-token')).toEqual([]);
  });
});

describe('the may-I-apply check (-f)', () => {
  it('fails when the user may not create the CR there, passes when allowed, says nothing without -f', () => {
    expect(one(fleetChecks(healthyFacts({ canApply: { default: factOk(false) } }), aFleet()), 'fleet.can-apply').status).toBe('fail');
    expect(one(fleetChecks(healthyFacts({ canApply: { default: factOk(true) } }), aFleet()), 'fleet.can-apply').status).toBe('pass');
    expect(byId(fleetChecks(healthyFacts(), aFleet()), 'fleet.can-apply')).toEqual([]);
  });
});
