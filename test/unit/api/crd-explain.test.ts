// kubectl conventions: `kubectl explain unmutedeployment.spec...` has something to say about every
// field, and `kubectl get umd -o wide` adds the GPU tiers to the default columns.
import { describe, expect, it } from 'vitest';
import { buildUnmuteDeploymentCrd } from '../../../src/api/v1alpha1/crd.ts';

interface Node {
  description?: string;
  properties?: Record<string, Node>;
  items?: Node;
  additionalProperties?: Node | boolean;
}

/** Named fields under `node` (what kubectl explain lists), through array items and map values. */
function* fields(node: Node, path: string): Generator<[string, Node]> {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    yield [`${path}.${name}`, child];
    yield* fields(child, `${path}.${name}`);
  }
  if (node.items) yield* fields(node.items, path);
  if (typeof node.additionalProperties === 'object') yield* fields(node.additionalProperties, path);
}

const crd = buildUnmuteDeploymentCrd() as { spec: { versions: { additionalPrinterColumns: { name: string; priority?: number; jsonPath: string }[]; schema: { openAPIV3Schema: Node } }[] } };
const version = crd.spec.versions[0]!;

describe('the CRD for kubectl', () => {
  it('describes every field under spec', () => {
    const spec = version.schema.openAPIV3Schema.properties!['spec']!;
    const all = [...fields(spec, 'spec')];
    expect(all.length).toBeGreaterThan(200);
    const missing = all.filter(([, n]) => !n.description?.trim()).map(([p]) => p);
    expect(missing).toEqual([]);
  });

  it('adds the GPU tiers as -o wide columns after the default ones', () => {
    const columns = version.additionalPrinterColumns;
    const wide = columns.filter((c) => c.priority === 1);
    expect(wide.map((c) => c.name)).toEqual(['STT', 'TTS', 'LLM', 'GPUs', 'Budget']);
    expect(columns.indexOf(wide[0]!)).toBe(columns.length - wide.length);
    expect(wide[0]!.jsonPath).toBe('.status.components.stt.readyReplicas');
  });
});
