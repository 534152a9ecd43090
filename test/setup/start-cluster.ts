// Shared body of the vitest global setups: one cluster per run and project, torn down at the end.
import type { TestProject } from 'vitest/node';
import { z } from 'zod';
import { checkPrerequisites, type Mode } from '../../scripts/cluster/config.ts';
import { listClusters, readClusterState, startCluster, stopCluster } from '../../scripts/cluster/harness.ts';
import { isAlive } from '../../scripts/cluster/procs.ts';
import '../support/cluster.ts';

const PREFIX = 'vt-';

// UNMUTE_CLUSTER_SKIP_REPO_CRDS=1 leaves out the repo's own crds/*.yaml (third-party CRDs are
// always installed): lets the harness's tests run while a generated CRD is being fixed.
const SkipRepoCrds = z.enum(['0', '1']).default('0');

/** Clusters of earlier runs whose owner is gone (guardian killed too, e.g. by a reboot or kill -9 of both). */
async function sweepOrphans(): Promise<void> {
  for (const name of listClusters().filter((n) => n.startsWith(PREFIX))) {
    const state = (() => {
      try {
        return readClusterState(name);
      } catch {
        return undefined;
      }
    })();
    if (!state || state.owner === null || !isAlive(state.owner)) await stopCluster(name);
  }
}

export async function setupCluster(project: TestProject, mode: Mode): Promise<() => Promise<void>> {
  // Fails with "Run `npm run cluster:build` first" when binaries or CRDs are missing.
  checkPrerequisites(mode);
  const skip = SkipRepoCrds.safeParse(process.env['UNMUTE_CLUSTER_SKIP_REPO_CRDS']);
  if (!skip.success) throw new Error('UNMUTE_CLUSTER_SKIP_REPO_CRDS must be 0 or 1');
  await sweepOrphans();
  const name = `${PREFIX}${mode}-${Date.now().toString(36)}-${process.pid}`;
  // Owned by this (the main vitest) process: a guardian stops the cluster if vitest dies.
  // Full mode: the aggregation layer is on by default; the HPA controller syncs every second (for
  // the KEDA test: the real HPA at Kubernetes' 15 s would make it slow, not different).
  const cluster = await startCluster({ name, mode, repoCrds: skip.data === '0', ...(mode === 'full' ? { hpa: { syncPeriod: '1s' } } : {}) });
  process.stderr.write(`[cluster] ${name} (${mode}) ready in ${cluster.startupMs} ms, KUBECONFIG=${cluster.kubeconfigPath}\n`);
  project.provide('clusterName', name);
  project.provide('clusterMode', mode);
  project.provide('kubeconfig', cluster.kubeconfigPath);
  if (cluster.netns && cluster.kubeconfigInNetnsPath) {
    project.provide('netns', cluster.netns);
    project.provide('kubeconfigInNetns', cluster.kubeconfigInNetnsPath);
  }
  return async () => {
    await cluster.stop();
  };
}
