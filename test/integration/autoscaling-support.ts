// Shared by the autoscaling-*.full.test.ts files: an operator process and a simulated fleet (pod
// runner + clients, src/sim/fleet) inside the cluster's network namespace, a control client for
// the fleet (unix socket), and reads of the objects the tests assert on.
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { clusterInfo, spawnInNetns, waitFor, type NetnsProcess } from '../support/cluster.ts';
import type { FleetControlState } from '../../src/sim/fleet/control.ts';
import { operatorFleetTargets } from '../../src/sim/fleet/fleets.ts';

const node = process.execPath;

export interface FleetUnderTest {
  namespace: string;
  name: string;
  operator: NetnsProcess;
  fleet: NetnsProcess;
  control: FleetControlClient;
  /** SIGKILL the operator (no graceful stop) and start a new one. */
  killOperator(): Promise<void>;
  startOperator(): NetnsProcess;
  stop(): Promise<void>;
}

export function startOperatorProcess(namespace: string): NetnsProcess {
  const { kubeconfigInNetns } = clusterInfo();
  return spawnInNetns(node, [
    'src/cli/main.ts', 'run', '--kubeconfig', kubeconfigInNetns!, '--no-leader-elect', '--namespace', namespace,
    '--metrics-bind-address', '127.0.0.1:0', '--health-probe-bind-address', '127.0.0.1:0', '--log-level', 'info',
  ]);
}

/** Operator + pod runner for the UnmuteDeployment `name` in `namespace` (the CR is the test's to create). */
export async function startFleetUnderTest(namespace: string, name: string): Promise<FleetUnderTest> {
  const targets = operatorFleetTargets(name);
  const socket = join(tmpdir(), `umf-${namespace}.sock`);
  const fleet = spawnInNetns(node, [
    'src/sim/fleet/main.ts', '--namespace', namespace, '--selector', targets.podSelector, '--service', targets.service,
    '--control-socket', socket, '--strategy', 'least-connections', '--duration', '900', '--log-level', 'info',
  ]);
  await fleet.waitForOutput(/sim-fleet ready/, 30_000);
  const out: FleetUnderTest = {
    namespace,
    name,
    operator: startOperatorProcess(namespace),
    fleet,
    control: new FleetControlClient(socket),
    startOperator() {
      out.operator = startOperatorProcess(namespace);
      return out.operator;
    },
    async killOperator() {
      try {
        process.kill(-out.operator.pid, 'SIGKILL');
      } catch {
        // gone already
      }
      await out.operator.exited;
    },
    async stop() {
      await out.operator.stop();
      await fleet.stop();
    },
  };
  return out;
}

export class FleetControlClient {
  readonly socket: string;
  constructor(socket: string) {
    this.socket = socket;
  }

  #call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      const req = request({ socketPath: this.socket, method, path, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }, timeout: 20_000 }, (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data) as T) : reject(new Error(`${path}: ${res.statusCode} ${data}`))));
      });
      req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
      req.on('error', reject);
      req.end(text);
    });
  }

  state(): Promise<FleetControlState> {
    return this.#call('GET', '/state');
  }
  openSessions(count: number): Promise<{ ids: number[] }> {
    return this.#call('POST', '/sessions', { count });
  }
  endSessions(count: number, url?: string): Promise<{ ended: number }> {
    return this.#call('POST', '/sessions/end', { count, ...(url ? { url } : {}) });
  }
  suspend(pods?: string[]): Promise<unknown> {
    return this.#call('POST', '/workers/suspend', pods ? { pods } : {});
  }
  resume(pods?: string[]): Promise<unknown> {
    return this.#call('POST', '/workers/resume', pods ? { pods } : {});
  }

  /** Sessions per backend URL (open or waiting for a slot), once `expected` sessions are held and none is connecting. */
  async heldBy(expected: number, opts: { allowQueued?: boolean } = {}): Promise<Record<string, number>> {
    return waitFor(`${expected} held sessions`, async () => {
      const s = await this.state();
      const total = Object.values(s.sessions.heldByUrl).reduce((a, b) => a + b, 0);
      return total === expected && (opts.allowQueued || s.sessions.connecting === 0) ? s.sessions.heldByUrl : undefined;
    }, { timeoutMs: 30_000 });
  }
}

/** The sim-worker URL of a pod, as the clients see it. */
export function urlOf(state: FleetControlState, pod: string): string | undefined {
  const w = state.workers.find((x) => x.pod === pod);
  return w === undefined ? undefined : `http://${w.ip}:${w.port}`;
}

export interface UmdStatus {
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  sessions?: { active?: number; capacity?: number; unknownPods?: number };
  desiredReplicas?: number;
  drainingPods?: string[];
}

export function kube(kc: KubeConfig) {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  return {
    async createUmd(body: Record<string, unknown>): Promise<void> {
      const ns = (body['metadata'] as { namespace: string }).namespace;
      await custom.createNamespacedCustomObject({ group: 'unmute.sh', version: 'v1alpha1', namespace: ns, plural: 'unmutedeployments', body });
    },
    async status(namespace: string, name: string): Promise<UmdStatus> {
      const o = (await custom.getNamespacedCustomObject({ group: 'unmute.sh', version: 'v1alpha1', namespace, plural: 'unmutedeployments', name })) as { status?: UmdStatus };
      return o.status ?? {};
    },
    async condition(namespace: string, name: string, type: string) {
      return (await this.status(namespace, name)).conditions?.find((c) => c.type === type);
    },
    async backendPods(namespace: string, name: string): Promise<V1Pod[]> {
      const sel = operatorFleetTargets(name).podSelector;
      return (await core.listNamespacedPod({ namespace, labelSelector: sel })).items;
    },
    async replicas(namespace: string, deployment: string): Promise<number | undefined> {
      return (await apps.readNamespacedDeployment({ namespace, name: deployment })).spec?.replicas;
    },
    async events(namespace: string): Promise<Array<{ reason?: string; message?: string; type?: string }>> {
      return (await core.listNamespacedEvent({ namespace })).items.map((e) => ({ reason: e.reason, message: e.message, type: e.type }));
    },
  };
}

export const serving = (p: V1Pod) => p.metadata?.labels?.['unmute.sh/serving'] === 'true' && p.metadata.deletionTimestamp == null;
export const draining = (p: V1Pod) => p.metadata?.labels?.['unmute.sh/serving'] === 'false' && p.metadata.deletionTimestamp == null;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
