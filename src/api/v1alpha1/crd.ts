// Builds the CustomResourceDefinition from the zod schema. zod's JSON Schema is close to a
// Kubernetes structural schema; the rewrites below close the gap (apiextensions-apiserver's
// structural-schema rules, summarised in docs/adr/0007-crd-from-zod.md). Nothing here is hand-maintained YAML.
import { z } from 'zod';
import {
  CATEGORIES,
  GROUP,
  KIND,
  MAX_NAME_LENGTH,
  NAME_PATTERN,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
  unmuteDeploymentSpec,
  unmuteDeploymentStatus,
} from './unmute-deployment.ts';

type Schema = Record<string, unknown>;

const JS_SAFE_INT = 9007199254740991;

/** Rewrites one zod JSON Schema node (and its children) into a structural OpenAPI v3 node. */
export function toStructural(node: unknown, path = '$'): Schema {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) {
    throw new Error(`${path}: expected a schema object`);
  }
  const src = node as Schema;
  for (const banned of ['$ref', 'definitions', '$defs', 'uniqueItems', 'patternProperties', 'dependencies']) {
    if (banned in src) throw new Error(`${path}: "${banned}" is not allowed in a structural schema`);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(src)) {
    if (key === '$schema' || key === 'id') continue;
    out[key] = value;
  }
  // int-or-string must be exactly anyOf [integer, string] with nothing inside the branches.
  if (out['x-kubernetes-int-or-string'] === true) {
    // The string branch's pattern may stay beside the anyOf (it applies to string values only),
    // so a bad quantity is refused at apply time.
    const branches = (out['anyOf'] as Schema[] | undefined) ?? [];
    const pattern = branches.find((b) => b['type'] === 'string')?.['pattern'];
    delete out['anyOf'];
    delete out['type'];
    out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
    if (typeof pattern === 'string') out['pattern'] = pattern;
    return out;
  }
  // zod marks safe-integer bounds on every .int(); they only add noise (and overflow int64 nothing).
  if (out['minimum'] === -JS_SAFE_INT) delete out['minimum'];
  if (out['maximum'] === JS_SAFE_INT) delete out['maximum'];
  if (out['type'] === 'integer' && out['format'] === 'safeint') delete out['format'];
  if ('pattern' in out && typeof out['format'] === 'string') delete out['pattern'];
  if (out['format'] === 'uri') delete out['format'];

  if (out['properties'] !== undefined) {
    const props = out['properties'] as Record<string, unknown>;
    const entries = Object.entries(props).map(([k, v]) => [k, toStructural(v, `${path}.${k}`)] as const);
    if (entries.length === 0 && out['additionalProperties'] !== undefined && isOpen(out['additionalProperties'])) {
      // z.looseObject({}): a free-form object passed through unchanged.
      delete out['properties'];
      delete out['additionalProperties'];
      out['x-kubernetes-preserve-unknown-fields'] = true;
    } else {
      out['properties'] = Object.fromEntries(entries);
      delete out['additionalProperties'];
    }
  } else if (out['additionalProperties'] !== undefined) {
    if (out['additionalProperties'] === false) delete out['additionalProperties'];
    else if (isOpen(out['additionalProperties'])) {
      delete out['additionalProperties'];
      out['x-kubernetes-preserve-unknown-fields'] = true;
    } else out['additionalProperties'] = toStructural(out['additionalProperties'], `${path}.*`);
  }
  if (out['items'] !== undefined) {
    if (Array.isArray(out['items'])) throw new Error(`${path}: tuple items are not structural`);
    out['items'] = toStructural(out['items'], `${path}[]`);
  }
  if (out['type'] === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) {
    if (out['anyOf'] !== undefined || out['oneOf'] !== undefined) {
      throw new Error(`${path}: unions other than int-or-string are not supported in the CRD`);
    }
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (out['type'] === 'object' && out['properties'] === undefined && out['additionalProperties'] === undefined) {
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  if (out['type'] === 'array' && out['items'] === undefined) throw new Error(`${path}: array without items`);
  return out;
}

function isOpen(additional: unknown): boolean {
  return additional === true || (typeof additional === 'object' && additional !== null && Object.keys(additional).length === 0);
}

function jsonSchemaOf(schema: z.ZodType): Schema {
  return z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    reused: 'inline',
    cycles: 'throw',
    unrepresentable: 'throw',
  }) as Schema;
}

/** The complete CRD object, ready to serialise. */
export function buildUnmuteDeploymentCrd(): Schema {
  const spec = toStructural(jsonSchemaOf(unmuteDeploymentSpec), '$.spec');
  spec['description'] = 'Desired state of an Unmute fleet.';
  const status = toStructural(jsonSchemaOf(unmuteDeploymentStatus), '$.status');
  status['description'] = 'What the operator observed and decided.';
  // Status is written only by the operator, which always sends whole values; no defaults there.
  stripDefaults(status);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'unmute-operator', 'app.kubernetes.io/part-of': 'unmute-operator' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES, categories: CATEGORIES },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: '.spec.backend.replicas',
              statusReplicasPath: '.status.replicas',
              labelSelectorPath: '.status.selector',
            },
          },
          additionalPrinterColumns: [
            { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready backend pods.' },
            { name: 'Desired', type: 'integer', jsonPath: '.status.desiredReplicas', description: 'Backend pods the operator aims for.' },
            { name: 'Sessions', type: 'integer', jsonPath: '.status.sessions.active', description: 'Live sessions (running + waiting).' },
            { name: 'Capacity', type: 'integer', jsonPath: '.status.sessions.capacity', description: 'Session slots on serving backends.' },
            { name: 'Free', type: 'integer', jsonPath: '.status.sessions.free', description: 'Free slots on backends in rotation: new callers start at once.' },
            { name: 'Status', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].reason" },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            // -o wide: the GPU tiers at a glance.
            { name: 'STT', type: 'integer', priority: 1, jsonPath: '.status.components.stt.readyReplicas', description: 'Ready STT pods.' },
            { name: 'TTS', type: 'integer', priority: 1, jsonPath: '.status.components.tts.readyReplicas', description: 'Ready TTS pods.' },
            { name: 'LLM', type: 'integer', priority: 1, jsonPath: '.status.components.llm.readyReplicas', description: 'Ready in-cluster LLM pods.' },
            { name: 'GPUs', type: 'integer', priority: 1, jsonPath: '.status.gpus.requested', description: 'GPUs the fleet requests.' },
            { name: 'Budget', type: 'integer', priority: 1, jsonPath: '.status.gpus.budget', description: 'spec.gpu.maxTotal.' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'UnmuteDeployment runs a whole Unmute voice-agent fleet: backend, STT, TTS, LLM and optional extras.',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status,
              },
              'x-kubernetes-validations': [
                {
                  rule: `self.metadata.name.size() <= ${MAX_NAME_LENGTH}`,
                  message: `metadata.name must be at most ${MAX_NAME_LENGTH} characters (child objects append a suffix)`,
                },
                {
                  rule: `self.metadata.name.matches('${NAME_PATTERN}')`,
                  message: 'metadata.name must be a DNS-1035 label (lowercase letters, digits and -, starting with a letter, no dots): it starts the name of every Service of the fleet',
                },
              ],
            },
          },
        },
      ],
    },
  };
}

function stripDefaults(node: unknown): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach(stripDefaults);
    return;
  }
  const obj = node as Schema;
  delete obj['default'];
  for (const value of Object.values(obj)) stripDefaults(value);
}
