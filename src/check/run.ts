// gather → checks: the whole of `check` behind the CLI, callable from tests with any client.
import type { KubeClient } from '../runtime/kube-client.ts';
import { runChecks } from './checks/index.ts';
import { gatherFacts, type GatherOptions } from './gather.ts';
import type { CheckResult } from './types.ts';

export async function checkCluster(client: KubeClient, options: GatherOptions): Promise<CheckResult[]> {
  return runChecks(await gatherFacts(client, options));
}
