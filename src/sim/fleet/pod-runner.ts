// The pod runner: plays the kubelet's container runtime for simulated backend pods. It watches the
// pods of a label selector and, for each pod that runs (phase Running, pod IP assigned by KWOK),
// starts an in-process sim-worker on the pod's IP and container port. When a pod is deleted it
// behaves as the kubelet does with Unmute inside:
//
//   1. preStop: if the pod's container has a preStop hook (the operator's backend pods do), wait
//      until the worker reports 0 sessions, at most the pod's grace period;
//   2. SIGTERM: Unmute has no graceful drain, so every session still live is closed with 1012
//      (SimWorker.shutdown), connections still waiting for a slot get HTTP 500;
//   3. the pod object is deleted with gracePeriodSeconds=0 (cluster podDeletion 'external': KWOK
//      leaves terminating pods alone and this runner finishes them, like a kubelet).
//
// A pod without a preStop hook (a plain Deployment, the HPA baseline) gets step 2 at once. A pod
// that disappears from the API while its worker runs (podDeletion 'immediate', a force delete)
// gets step 2 at once too.
//
// Pod IPs exist only inside the cluster's network namespace: the process using this runner must
// run there. Pod start-up time is KWOK's business (annotation KWOK_READY_DELAY_ANNOTATION on the
// pod template keeps a pod Pending, without an IP, that long), so a pod's endpoint is never
// published before its worker can be reached.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../observability/logger.ts';
import { silentLogger } from '../../observability/logger.ts';
import { systemClock } from '../../runtime/clock.ts';
import { isNotFound } from '../../runtime/errors.ts';
import { createInformer, type Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { SimWorker, type SimFaults, type SimWorkerOptions, type SimWorkerStats } from '../worker/server.ts';

/** KWOK keeps a pod Pending (no IP, not Ready) for this Go duration ("3s") before it runs. */
export const KWOK_READY_DELAY_ANNOTATION = 'pod-ready.stage.kwok.x-k8s.io/delay';

const POD = { apiVersion: 'v1', kind: 'Pod' } as const;

export interface PodLike extends KubeObject {
  metadata: KubeObject['metadata'] & { deletionGracePeriodSeconds?: number };
  spec?: {
    terminationGracePeriodSeconds?: number;
    containers?: Array<{
      name?: string;
      ports?: Array<{ name?: string; containerPort?: number }>;
      lifecycle?: { preStop?: unknown };
      env?: Array<{ name: string; value?: string }>;
      args?: string[];
    }>;
  };
  status?: { phase?: string; podIP?: string };
}

/** Where the worker of a pod listens, or undefined when the pod does not run yet. */
export function workerAddress(pod: PodLike, portName?: string): { ip: string; port: number } | undefined {
  if (pod.status?.phase !== 'Running' || !pod.status.podIP) return undefined;
  const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const chosen = (portName === undefined ? undefined : ports.find((p) => p.name === portName)) ?? ports.find((p) => p.name === 'http') ?? ports[0];
  if (chosen?.containerPort === undefined) return undefined;
  return { ip: pod.status.podIP, port: chosen.containerPort };
}

export function hasPreStop(pod: PodLike): boolean {
  return (pod.spec?.containers ?? []).some((c) => c.lifecycle?.preStop !== undefined);
}

/** Seconds the runner may wait in preStop: the grace period the delete asked for, else the pod's. */
export function gracePeriodSeconds(pod: PodLike): number {
  return pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
}

export type PodRunnerEvent =
  | { type: 'started'; pod: string; ip: string; port: number; atMs: number }
  | { type: 'prestop'; pod: string; sessions: number; graceSeconds: number; atMs: number }
  | { type: 'stopped'; pod: string; reason: StopReason; cutSessions: number; waitedMs: number; atMs: number }
  | { type: 'deleted'; pod: string; atMs: number }
  | { type: 'error'; pod: string; message: string; atMs: number };

export type StopReason = 'terminated' | 'gone' | 'suspended' | 'runner-stopped';

/** What a pod runs: a sim-worker, or (the pipeline's GPU pods) a simulated moshi-server or vLLM. */
export interface PodProcess {
  listen(): Promise<unknown>;
  /** SIGTERM, as the process inside handles it. */
  shutdown(): Promise<void>;
  stats(): PodProcessStats;
  /** A sim-worker's faults (stalls, services down); other processes have none. */
  setFaults?(patch: Partial<SimFaults>): unknown;
}

export interface PodProcessStats extends SimWorkerStats {
  /** moshi-server: streams holding a slot. */
  openChannels?: number;
}

export interface PodWorkerInfo {
  pod: string;
  uid: string;
  ip: string;
  port: number;
  state: 'starting' | 'running' | 'prestop' | 'stopped';
  /** The pod's app.kubernetes.io/component label (backend, stt, tts, llm), if any. */
  component: string | undefined;
  stats: PodProcessStats | undefined;
}

export interface PodRunnerTotals {
  started: number;
  stopped: number;
  /** Sessions closed with 1012 (plus queued connections refused) because their pod stopped. */
  cutSessions: number;
  /** Stops that waited in preStop and found the worker empty before the grace period ended. */
  preStopDrained: number;
}

export interface PodRunnerOptions {
  /** Talks to the API server (from inside the cluster's network namespace). */
  client: KubeClient;
  namespace: string;
  labelSelector: string;
  /** Sim-worker options for every pod (host and port come from the pod). */
  worker?: Omit<SimWorkerOptions, 'host' | 'port'>;
  /** What each pod runs; default: a sim-worker with `worker`. */
  processFor?: (pod: PodLike, addr: { ip: string; port: number }) => PodProcess;
  /** Container port name to serve (default: `http`, else the first port). */
  portName?: string;
  /** How often the preStop wait reads the worker's sessions (default 200 ms). */
  preStopPollMs?: number;
  logger?: Logger;
  onEvent?: (e: PodRunnerEvent) => void;
}

interface Slot {
  uid: string;
  name: string;
  ip: string;
  port: number;
  pod: PodLike;
  worker: PodProcess | undefined;
  state: PodWorkerInfo['state'];
  /** Aborted when the pod vanishes while in preStop: SIGTERM at once. */
  prestopAbort: AbortController | undefined;
  stopping: Promise<void> | undefined;
  starting: Promise<void> | undefined;
}

export class PodRunner {
  readonly #o: PodRunnerOptions;
  readonly #informer: Informer<PodLike>;
  readonly #root = new AbortController();
  readonly #slots = new Map<string, Slot>();
  /** Pods whose worker was suspended on purpose: not restarted until resumed. */
  readonly #suspended = new Set<string>();
  readonly #deleting = new Set<string>();
  readonly #logger: Logger;
  readonly totals: PodRunnerTotals = { started: 0, stopped: 0, cutSessions: 0, preStopDrained: 0 };
  #running: Promise<void> | undefined;
  #stopped = false;
  /** Faults set for the whole fleet: workers started later get them too (a new pod of a sick fleet). */
  readonly #faults: Partial<SimFaults> = {};

  constructor(o: PodRunnerOptions) {
    this.#o = o;
    this.#logger = o.logger ?? silentLogger();
    this.#informer = createInformer<PodLike>(o.client, POD, { namespace: o.namespace, labelSelector: o.labelSelector }, { logger: this.#logger, clock: systemClock() });
    this.#informer.addHandler({
      onAdd: (p) => this.#sync(p),
      onUpdate: (_, p) => this.#sync(p),
      onDelete: (p) => this.#gone(p),
    });
  }

  /** Starts watching; resolves once the first list has been handled. */
  async start(): Promise<this> {
    this.#running = this.#informer.start(this.#root.signal).catch((err: unknown) => {
      if (!this.#stopped) this.#logger.error({ err }, 'pod runner watch ended');
    });
    await this.#informer.waitForSync(this.#root.signal);
    return this;
  }

  /** Every pod the runner knows now (from its watch), including Pending and terminating ones. */
  pods(): PodLike[] {
    return this.#informer.cache.list({ namespace: this.#o.namespace });
  }

  workers(): PodWorkerInfo[] {
    return [...this.#slots.values()].map((s) => ({
      pod: s.name,
      uid: s.uid,
      ip: s.ip,
      port: s.port,
      state: s.state,
      component: s.pod.metadata.labels?.['app.kubernetes.io/component'],
      stats: s.worker?.stats(),
    }));
  }

  worker(pod: string): PodProcess | undefined {
    return [...this.#slots.values()].find((s) => s.name === pod)?.worker;
  }

  /** Live sessions over every worker (running + waiting). */
  activeSessions(): number {
    let n = 0;
    for (const s of this.#slots.values()) n += s.worker?.stats().activeSessions ?? 0;
    return n;
  }

  /**
   * Stops the worker of these pods (all when omitted) as a crash would, without touching the
   * pods: their metrics become unreachable. They stay down until resume().
   */
  async suspend(pods?: string[]): Promise<void> {
    const names = pods ?? [...this.#slots.values()].map((s) => s.name);
    for (const n of names) this.#suspended.add(n);
    await Promise.all([...this.#slots.values()].filter((s) => names.includes(s.name)).map((s) => this.#stop(s, 'suspended', false)));
  }

  /**
   * Sets faults on the workers of these pods, or on every worker (also those started later) when
   * `pods` is omitted. Returns how many running workers took them.
   */
  setFaults(patch: Partial<SimFaults>, pods?: string[]): number {
    if (pods === undefined) Object.assign(this.#faults, patch);
    let n = 0;
    for (const s of this.#slots.values()) {
      if (s.worker?.setFaults === undefined || (pods !== undefined && !pods.includes(s.name))) continue;
      s.worker.setFaults(patch);
      n++;
    }
    return n;
  }

  /** Lets suspended pods run their worker again. */
  resume(pods?: string[]): void {
    const names = pods ?? [...this.#suspended];
    for (const n of names) this.#suspended.delete(n);
    for (const p of this.pods()) if (names.includes(p.metadata.name ?? '')) this.#sync(p);
  }

  /** Stops watching and stops every worker (SIGTERM behaviour); pods are left as they are. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#root.abort();
    await Promise.all([...this.#slots.values()].map((s) => this.#stop(s, 'runner-stopped', false)));
    await this.#running;
  }

  #emit(e: PodRunnerEvent): void {
    try {
      this.#o.onEvent?.(e);
    } catch {
      // a listener's failure is not the runner's
    }
  }

  #sync(pod: PodLike): void {
    if (this.#stopped) return;
    const uid = pod.metadata.uid ?? '';
    const name = pod.metadata.name ?? '';
    const slot = this.#slots.get(uid);
    if (pod.metadata.deletionTimestamp != null) {
      if (slot === undefined || slot.state === 'stopped') void this.#finishPod(pod);
      else if (slot.stopping === undefined) {
        slot.stopping = this.#terminate(slot, pod);
      }
      return;
    }
    if (slot !== undefined || this.#suspended.has(name)) return;
    const addr = workerAddress(pod, this.#o.portName);
    if (addr === undefined) return;
    const s: Slot = { uid, name, ...addr, pod, worker: undefined, state: 'starting', prestopAbort: undefined, stopping: undefined, starting: undefined };
    this.#slots.set(uid, s);
    s.starting = this.#startWorker(s);
  }

  async #startWorker(s: Slot): Promise<void> {
    // A pod IP can be handed to a new pod right after the old pod is gone: retry a busy address.
    for (let attempt = 0; ; attempt++) {
      // Workers share this process: a stall must freeze only its own worker (stall.ts).
      const w: PodProcess = this.#o.processFor?.(s.pod, { ip: s.ip, port: s.port }) ?? new SimWorker({ stallScope: 'worker', ...this.#o.worker, host: s.ip, port: s.port });
      try {
        await w.listen();
        if (s.state !== 'starting') {
          await w.shutdown();
          return;
        }
        s.worker = w;
        s.state = 'running';
        if (Object.keys(this.#faults).length > 0) w.setFaults?.(this.#faults);
        this.totals.started++;
        this.#emit({ type: 'started', pod: s.name, ip: s.ip, port: s.port, atMs: Date.now() });
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' || attempt >= 50 || s.state !== 'starting' || this.#stopped) {
          this.#emit({ type: 'error', pod: s.name, message: `listen on ${s.ip}:${s.port}: ${(err as Error).message}`, atMs: Date.now() });
          s.state = 'stopped';
          return;
        }
        await sleep(100);
      }
    }
  }

  /** The kubelet's part of a pod deletion: preStop (if any), SIGTERM, then remove the pod object. */
  async #terminate(s: Slot, pod: PodLike): Promise<void> {
    await s.starting;
    const started = Date.now();
    if (s.worker !== undefined && hasPreStop(pod) && s.state === 'running') {
      s.state = 'prestop';
      const grace = gracePeriodSeconds(pod);
      const abort = new AbortController();
      s.prestopAbort = abort;
      this.#emit({ type: 'prestop', pod: s.name, sessions: s.worker.stats().activeSessions, graceSeconds: grace, atMs: started });
      const deadline = started + grace * 1000;
      const poll = this.#o.preStopPollMs ?? 200;
      while (!abort.signal.aborted && !this.#stopped && Date.now() < deadline) {
        if (s.worker.stats().activeSessions === 0) {
          this.totals.preStopDrained++;
          break;
        }
        await sleep(Math.min(poll, Math.max(0, deadline - Date.now())), undefined, { signal: abort.signal }).catch(() => undefined);
      }
    }
    await this.#stop(s, 'terminated', true, Date.now() - started);
    await this.#finishPod(pod);
  }

  /** SIGTERM: Unmute closes every live session with 1012 at once. */
  #stop(s: Slot, reason: StopReason, final: boolean, waitedMs = 0): Promise<void> {
    const run = async (): Promise<void> => {
      await s.starting;
      const w = s.worker;
      s.worker = undefined;
      s.state = 'stopped';
      if (w === undefined) return;
      const before = w.stats();
      const cut = before.running + before.queued;
      await w.shutdown();
      this.totals.stopped++;
      this.totals.cutSessions += cut;
      this.#emit({ type: 'stopped', pod: s.name, reason, cutSessions: cut, waitedMs, atMs: Date.now() });
    };
    const p = run();
    if (!final) {
      // A suspended pod may run again: forget its slot so the next sync restarts it.
      void p.then(() => {
        if (this.#slots.get(s.uid) === s && s.stopping === undefined) this.#slots.delete(s.uid);
      });
    }
    return p;
  }

  /** The container is gone: delete the pod object at once (grace 0), as a kubelet does. */
  async #finishPod(pod: PodLike): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    if (this.#deleting.has(uid) || this.#stopped) return;
    this.#deleting.add(uid);
    try {
      await this.#o.client.delete(POD, pod.metadata.name ?? '', this.#o.namespace, { gracePeriodSeconds: 0, preconditions: { uid } });
      this.#emit({ type: 'deleted', pod: pod.metadata.name ?? '', atMs: Date.now() });
    } catch (err) {
      if (!isNotFound(err) && !/precondition|conflict/i.test((err as Error).message)) {
        this.#emit({ type: 'error', pod: pod.metadata.name ?? '', message: `delete: ${(err as Error).message}`, atMs: Date.now() });
        this.#deleting.delete(uid);
      }
    }
  }

  /** The pod object is gone (deleted by someone else or by us). */
  #gone(pod: PodLike): void {
    const uid = pod.metadata.uid ?? '';
    this.#deleting.delete(uid);
    this.#suspended.delete(pod.metadata.name ?? '');
    const s = this.#slots.get(uid);
    if (s === undefined) return;
    this.#slots.delete(uid);
    if (s.prestopAbort !== undefined) s.prestopAbort.abort();
    if (s.stopping === undefined) s.stopping = this.#stop(s, 'gone', true);
  }
}

/** Creates a runner and waits for its first list. */
export async function startPodRunner(o: PodRunnerOptions): Promise<PodRunner> {
  return new PodRunner(o).start();
}
