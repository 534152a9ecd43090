// Shared by the autoscaling-*.full.test.ts files: an operator process and a simulated fleet (pod
// runner + clients, src/sim/fleet) inside the cluster's network namespace, a control client for
// the fleet (unix socket), and reads of the objects the tests assert on.
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { budgetGated, holdsGpus, podGpus } from '../../src/sim/fleet/scenario.ts';
import type { PodLike } from '../../src/sim/fleet/pod-runner.ts';
import { drainNode as drainNodeWith, uncordonNode, type EvictionRecord } from '../../src/sim/fleet/node-drain.ts';
import type { KubeObject } from '../../src/runtime/object.ts';
import { clusterInfo, kubeClient, spawnInNetns, waitFor, type NetnsProcess } from '../support/cluster.ts';
import type { FleetControlState } from '../../src/sim/fleet/control.ts';
import type { SimFaults } from '../../src/sim/worker/server.ts';
import { operatorFleetTargets } from '../../src/sim/fleet/fleets.ts';
import { SIM_BATCH_SIZE_ANNOTATION } from '../../src/sim/fleet/pipeline.ts';
import { expect } from 'vitest';

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

/**
 * Operator + pod runner for the UnmuteDeployment `name` in `namespace` (the CR is the test's to
 * create). Sessions opened through the control go to the backend Service's ready endpoints, picked
 * by `strategy` (least connections by default), or to `targetUrl` (e.g. a gateway) when given.
 */
