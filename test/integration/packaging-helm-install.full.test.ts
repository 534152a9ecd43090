// `helm install` of the chart into the full-mode cluster (scheduler, controllers, KWOK nodes,
// PodSecurity "restricted" enforced on the release namespace), then the operator, running as the
// installed ServiceAccount with the installed Deployment's flags, brings an example to Ready=True.
// KWOK runs no containers: the installed pods become Ready without running the image, so the
// operator itself runs as a local process inside the cluster's netns.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, helm } from '../../scripts/packaging.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import { clusterInfo, createNamespace, kubeClient, serviceAccountToken, spawnInNetns, stopNetnsProcesses, waitFor } from '../support/cluster.ts';
import { apply, exampleCrs, referencedSecrets, tokenKubeconfig, unlessExited, type Obj } from './packaging-support.ts';

const root = join(import.meta.dirname, '..', '..');
// Skip condition of the Ready=True case: the `run` command (src/cli/commands/run.ts) must exist.
const operatorAvailable = existsSync(join(root, 'src', 'cli', 'commands', 'run.ts'));

const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;

interface DeploymentStatus {
  spec: { replicas: number; template: { spec: { containers: { args: string[] }[]; serviceAccountName: string } } };
  status?: { readyReplicas?: number; availableReplicas?: number };
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

describe('helm install into a full-mode cluster', () => {
  let client: KubeClient;
  let release = '';
  let installed = false;

  beforeAll(async () => {
    client = await kubeClient();
    release = await createNamespace('pkg-helm');
    await apply(client, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: release, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
  });

  afterAll(async () => {
    await stopNetnsProcesses();
    if (installed) await helm(['uninstall', release, '--namespace', release, '--kubeconfig', clusterInfo().kubeconfig, '--wait', '--timeout', '2m']);
  });

  it('installs, and both operator replicas become Ready under PodSecurity "restricted"', async () => {
    await helm([
      'install', release, join(root, CHART_DIR),
      '--namespace', release,
      '--kubeconfig', clusterInfo().kubeconfig,
      // Never pulled: KWOK only simulates the pods.
      '--set', 'image.repository=registry.invalid/unmute-operator',
      '--set', 'serviceMonitor.enabled=true',
      '--set', 'prometheusRule.enabled=true',
      // Other processes may share the cluster's netns; the local operator below binds these.
      '--set', 'metrics.port=18090',
      '--set', 'health.port=18091',
      '--wait', '--timeout', '3m',
    ]);
    installed = true;
    const deployments = await client.list<Obj & DeploymentStatus>(DEPLOYMENT, { namespace: release });
    expect(deployments.items).toHaveLength(1);
    const d = deployments.items[0]!;
    expect(d.spec.replicas).toBe(2);
    expect(d.status?.readyReplicas).toBe(2);
    const status = JSON.parse(await helm(['status', release, '--namespace', release, '--kubeconfig', clusterInfo().kubeconfig, '-o', 'json'])) as { info: { status: string } };
    expect(status.info.status).toBe('deployed');
  });

  it.skipIf(!operatorAvailable)('brings an example to Ready=True, running as the installed ServiceAccount', async () => {
    expect(installed, 'the chart must be installed by the previous test').toBe(true);
    const list = await client.list<Obj & DeploymentStatus>(DEPLOYMENT, { namespace: release });
    const podSpec = list.items[0]!.spec.template.spec;
    const token = await serviceAccountToken(release, podSpec.serviceAccountName);
    const kubeconfig = tokenKubeconfig(clusterInfo().kubeconfigInNetns!, token);
    const operator = spawnInNetns(process.execPath, [join(root, 'src', 'cli', 'main.ts'), ...podSpec.containers[0]!.args], {
      env: { KUBECONFIG: kubeconfig, POD_NAME: `${release}-local`, POD_NAMESPACE: release },
    });

    const target = await createNamespace('pkg-dev');
    const cr = exampleCrs(root, ['single-gpu-dev.yaml'], () => target)[0]!.cr;
    for (const s of referencedSecrets(cr)) await apply(client, s);
    await apply(client, cr);

    const readyWait = waitFor(
      `Ready=True on ${target}/${cr.metadata.name}`,
      async () => {
        const live = await client.get<Obj & { status?: { conditions?: Condition[] } }>(cr, cr.metadata.name, cr.metadata.namespace);
        const c = live.status?.conditions?.find((x) => x.type === 'Ready');
        return c?.status === 'True' ? c : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 1_000 },
    );
    const ready = await unlessExited(readyWait, operator).catch((err: Error) => {
      throw new Error(`${err.message}\noperator output (tail):\n${operator.output().slice(-4000)}`);
    });
    expect(ready.status).toBe('True');
    expect(operator.output()).not.toMatch(/\b403\b|forbidden/i);
  });
});
