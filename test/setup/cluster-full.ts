// vitest globalSetup of project `full`: control plane, scheduler, controllers and KWOK nodes
// inside the cluster's own network namespace, for the whole run.
import type { TestProject } from 'vitest/node';
import { setupCluster } from './start-cluster.ts';

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return setupCluster(project, 'full');
}
