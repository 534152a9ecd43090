// vitest globalSetup of project `integration`: etcd + kube-apiserver for the whole run.
import type { TestProject } from 'vitest/node';
import { setupCluster } from './start-cluster.ts';

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return setupCluster(project, 'api');
}
