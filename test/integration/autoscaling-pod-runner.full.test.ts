// The pod runner plays the kubelet for simulated backends on a cluster where KWOK leaves
// terminating pods alone (podDeletion 'external'): a pod with a preStop hook keeps its sessions
// until they end (at most its grace period), then gets SIGTERM (1012 for what is left) and is
// deleted; a pod without preStop gets SIGTERM at once. This file starts its own cluster in that
// mode (the project's shared cluster deletes pods itself).
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARKER_ENV } from '../../scripts/cluster/config.ts';
import { startCluster, type Cluster } from '../../scripts/cluster/harness.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { KWOK_READY_DELAY_ANNOTATION } from '../../src/sim/fleet/pod-runner.ts';
import { waitFor } from '../support/cluster.ts';
import { FleetControlClient, sleep } from './autoscaling-support.ts';

const NS = 'runner';
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;

interface Pod extends KubeObject {
  status?: { startTime?: string; podIP?: string };
}

function deployment(name: string, opts: { preStop: boolean; grace: number; startDelay?: string }): KubeObject {
  const labels = { app: name };
  return {
    ...DEPLOYMENT,
    metadata: { name, namespace: NS, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, ...(opts.startDelay ? { annotations: { [KWOK_READY_DELAY_ANNOTATION]: opts.startDelay } } : {}) },
        spec: {
          terminationGracePeriodSeconds: opts.grace,
          containers: [
            {
              name: 'backend',
              image: 'sim.invalid/unmute-backend:sim',
              ports: [{ name: 'http', containerPort: 8000 }],
              ...(opts.preStop ? { lifecycle: { preStop: { exec: { command: ['python3', '-c', 'wait for sessions'] } } } } : {}),
            },
          ],
        },
      },
    },
  };
}

describe('the pod runner on a cluster with podDeletion external', () => {
  let cluster: Cluster;
  const children: ChildProcess[] = [];
  const controls: Record<string, FleetControlClient> = {};

  const startFleet = async (name: string) => {
    const socket = join(tmpdir(), `umf-pr-${name}-${process.pid}.sock`);
    const child = spawn('ip', ['netns', 'exec', cluster.netns!, process.execPath, 'src/sim/cli/main.ts', 'fleet', '--namespace', NS, '--selector', `app=${name}`, '--service', name, '--control-socket', socket, '--strategy', 'least-connections', '--duration', '600'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigInNetnsPath!, [MARKER_ENV]: cluster.name },
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('sim-fleet ready', () => /sim-fleet ready/.test(out), { timeoutMs: 30_000 });
    controls[name] = new FleetControlClient(socket);
  };
  const pods = async (name: string) => (await client.list<Pod>(POD, { namespace: NS, labelSelector: `app=${name}` })).items;
  let client: KubeClient;
  const scale = (name: string, replicas: number) => client.patch(DEPLOYMENT, name, NS, { spec: { replicas } }, 'merge', { subresource: 'scale' });
  const runningWorker = async (name: string) =>
    waitFor(`a running worker for ${name}`, async () => {
      const s = await controls[name]!.state();
      return s.endpoints.length === 1 && s.workers.some((w) => w.state === 'running') ? s : undefined;
    }, { timeoutMs: 30_000 });

  beforeAll(async () => {
    cluster = await startCluster({ name: `as-pr-${process.pid}`, mode: 'full', podDeletion: 'external', repoCrds: false });
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    client = await KubeClient.fromKubeConfig(kc);
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    for (const [name, opts] of [
      ['drained', { preStop: true, grace: 30 }],
      ['cut', { preStop: false, grace: 30, startDelay: '2s' }],
    ] as const) {
      await client.create(deployment(name, opts));
      await client.create({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } });
      await startFleet(name);
    }
  });

  afterAll(async () => {
    for (const c of children) {
      try {
        process.kill(-c.pid!, 'SIGTERM');
      } catch {
        // gone
      }
    }
    await sleep(500);
    await client?.close();
    await cluster?.stop();
  });

  it('keeps a pod Pending, without an IP, for the start delay its annotation asks for', async () => {
    const [pod] = await pods('cut');
    const created = Date.parse(pod!.metadata.creationTimestamp!);
    const s = await runningWorker('cut');
    const running = await pods('cut');
    const started = Date.parse(running[0]!.status!.startTime!);
    expect(started - created).toBeGreaterThanOrEqual(1000); // 2 s asked; timestamps have 1 s resolution
    expect(s.workers[0]!.ip).toBe(running[0]!.status!.podIP);
  });

  it('waits in preStop while the pod has sessions, then deletes it: nothing is cut', async () => {
    await runningWorker('drained');
    await controls['drained']!.openSessions(2);
    await controls['drained']!.heldBy(2);
    await scale('drained', 0);
    const terminating = await waitFor('the pod terminating', async () => (await pods('drained')).find((p) => p.metadata?.deletionTimestamp != null), { timeoutMs: 10_000 });
    await sleep(3000);
    expect((await pods('drained')).map((p) => p.metadata?.name)).toEqual([terminating.metadata?.name]);
    const waiting = await controls['drained']!.state();
    expect(waiting.sessions.open).toBe(2);
    expect(waiting.workers[0]!.state).toBe('prestop');
    await controls['drained']!.endSessions(1);
    await sleep(1500);
    expect(await pods('drained')).toHaveLength(1);
    await controls['drained']!.endSessions(1);
    await waitFor('the pod deleted', async () => (await pods('drained')).length === 0, { timeoutMs: 10_000 });
    const after = await controls['drained']!.state();
    expect(after.sessions.closeCodes['1012'] ?? 0).toBe(0);
    expect(after.totals).toMatchObject({ cutSessions: 0, preStopDrained: 1 });
  });

  it('gives up waiting at the grace period: what is left is closed with 1012', async () => {
    await scale('drained', 1);
    const s = await runningWorker('drained');
    await controls['drained']!.openSessions(1);
    await controls['drained']!.heldBy(1);
    const pod = s.workers.find((w) => w.state === 'running')!.pod;
    const t0 = Date.now();
    await client.delete(POD, pod, NS, { gracePeriodSeconds: 3 });
    await waitFor('the session cut', async () => ((await controls['drained']!.state()).sessions.closeCodes['1012'] ?? 0) === 1, { timeoutMs: 15_000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2500);
    await waitFor('the pod deleted', async () => !(await pods('drained')).some((p) => p.metadata?.name === pod), { timeoutMs: 10_000 });
  });

  it('stops a pod without preStop at once, cutting its sessions with 1012 (the baseline)', async () => {
    await controls['cut']!.openSessions(3);
    await controls['cut']!.heldBy(3);
    const t0 = Date.now();
    await scale('cut', 0);
    await waitFor('3 sessions cut', async () => ((await controls['cut']!.state()).sessions.closeCodes['1012'] ?? 0) === 3, { timeoutMs: 10_000 });
    expect(Date.now() - t0).toBeLessThan(5000);
    await waitFor('the pod deleted', async () => (await pods('cut')).length === 0, { timeoutMs: 10_000 });
    expect((await controls['cut']!.state()).totals.cutSessions).toBe(3);
  });
});
