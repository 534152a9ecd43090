// The operator, run with nothing but the chart's ServiceAccount token and the chart's own
// command-line flags, reconciles every example without being denied anything (no 403 in its logs).
// KWOK runs no containers, so the operator runs as a local process inside the cluster's netns.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helmTemplate } from '../../scripts/packaging.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import { clusterInfo, createNamespace, kubeClient, serviceAccountToken, spawnInNetns, stopNetnsProcesses, waitFor, type NetnsProcess } from '../support/cluster.ts';
import { apply, exampleCrs, objects, operatorArgs, referencedSecrets, tokenKubeconfig, unlessExited, type Obj } from './packaging-support.ts';

const root = join(import.meta.dirname, '..', '..');
// Skip condition: the `run` command (src/cli/commands/run.ts) is what this test exercises.
const operatorAvailable = existsSync(join(root, 'src', 'cli', 'commands', 'run.ts'));
const EXAMPLES = ['external-llm.yaml', 'multi-gpu-production.yaml', 'single-gpu-dev.yaml'];
// Ports other than the chart defaults: other processes may share the netns.
const PORTS = { metrics: { port: 18080 }, health: { port: 18081 } };

describe.skipIf(!operatorAvailable)("operator RBAC: reconciling the examples as the chart's ServiceAccount", () => {
  let client: KubeClient;
  const clusterScoped: Obj[] = [];
  let release = '';
  let operator: NetnsProcess | undefined;
  let crs: { file: string; cr: Obj }[] = [];

  beforeAll(async () => {
    client = await kubeClient();
    release = await createNamespace('pkg-op');
    const rendered = objects(helmTemplate({ releaseName: release, namespace: release, values: PORTS }));
    // The identity and grants exactly as the chart installs them; not the Deployment (KWOK would not run it).
    for (const o of rendered.filter((x) => /^(ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/.test(x.kind))) {
      await apply(client, o);
      if (o.kind.startsWith('Cluster')) clusterScoped.push(o);
    }
    const sa = rendered.find((o) => o.kind === 'ServiceAccount')!;
    const token = await serviceAccountToken(release, sa.metadata.name);
    const kubeconfig = tokenKubeconfig(clusterInfo().kubeconfigInNetns!, token);

    const namespaces = new Map<string, string>();
    for (const file of EXAMPLES) namespaces.set(file, await createNamespace('pkg-ex'));
    crs = exampleCrs(root, EXAMPLES, (file) => namespaces.get(file)!);
    for (const { cr } of crs) for (const s of referencedSecrets(cr)) await apply(client, s);

    operator = spawnInNetns(process.execPath, [join(root, 'src', 'cli', 'main.ts'), ...operatorArgs(rendered)], {
      env: { KUBECONFIG: kubeconfig, POD_NAME: `${release}-0`, POD_NAMESPACE: release },
    });
    for (const { cr } of crs) await apply(client, cr);
  });

  afterAll(async () => {
    await stopNetnsProcesses();
    for (const o of clusterScoped) await client.delete(o, o.metadata.name);
  });

  it('reconciles every example (status.observedGeneration catches up) and creates its workloads', async () => {
    for (const { file, cr } of crs) {
      const reconciled = waitFor(
        `${file}: status.observedGeneration of ${cr.metadata.namespace}/${cr.metadata.name}`,
        async () => {
          const live = await client.get<Obj & { status?: { observedGeneration?: number } }>(cr, cr.metadata.name, cr.metadata.namespace);
          return (live.status?.observedGeneration ?? 0) >= (live.metadata.generation ?? 1);
        },
        { timeoutMs: 120_000, intervalMs: 1_000 },
      );
      await unlessExited(reconciled, operator!).catch((err: Error) => {
        throw new Error(`${err.message}\noperator output (tail):\n${operator!.output().slice(-4000)}`);
      });
      const deployments = await client.list({ apiVersion: 'apps/v1', kind: 'Deployment' }, { namespace: cr.metadata.namespace });
      expect(deployments.items.length, `${file}: Deployments the operator created`).toBeGreaterThanOrEqual(3);
    }
  });

  it('was never denied: no 403 or "forbidden" in its logs', () => {
    const output = operator!.output();
    const denied = output.split('\n').filter((l) => /\b403\b|forbidden/i.test(l));
    expect(denied).toEqual([]);
  });
});
