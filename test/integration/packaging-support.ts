// Shared by the packaging integration tests (test/integration/packaging-*.test.ts): objects from
// YAML, server-side applies through the project's client, a token kubeconfig for the operator
// process, and the examples with the Secrets they refer to.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { KubeApiError } from '../../src/runtime/errors.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; generation?: number };
  [key: string]: unknown;
}

export const FIELD_MANAGER = 'unmute-packaging-test';

export function objects(stream: string): Obj[] {
  return parseAllDocuments(stream)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(d.errors[0]!.message);
      return d.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
}

/** Server-side apply as FIELD_MANAGER (force), for real. */
export function apply(client: KubeClient, o: Obj): Promise<Obj> {
  return client.apply(o, { fieldManager: FIELD_MANAGER });
}

/**
 * Server-side apply with dryRun=All: what the API server says about `o`, as readable lines (its
 * rejection and its warnings, e.g. PodSecurity's); empty when it accepts `o` silently.
 */
export async function dryRunProblems(client: KubeClient, o: Obj): Promise<string[]> {
  const what = `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const problems: string[] = [];
  try {
    await client.apply(o, { fieldManager: FIELD_MANAGER, dryRun: true, onWarning: (w) => problems.push(`${what}: warning ${w}`) });
  } catch (err) {
    if (!(err instanceof KubeApiError)) throw err;
    problems.unshift(`${what}: HTTP ${err.code} ${err.message.slice(0, 400)}`);
  }
  return problems;
}

/**
 * A kubeconfig that authenticates with `token` against the cluster of `baseKubeconfig` (same
 * server and CA), written to a temp file: what the operator pod would get from its ServiceAccount.
 */
export function tokenKubeconfig(baseKubeconfig: string, token: string): string {
  const base = parse(readFileSync(baseKubeconfig, 'utf8')) as { clusters: { name: string; cluster: Record<string, unknown> }[]; 'current-context': string; contexts: { name: string; context: { cluster: string } }[] };
  const context = base.contexts.find((c) => c.name === base['current-context']) ?? base.contexts[0]!;
  const cluster = base.clusters.find((c) => c.name === context.context.cluster)!;
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [cluster],
    users: [{ name: 'operator', user: { token } }],
    contexts: [{ name: 'operator', context: { cluster: cluster.name, user: 'operator' } }],
    'current-context': 'operator',
  };
  const file = join(mkdtempSync(join(tmpdir(), 'unmute-sa-')), 'kubeconfig');
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}

/** The container args the chart gives the operator, from its rendered Deployment. */
export function operatorArgs(rendered: Obj[]): string[] {
  const d = rendered.find((o) => o.kind === 'Deployment');
  if (d === undefined) throw new Error('the chart rendered no Deployment');
  const containers = (d['spec'] as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers;
  return containers[0]!.args;
}

/** The example CRs, each moved into `namespaceFor(name)`. */
export function exampleCrs(root: string, files: string[], namespaceFor: (file: string, cr: Obj) => string): { file: string; cr: Obj }[] {
  return files.flatMap((file) =>
    objects(readFileSync(join(root, 'examples', file), 'utf8'))
      .filter((o) => o.kind === 'UnmuteDeployment')
      .map((cr) => ({ file, cr: { ...cr, metadata: { ...cr.metadata, namespace: namespaceFor(file, cr) } } })),
  );
}

/** Secrets an example refers to, with a dummy value under the referenced key. */
export function referencedSecrets(cr: Obj): Obj[] {
  const found = new Map<string, Set<string>>();
  const walk = (v: unknown, field: string) => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, field));
    else if (v !== null && typeof v === 'object') {
      const rec = v as Record<string, unknown>;
      if (/SecretRef$/.test(field) && typeof rec['name'] === 'string' && typeof rec['key'] === 'string') {
        const keys = found.get(rec['name']) ?? new Set<string>();
        keys.add(rec['key']);
        found.set(rec['name'], keys);
      }
      for (const [k, x] of Object.entries(rec)) walk(x, k);
    }
  };
  walk(cr['spec'], 'spec');
  return [...found].map(([name, keys]) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: cr.metadata.namespace! },
    stringData: Object.fromEntries([...keys].map((k) => [k, 'test-value'])),
  }));
}

/**
 * Resolves with `wait`, or rejects as soon as `process` exits (with its output): a crashed operator
 * fails the test at once instead of after the whole timeout.
 */
export async function unlessExited<T>(wait: Promise<T>, process: { exited: Promise<unknown>; output(): string }): Promise<T> {
  const exited = process.exited.then(() => {
    throw new Error(`the operator exited; its output:\n${process.output().slice(-6000)}`);
  });
  return Promise.race([wait, exited]);
}
