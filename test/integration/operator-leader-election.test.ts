// Two operator processes (`unmute-operator run`, different --identity, the default lease timings
// 15 s / 10 s / 2 s): exactly one leads and only it reconciles and writes; when it is SIGKILLed (no
// lease release, as a crashed pod) the other takes over once the lease has expired, and the time
// this takes is measured and bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaderElectionDefaults, leaderElectionJitter } from '../../src/runtime/leader-election.ts';
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject, TypeRef } from '../../src/runtime/object.ts';
import { clusterInfo, createNamespace, waitFor } from '../support/cluster.ts';
import {
  applyCr,
  createReferencedSecrets,
  loadExample,
  metricSum,
  metricValue,
  patchSpec,
  spawnOperator,
  stopOperators,
  UMD,
  type OperatorProcess,
  type RawCr,
} from '../support/operator.ts';
import { aKubeClient } from './runtime-support.ts';

const DEPLOYMENT: TypeRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const LEASE: TypeRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
const LEASE_NAME = 'unmute-operator-leader-test';
const { leaseDurationMs, retryPeriodMs } = leaderElectionDefaults;
const WRITE_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

interface DeploymentLike extends KubeObject {
  spec: { template: { spec: { containers: Array<{ image: string }> } } };
}

const isLeader = async (p: OperatorProcess) => metricValue(await p.metrics(), 'leader_election_master_status') === 1;
/**
 * Writes the API server accepted. Both processes start at once and may both try to create the
 * missing Lease; the loser's refused POST (409) writes nothing.
 */
const writesOf = async (p: OperatorProcess) => {
  const text = await p.metrics();
  return WRITE_METHODS.reduce((n, method) => n + ['200', '201'].reduce((m, code) => m + metricSum(text, 'rest_client_requests_total', { method, code }), 0), 0);
};
const reconcilesOf = async (p: OperatorProcess) => metricSum(await p.metrics(), 'controller_runtime_reconcile_total');
/** Log lines of finished reconciles of `key` (debug level), after `fromIndex`. */
const reconcileLogs = (p: OperatorProcess, key: string, fromIndex = 0) =>
  p
    .logs()
    .slice(fromIndex)
    .filter((l) => l['unmuteDeployment'] === key && typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('reconciled'));

