// Shared by the packaging tests: the chart rendered by the real helm binary, parsed into objects.
import { parseAllDocuments } from 'yaml';
import { helmTemplate, type HelmTemplateOptions } from '../../../scripts/packaging.ts';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Every object of a YAML stream (empty documents skipped); throws on a YAML error. */
export function parseObjects(stream: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(stream)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function render(opts: HelmTemplateOptions = {}): K8sObject[] {
  return parseObjects(helmTemplate(opts));
}

export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

/**
 * Whether `rules` allow `verb` on `group`/`resource` (wildcards count, so a test would catch them);
 * with `name`, on that one object (rules limited by resourceNames count then).
 */
export function grants(rules: PolicyRule[], group: string, resource: string, verb: string, name?: string): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups ?? []).some((g) => g === group || g === '*') &&
      (r.resources ?? []).some((res) => res === resource || res === '*') &&
      r.verbs.some((v) => v === verb || v === '*') &&
      (r.resourceNames === undefined || r.resourceNames.length === 0 || (name !== undefined && r.resourceNames.includes(name))),
  );
}
