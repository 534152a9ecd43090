import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildUnmuteDeploymentCrd, toStructural } from '../../../src/api/v1alpha1/crd.ts';
import { unmuteDeployment } from '../../../src/api/v1alpha1/unmute-deployment.ts';
import { aRawUnmuteDeployment } from '../../support/factories.ts';

const root = join(import.meta.dirname, '..', '..', '..');

/** Walks every schema node with its path. */
function* nodes(schema: unknown, path = '$'): Generator<[string, Record<string, unknown>]> {
  if (schema === null || typeof schema !== 'object') return;
  const node = schema as Record<string, unknown>;
  yield [path, node];
  for (const [k, v] of Object.entries((node['properties'] as Record<string, unknown>) ?? {})) yield* nodes(v, `${path}.${k}`);
  if (node['items']) yield* nodes(node['items'], `${path}[]`);
  if (typeof node['additionalProperties'] === 'object') yield* nodes(node['additionalProperties'], `${path}.*`);
}

describe('the UnmuteDeployment CRD', () => {
  const crd = buildUnmuteDeploymentCrd() as any;
  const version = crd.spec.versions[0];
  const schema = version.schema.openAPIV3Schema;

  it('is a structural schema: every node is typed, nothing forbidden', () => {
    for (const [path, node] of nodes(schema)) {
      const typed = 'type' in node || node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
      expect(typed, `${path} has no type`).toBe(true);
      for (const banned of ['$ref', 'uniqueItems', 'patternProperties', 'definitions', '$schema']) {
        expect(banned in node, `${path} has ${banned}`).toBe(false);
      }
      if ('properties' in node) expect('additionalProperties' in node, `${path} has both properties and additionalProperties`).toBe(false);
    }
  });

  it('has status and scale subresources pointing at the backend replicas', () => {
    expect(version.subresources.scale).toEqual({
      specReplicasPath: '.spec.backend.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
    expect(version.subresources.status).toEqual({});
  });

  it('shows ready, desired, sessions, capacity and free slots in kubectl get', () => {
    const columns = version.additionalPrinterColumns as { name: string; priority?: number }[];
    expect(columns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Ready', 'Desired', 'Sessions', 'Capacity', 'Free', 'Status', 'Age']);
  });

  it('declares conditions as a map keyed by type', () => {
    const conditions = schema.properties.status.properties.conditions;
    expect(conditions['x-kubernetes-list-type']).toBe('map');
    expect(conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
  });

  it('carries defaults from the zod schema', () => {
    const backend = schema.properties.spec.properties.backend.properties;
    expect(backend.maxSessionsPerPod.default).toBe(4);
    expect(schema.properties.spec.properties.stt.properties.slotsPerReplica.default).toBe(64);
    expect(schema.properties.spec.properties.tts.properties.slotsPerReplica.default).toBe(16);
  });

  it('rewrites quantities as int-or-string', () => {
    const sizeLimit = schema.properties.spec.properties.stt.properties.modelCache.properties.emptyDir.properties.sizeLimit;
    expect(sizeLimit).toMatchObject({ 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] });
    expect(new RegExp(sizeLimit.pattern).test('500Mi')).toBe(true);
    expect(new RegExp(sizeLimit.pattern).test('lots')).toBe(false);
  });

  it('refuses unions it cannot express structurally', () => {
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'boolean' }] })).toThrow(/unions/);
    expect(() => toStructural({ type: 'object', properties: { a: { $ref: '#/x' } } })).toThrow(/\$ref/);
  });
});

describe('the examples', () => {
  const dir = join(root, 'examples');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    it(`${file} parses with the schema`, () => {
      const parsed = unmuteDeployment.safeParse(parse(readFileSync(join(dir, file), 'utf8')));
      expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).toBe(true);
    });
  }
});

describe('schema defaults', () => {
  it('fills nested defaults from an almost empty spec', () => {
    const cr = unmuteDeployment.parse(aRawUnmuteDeployment());
    expect(cr.spec.backend.maxSessionsPerPod).toBe(4);
    expect(cr.spec.backend.port).toBe(80);
    expect(cr.spec.stt.gpu.count).toBe(1);
    expect(cr.spec.autoscaling.targetSessionsPerPod).toBe(3);
    expect(cr.spec.autoscaling.scaleDownStabilizationSeconds).toBe(120);
    expect(cr.spec.autoscaling.drainTimeoutSeconds).toBe(3600);
    expect(cr.spec.monitoring.interval).toBe('5s');
    expect(cr.spec.gpu.resource).toBe('nvidia.com/gpu');
  });
});