export async function startFleetUnderTest(
  namespace: string,
  name: string,
  opts: { pipeline?: boolean; targetUrl?: string; strategy?: 'round-robin' | 'least-connections'; maxSessions?: number } = {},
): Promise<FleetUnderTest> {
  const targets = operatorFleetTargets(name);
  const socket = join(tmpdir(), `umf-${namespace}.sock`);
  const fleet = spawnInNetns(node, [
    'src/sim/cli/main.ts', 'fleet', '--namespace', namespace, '--selector', targets.podSelector, ...(opts.pipeline ? ['--services-selector', targets.servicesSelector] : []), '--service', targets.service,
    '--control-socket', socket, '--strategy', opts.strategy ?? 'least-connections', '--duration', '900', '--log-level', 'info',
    ...(opts.targetUrl ? ['--target-url', opts.targetUrl] : []),
    ...(opts.maxSessions ? ['--max-sessions', String(opts.maxSessions)] : []),
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
  /** Opens sessions where the fleet sends them, or at `url` (one backend's sim-worker, a gateway). */
  openSessions(count: number, opts: { url?: string; durationMs?: number } = {}): Promise<{ ids: number[] }> {
    return this.#call('POST', '/sessions', { count, ...opts });
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
  /** Sim-worker faults (e.g. `{stall_every_ms, stall_ms}`) on these pods, or on every worker now and later. */
  setFaults(faults: Partial<SimFaults>, pods?: string[]): Promise<{ workers: number }> {
    return this.#call('POST', '/workers/faults', { faults, ...(pods ? { pods } : {}) });
  }

  /** Sessions per backend URL (open or waiting for a slot), once `expected` sessions are held and none is connecting. */
  async heldBy(expected: number, opts: { allowQueued?: boolean } = {}): Promise<Record<string, number>> {
    return waitFor(`${expected} held sessions`, async () => {
      const s = await this.state();
      const total = Object.values(s.sessions.heldByUrl).reduce((a, b) => a + b, 0);
      if (total === expected && (opts.allowQueued || s.sessions.connecting === 0)) return s.sessions.heldByUrl;
      // Thrown, not returned: waitFor reports the last one, which says where the sessions went.
      throw new Error(`held ${total}, connecting ${s.sessions.connecting}, outcomes ${JSON.stringify(s.sessions.outcomes)}, closes ${JSON.stringify(s.sessions.closeReasons)}, by URL ${JSON.stringify(s.sessions.heldByUrl)}`);
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

const UMD = { apiVersion: 'unmute.sh/v1alpha1', kind: 'UnmuteDeployment' } as const;
const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;
const EVENT = { apiVersion: 'v1', kind: 'Event' } as const;

export interface Pod extends KubeObject {
  status?: { podIP?: string };
}

/** Reads of the objects the autoscaling tests assert on, through the run's admin client. */
export function kube() {
  return {
    async createUmd(body: KubeObject): Promise<void> {
      await (await kubeClient()).create(body);
    },
    async status(namespace: string, name: string): Promise<UmdStatus> {
      return (await (await kubeClient()).get<KubeObject & { status?: UmdStatus }>(UMD, name, namespace)).status ?? {};
    },
    async condition(namespace: string, name: string, type: string) {
      return (await this.status(namespace, name)).conditions?.find((c) => c.type === type);
    },
    async backendPods(namespace: string, name: string): Promise<Pod[]> {
      return (await (await kubeClient()).list<Pod>(POD, { namespace, labelSelector: operatorFleetTargets(name).podSelector })).items;
    },
    async replicas(namespace: string, deployment: string): Promise<number | undefined> {
      return (await (await kubeClient()).get<KubeObject & { spec?: { replicas?: number } }>(DEPLOYMENT, deployment, namespace)).spec?.replicas;
    },
    async events(namespace: string): Promise<Array<{ reason?: string; message?: string; type?: string }>> {
      const events = await (await kubeClient()).list<KubeObject & { reason?: string; message?: string; type?: string }>(EVENT, { namespace });
      return events.items.map((e) => ({ reason: e.reason, message: e.message, type: e.type }));
    },
  };
}

export const serving = (p: KubeObject) => p.metadata.labels?.['unmute.sh/serving'] === 'true' && p.metadata.deletionTimestamp == null;
export const draining = (p: KubeObject) => p.metadata.labels?.['unmute.sh/serving'] === 'false' && p.metadata.deletionTimestamp == null;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface GpuSample {
  atMs: number;
  /** GPUs of the pods past the budget gate that have not finished, terminating ones included (they hold their GPU until gone). */
  held: number;
  /** GPU pods still behind the budget gate. */
  gated: number;
  /** `pod(gpus)` of the holders, for the failure message. */
  holders: string[];
}

/** The namespace's GPU use now, as the budget counts it (src/sim/fleet/scenario.ts). */
export async function gpuSample(namespace: string): Promise<GpuSample> {
  const pods = (await (await kubeClient()).list<PodLike>(POD, { namespace })).items.filter((p) => podGpus(p) > 0 && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const holding = pods.filter(holdsGpus);
  return {
    atMs: Date.now(),
    held: holding.reduce((n, p) => n + podGpus(p), 0),
    gated: pods.filter(budgetGated).length,
    holders: holding.map((p) => `${p.metadata.name}(${podGpus(p)}${p.metadata.deletionTimestamp ? ', terminating' : ''})`),
  };
}

/**
 * Samples the namespace's GPU use every `intervalMs` until stopped: a budget is a claim about
 * every moment of a rollout, so the test looks at it continuously, not only at the end.
 */
export function sampleGpus(namespace: string, intervalMs = 150): { stop(): Promise<GpuSample[]> } {
  const samples: GpuSample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(await gpuSample(namespace).catch(() => ({ atMs: Date.now(), held: -1, gated: -1, holders: [] })));
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples.filter((s) => s.held >= 0);
    },
  };
}

export type { EvictionRecord } from '../../src/sim/fleet/node-drain.ts';

/** `kubectl drain` of `node` for the pods of `namespace` (src/sim/fleet/node-drain.ts), retrying refused evictions each second. */
export async function drainNode(node: string, namespace: string, opts: { timeoutMs: number; retryMs?: number }): Promise<EvictionRecord[]> {
  return drainNodeWith(await kubeClient(), node, namespace, { retryMs: 1000, ...opts });
}

/** Makes a node schedulable again (kubectl uncordon). */
export async function uncordon(node: string): Promise<void> {
  await uncordonNode(await kubeClient(), node);
}

type Services = FleetControlState['services'];
/** The STT pods the fleet plays that have not stopped. */
export const sttOf = (s: FleetControlState): Services => s.services.filter((w) => w.component === 'stt' && w.state !== 'stopped');
/** Streams open on a played STT/TTS pod. */
export const channels = (w: Services[number]) => w.stats?.openChannels ?? 0;

/**
 * Opens sessions one at a time (each settled, its STT stream open) until `backends` backends hold
 * sessions and `stt` STT pods hold streams, with at least `min` sessions. Each session picks its
 * STT pod at random, as Unmute's backend does: at `max` sessions the oldest user hangs up before
 * the next calls, so the picks go on without filling the backends (at most `attempts` calls).
 */
export async function loadEveryPod(control: FleetControlClient, want: { backends: number; stt: number; min: number; max: number; attempts?: number }): Promise<FleetControlState> {
  for (let i = 0; i < (want.attempts ?? 40); i++) {
    const s = await control.state();
    const busy = s.workers.filter((w) => w.state === 'running' && (w.stats?.activeSessions ?? 0) > 0).length;
    if (s.sessions.open >= want.min && busy >= want.backends && sttOf(s).filter((w) => channels(w) > 0).length >= want.stt) break;
    if (s.sessions.open >= want.max) await control.endSessions(1);
    await control.openSessions(1);
    const calledAt = Date.now();
    await waitFor('the session settled with its STT stream, or waiting for a slot', async () => {
      const st = await control.state();
      const streams = sttOf(st).reduce((n, w) => n + channels(w), 0);
      // A caller that reached a backend as it filled waits there (Unmute's queue) until a session
      // on it ends: after a few seconds it counts as settled.
      const waiting = Date.now() - calledAt > 3000 ? st.sessions.connecting : 0;
      if (st.sessions.connecting === waiting && streams === st.sessions.open) return st;
      // Thrown, not returned: waitFor reports the last one if the session never settles.
      throw new Error(`connecting ${st.sessions.connecting}, open ${st.sessions.open}, held ${st.sessions.held}, STT streams ${sttOf(st).map((w) => `${w.pod}=${channels(w)}`).join(' ')}, outcomes ${JSON.stringify(st.sessions.outcomes)}, closes ${JSON.stringify(st.sessions.closeReasons)}`);
    }, { timeoutMs: 20_000 });
  }
  return control.state();
}

/** An UnmuteDeployment as the STT drain tests shape it: the fields they set, loosely typed. */
export type LooseUmd = { spec: Record<string, Record<string, unknown>> };

/**
 * STT with `replicas` pods of `slots` streams each (the simulated moshi-server's batch size follows
 * from its pod annotation), sized on its own load at 100 %; TTS and vLLM stay fixed. `stt` adds
 * fields to the STT section (placement, grace period).
 */
export function withSttFollower(umd: LooseUmd, replicas: number, slots: number, stt: Record<string, unknown> = {}): void {
  const current = umd.spec['stt'] ?? {};
  umd.spec['stt'] = { ...current, replicas, slotsPerReplica: slots, ...stt, podAnnotations: { ...(current['podAnnotations'] as object), [SIM_BATCH_SIZE_ANNOTATION]: String(slots) } };
  umd.spec['autoscaling'] = { ...umd.spec['autoscaling'], followers: { stt: true, tts: false, llm: false, targetUtilization: 1 } };
}

/** No conversation ended by the fleet: no STT/TTS/vLLM pod stopped holding a stream, no client closed with 1011, 1012 or 1006. */
export function expectNoConversationEnded(end: FleetControlState): void {
  expect(end.servicesTotals?.cutSessions ?? 0).toBe(0);
  expect(end.sessions.closeCodes['1011'] ?? 0).toBe(0);
  expect(end.sessions.closeCodes['1012'] ?? 0).toBe(0);
  expect(end.sessions.closeCodes['1006'] ?? 0).toBe(0);
}