describe('two operator processes', () => {
  let client: KubeClient;
  let namespace = '';
  let cr: RawCr;
  let a: OperatorProcess;
  let b: OperatorProcess;
  let leader: OperatorProcess;
  let follower: OperatorProcess;

  const getCr = () => client.get<RawCr>(UMD, cr.metadata.name!, namespace);
  const backendImage = async () => (await client.getIfExists<DeploymentLike>(DEPLOYMENT, `${cr.metadata.name}-backend`, namespace))?.spec.template.spec.containers[0]?.image;

  beforeAll(async () => {
    ({ client } = await aKubeClient());
    namespace = await createNamespace('op-leader');
    [cr] = loadExample('external-llm.yaml', namespace) as [RawCr];
    await createReferencedSecrets(client, cr);
    await applyCr(client, cr);
    const common = {
      kubeconfig: clusterInfo().kubeconfig,
      leaderElectionNamespace: namespace,
      leaderElectionId: LEASE_NAME,
      logLevel: 'debug' as const,
      extraArgs: ['--namespace', namespace],
    };
    [a, b] = await Promise.all([spawnOperator({ ...common, identity: 'operator-a' }), spawnOperator({ ...common, identity: 'operator-b' })]);
  });

  afterAll(async () => {
    await stopOperators();
    await client?.close();
  });

  it('lets exactly one of them lead, and only the leader reconciles and writes', async () => {
    leader = await waitFor('a leader', async () => ((await isLeader(a)) ? a : (await isLeader(b)) ? b : undefined), { timeoutMs: 30_000 });
    follower = leader === a ? b : a;
    const lease = await client.get<KubeObject & { spec: { holderIdentity?: string } }>(LEASE, LEASE_NAME, namespace);
    expect(lease.spec.holderIdentity).toBe(leader.identity);
    expect(metricValue(await follower.metrics(), 'leader_election_master_status')).toBe(0);

    await waitFor('the leader to build the fleet', async () => {
      const c = await getCr();
      return c.status?.['observedGeneration'] === c.metadata.generation && (await backendImage()) !== undefined;
    });
    // A spec change is carried out by the leader alone.
    const leaderLogsBefore = leader.logs().length;
    await patchSpec(client, namespace, cr.metadata.name!, { backend: { image: 'registry.example.com/unmute/backend:1.5.0' } });
    await waitFor('the Deployment to follow', async () => (await backendImage()) === 'registry.example.com/unmute/backend:1.5.0');
    const key = `${namespace}/${cr.metadata.name}`;
    await waitFor('the leader to log the reconcile', () => reconcileLogs(leader, key, leaderLogsBefore).length > 0);
    expect(reconcileLogs(leader, key, leaderLogsBefore).every((l) => l['identity'] === leader.identity)).toBe(true);

    // The follower keeps warm caches but never reconciled and never wrote anything (it only reads the Lease).
    expect(reconcileLogs(follower, key)).toEqual([]);
    expect(await reconcilesOf(follower)).toBe(0);
    expect(await writesOf(follower)).toBe(0);
    expect(await reconcilesOf(leader)).toBeGreaterThan(0);
    expect(await writesOf(leader)).toBeGreaterThan(0);
    // Warm caches: the follower reports ready, so a takeover needs no cold start.
    expect((await fetch(`${follower.healthUrl}/readyz`)).status).toBe(200);
  });

  it('hands the lead to the other process within the lease duration after the leader is killed', async () => {
    const transitionsBefore = Number((await client.get<KubeObject & { spec: { leaseTransitions?: number } }>(LEASE, LEASE_NAME, namespace)).spec.leaseTransitions ?? 0);
    await leader.kill();
    const killedAt = Date.now();
    await waitFor('the follower to lead', () => isLeader(follower), { timeoutMs: 40_000, intervalMs: 100 });
    const takeoverMs = Date.now() - killedAt;
    // Expiry is judged from when the follower last saw the record change (up to one jittered retry
    // after the leader's last renewal), plus up to one more jittered retry to notice it: so at most
    // lease + 2 × retry × (1 + jitter); and never before the last renewal's lease ran out.
    const upper = leaseDurationMs + 2 * retryPeriodMs * (1 + leaderElectionJitter) + 1_000;
    const lower = leaseDurationMs - retryPeriodMs;
    console.info(`leader takeover after SIGKILL: ${takeoverMs} ms (lease ${leaseDurationMs} ms, retry ${retryPeriodMs} ms; bound ${lower}..${upper} ms)`);
    expect(takeoverMs).toBeLessThanOrEqual(upper);
    expect(takeoverMs).toBeGreaterThanOrEqual(lower);

    const lease = await client.get<KubeObject & { spec: { holderIdentity?: string; leaseTransitions?: number } }>(LEASE, LEASE_NAME, namespace);
    expect(lease.spec).toMatchObject({ holderIdentity: follower.identity, leaseTransitions: transitionsBefore + 1 });

    // The new leader does the work from now on.
    const logsBefore = follower.logs().length;
    await patchSpec(client, namespace, cr.metadata.name!, { backend: { image: 'registry.example.com/unmute/backend:1.6.0' } });
    await waitFor('the new leader to update the Deployment', async () => (await backendImage()) === 'registry.example.com/unmute/backend:1.6.0');
    // Its reconcile finishes (and logs) after the Deployment write: wait for the line, not only the write.
    await waitFor('the new leader to log the reconcile', () => reconcileLogs(follower, `${namespace}/${cr.metadata.name}`, logsBefore).length > 0);
    expect(await writesOf(follower)).toBeGreaterThan(0);
  });
});
