// npm run bench:apply-cost [-- --copies 300 --example single-gpu-dev.yaml --concurrency 16]
//
// What each child of a fleet costs the API server, to say where a thousand fleets' first reconcile
// goes (bench:reconcile is bound by the API server's CPU on a 2-core machine). On a fresh api-mode
// cluster (etcd + kube-apiserver, no controllers, no watchers), the example's children are rendered
// for --copies fleets and server-side applied kind by kind, as the operator applies them (its field
// manager, its applied-hash annotation, force, metadata-only answers); for each child the CPU time of kube-apiserver and etcd
// (/proc/<pid>/stat) is divided by the copies. In the real run the watchers, the fleets' own writes
// and a larger heap roughly double it. Prints a table and, last, one JSON line.
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { z } from 'zod';
import { clusterProcesses, startCluster } from '../scripts/cluster/harness.ts';
import { cpuSecondsOf } from '../scripts/cluster/procs.ts';
import { ANNOTATION_APPLIED_HASH } from '../src/api/v1alpha1/labels.ts';
import { FIELD_MANAGER } from '../src/controller/reconciler.ts';
import { parseUnmuteDeployment } from '../src/controller/validate.ts';
import { renderFleet } from '../src/render/index.ts';
import { withAppliedHash } from '../src/runtime/apply.ts';
import { KubeClient } from '../src/runtime/kube-client.ts';
import type { KubeObject } from '../src/runtime/object.ts';
import { ensureNamespace, loadExample, type RawCr } from '../test/support/operator.ts';

const { values } = parseArgs({ options: { copies: { type: 'string' }, example: { type: 'string' }, concurrency: { type: 'string' } }, strict: true });
const args = z
  .object({
    copies: z.coerce.number().int().min(10).max(5000).default(300),
    example: z.string().regex(/^[a-z0-9-]+\.yaml$/).default('single-gpu-dev.yaml'),
    concurrency: z.coerce.number().int().min(1).max(64).default(16),
  })
  .parse(values);
const log = (m: string) => process.stderr.write(`bench:apply-cost: ${m}\n`);

const name = `apply-cost-${process.pid}`;
const cluster = await startCluster({ name, mode: 'api', log });
const kc = new KubeConfig();
kc.loadFromFile(cluster.kubeconfigPath);
const client = await KubeClient.fromKubeConfig(kc, { requestTimeoutMs: 60_000 });
const rows: Array<{ child: string; cpuMs: number; wallMs: number }> = [];
try {
  const pids = clusterProcesses(name);
  /** CPU seconds of kube-apiserver and etcd so far. */
  const cpuSeconds = () => pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  const [template] = loadExample(args.example) as [RawCr];
  const namespace = 'apply-cost';
  await ensureNamespace(client, namespace);
  const fleets = Array.from({ length: args.copies }, (_, i) => {
    const parsed = parseUnmuteDeployment({ ...template, metadata: { ...template.metadata, name: `f${i}`, namespace, uid: `uid-${i}` } });
    if (!parsed.ok) throw new Error(parsed.problems.join('; '));
    const capabilities = { prometheusOperator: true, gatewayApi: true, httpRouteTimeouts: true, grafanaOperator: true, nodeDrains: true };
    return renderFleet(parsed.fleet, { capabilities, replicas: { backend: 1 } });
  });
  // The same child of every copy: its kind and its name without the fleet's.
  const childOf = (o: KubeObject, i: number) => `${o.kind} ${String(o.metadata.name).replace(`f${i}`, '<fleet>')}`;
  const children = fleets[0]!.map((o) => childOf(o, 0));
  log(`${children.length} children per fleet, ${args.copies} copies each`);
  for (const child of children) {
    const objects = fleets.map((objs, i) => objs.find((o) => childOf(o, i) === child)!);
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: args.concurrency }, async () => {
        while (next < objects.length) await client.apply(withAppliedHash(objects[next++]!, ANNOTATION_APPLIED_HASH), { fieldManager: FIELD_MANAGER, force: true, metadataOnly: true });
      }),
    );
    rows.push({ child, cpuMs: ((cpuSeconds() - cpu0) * 1000) / args.copies, wallMs: (performance.now() - t0) / args.copies });
  }
} finally {
  await client.close().catch(() => undefined);
  await cluster.stop();
}
const width = Math.max(...rows.map((r) => r.child.length));
const round = (x: number) => Math.round(x * 100) / 100;
for (const r of rows) process.stdout.write(`${r.child.padEnd(width)}  ${r.cpuMs.toFixed(2).padStart(6)} ms CPU  ${r.wallMs.toFixed(2).padStart(6)} ms wall\n`);
const total = rows.reduce((s, r) => s + r.cpuMs, 0);
process.stdout.write(`${'per fleet'.padEnd(width)}  ${total.toFixed(1).padStart(6)} ms CPU (kube-apiserver + etcd)\n\n`);
process.stdout.write(JSON.stringify({ bench: 'apply-cost', copies: args.copies, example: args.example, children: rows.map((r) => ({ ...r, cpuMs: round(r.cpuMs), wallMs: round(r.wallMs) })), perFleetCpuMs: round(total) }) + '\n');
