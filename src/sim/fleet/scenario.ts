// One run of the fleet benchmark, inside the cluster's network namespace: a pod runner plays the
// backend pods, clients follow a trace to the endpoints the backend Service's EndpointSlices list
// as ready (as kube-proxy would route them), optionally an HPA-formula loop scales a plain
// Deployment (the baseline), and a sampler records the timeline the figures come from.
// Bounded: the trace has a fixed length and every wait has a deadline.
import { performance } from 'node:perf_hooks';
import { PodLoadSource } from '../../autoscaler/pod-load-source.ts';
import { silentLogger, type Logger } from '../../observability/logger.ts';
import { systemClock } from '../../runtime/clock.ts';
import { createInformer, type Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { LABEL_SERVING, SERVING } from '../../api/v1alpha1/labels.ts';
import { ENDPOINT_SLICE, readyEndpointUrls, type EndpointSlice } from '../loadgen/endpointslices.ts';
import { LiveCounters, runPlan, type SessionTemplate } from '../loadgen/runner.ts';
import type { SessionResult } from '../loadgen/session.ts';
import { staticTargets, TargetPool, type PickStrategy } from '../loadgen/targets.ts';
import type { SimWorkerOptions } from '../worker/server.ts';
import { hpaDecide, pruneHpaHistory, type HpaSpec } from './hpa.ts';
import { integrate, measureRun, routingSnapshot, timelineRows, type BackendHold, type MeasureSpec, type RoutingSnapshot, type RunFigures, type SessionRecord, type TimelineRow, type TimelineSample } from './measure.ts';
import { pipelineProcess, SliceResolver } from './pipeline.ts';
import { startPodRunner, type PodLike, type PodRunner, type PodRunnerEvent } from './pod-runner.ts';
import type { TracePlan } from './trace.ts';

const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;
/** The baseline reads what the operator reads from a backend: Unmute's session gauge. */
const BACKEND_SESSIONS = { component: 'backend', name: 'worker_active_sessions', series: 'one' } as const;

/** Sim-worker settings that keep a fleet of simulated backends cheap on CPU (no audio frames). */
export const CHEAP_WORKER: Omit<SimWorkerOptions, 'host' | 'port'> = { audioFrames: false, additionalOutputsMs: 0, decodeAudio: false, maxSessions: 4 };
/** Client settings to match: 400 ms audio chunks of stand-in packets, Unmute's protocol otherwise. */
export const CHEAP_SESSION: SessionTemplate = { chunkMs: 400, replyTimeoutMs: 60_000, realAudio: false };

/**
 * The backend Service's ready endpoints, kept current by a watch on its EndpointSlices (as
 * kube-proxy does), feeding a TargetPool for the clients.
 */
export class ServiceEndpoints {
  readonly pool: TargetPool;
  readonly #informer: Informer<EndpointSlice>;
  readonly #abort = new AbortController();
  #ready = 0;
  #onChange: (() => void) | undefined;

  constructor(client: KubeClient, namespace: string, service: string, opts: { strategy?: PickStrategy; logger?: Logger; onChange?: () => void } = {}) {
    this.pool = new TargetPool(opts.strategy ?? 'round-robin');
    this.#onChange = opts.onChange;
    this.#informer = createInformer<EndpointSlice>(client, ENDPOINT_SLICE, { namespace, labelSelector: `kubernetes.io/service-name=${service}` }, { logger: opts.logger ?? silentLogger(), clock: systemClock() });
    const refresh = () => {
      const urls = readyEndpointUrls(this.#informer.cache.list(), undefined, 'http');
      this.#ready = urls.length;
      this.pool.setTargets(urls);
      this.#onChange?.();
    };
    this.#informer.addHandler({ onAdd: refresh, onUpdate: refresh, onDelete: refresh });
  }

  async start(): Promise<this> {
    void this.#informer.start(this.#abort.signal).catch(() => undefined);
    await this.#informer.waitForSync(this.#abort.signal);
    return this;
  }

  ready(): number {
    return this.#ready;
  }

  stop(): void {
    this.#abort.abort();
    this.pool.close();
  }
}

/** Counts changes of a Deployment's spec.replicas (scale events) and keeps its current value. */
class ReplicasWatch {
  readonly #informer: Informer<KubeObject>;
  readonly #abort = new AbortController();
  changes = 0;
  replicas: number | undefined;
  /** performance.now() of each raise of replicas (the scaler's decisions to add capacity). */
  readonly ups: number[] = [];

  constructor(client: KubeClient, namespace: string, name: string) {
    this.#informer = createInformer(client, DEPLOYMENT, { namespace, fieldSelector: `metadata.name=${name}` }, { logger: silentLogger(), clock: systemClock() });
    const seen = (obj: KubeObject) => {
      const r = (obj as { spec?: { replicas?: number } }).spec?.replicas;
      if (r === undefined) return;
      if (this.replicas !== undefined && r !== this.replicas) this.changes++;
      if (this.replicas !== undefined && r > this.replicas) this.ups.push(performance.now());
      this.replicas = r;
    };
    this.#informer.addHandler({ onAdd: seen, onUpdate: (_, o) => seen(o) });
  }

  async start(): Promise<this> {
    void this.#informer.start(this.#abort.signal).catch(() => undefined);
    await this.#informer.waitForSync(this.#abort.signal);
    return this;
  }

  stop(): void {
    this.#abort.abort();
  }
}

export interface HpaLoopOptions extends HpaSpec {
  /** The HPA's sync period (default 15 s; compress it with the trace). */
  periodMs: number;
}

/** The baseline's scaler: the HPA formula every period, written through the scale subresource. */
export function startHpaLoop(o: {
  client: KubeClient;
  namespace: string;
  deployment: string;
  runner: PodRunner;
  port?: number;
  replicas: () => number | undefined;
  spec: HpaLoopOptions;
  log?: (msg: string) => void;
}): { stop(): Promise<void> } {
  const source = new PodLoadSource({ timeoutMs: 1000, concurrency: 16, now: () => Date.now() });
  let history: Array<{ atMs: number; replicas: number }> = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    const current = o.replicas();
    if (current === undefined) return;
    const pods = o.runner.pods().filter((p) => p.metadata.deletionTimestamp == null && p.status?.phase === 'Running' && p.status.podIP);
    const targets = pods.map((p) => {
      const port = (p.spec?.containers ?? []).flatMap((c) => c.ports ?? [])[0]?.containerPort ?? o.port ?? 80;
      return { pod: p.metadata.name ?? '', ip: p.status?.podIP, port, metric: BACKEND_SESSIONS };
    });
    const { readings } = await source.read(targets);
    const now = Date.now();
    const d = hpaDecide({ nowMs: now, spec: o.spec, currentReplicas: current, readings: [...readings.values()].map((r) => r.load), history });
    history = pruneHpaHistory([...history, d.recommendation], now, o.spec.scaleDownStabilizationMs);
    if (d.replicas !== current) {
      o.log?.(`hpa: ${current} -> ${d.replicas} (${d.reason})`);
      await o.client.patch(DEPLOYMENT, o.deployment, o.namespace, { spec: { replicas: d.replicas } }, 'merge', { subresource: 'scale' });
    }
  };
  const loop = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick()
        .catch((err: unknown) => o.log?.(`hpa: ${(err as Error).message}`))
        .finally(loop);
    }, o.spec.periodMs);
  };
  loop();
  return {
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running;
    },
  };
}

export interface ScenarioOptions {
  client: KubeClient;
  namespace: string;
  /** Label selector of the backend pods. */
  podSelector: string;
  /** Label selector of the fleet's STT, TTS and vLLM pods, played as simulated servers (the whole pipeline). */
  servicesSelector?: string;
  /** The Service clients reach the backends through. */
  service: string;
  /**
   * Callers dial this URL instead (a gateway's /api, as browsers reach Unmute); the Service's
   * endpoints are still watched for the warm-up and the samples.
   */
  targetUrl?: string;
  /** The backend Deployment (scale events; the baseline scales it). */
  deployment: string;
  plan: TracePlan;
  spec: MeasureSpec;
  worker?: Omit<SimWorkerOptions, 'host' | 'port'>;
  session?: SessionTemplate;
  /** Run the HPA-formula baseline scaler on the Deployment. */
  hpa?: HpaLoopOptions;
  /** Ready endpoints to wait for before the trace starts (default spec.minReplicas). */
  warmEndpoints?: number;
  sampleMs?: number;
  log?: (msg: string) => void;
  onRunnerEvent?: (e: PodRunnerEvent) => void;
  /** Events of the STT/TTS/vLLM pods' runner (a stop that cut streams names its pod). */
  onServicesEvent?: (e: PodRunnerEvent) => void;
  /**
   * Slots per pod of each GPU tier (component label -> slots): the run then integrates the GPUs
   * the tiers' pods hold against the fewest that would carry their measured load.
   */
  gpuSlots?: Partial<Record<string, number>>;
  signal?: AbortSignal;
  /**
   * The operator's API writes so far (a counter), read when the trace starts and when it ends:
   * the result's apiWrites. A failed read leaves them out.
   */
  apiWrites?: () => Promise<number>;
}

export interface ScenarioResult {
  figures: RunFigures;
  /** The run in windows of a tenth of the trace. */
  timeline: TimelineRow[];
  samples: TimelineSample[];
  runner: PodRunner['totals'];
  /** The STT/TTS/vLLM pods' runner, when the pipeline runs. */
  servicesRunner?: PodRunner['totals'];
  /** With gpuSlots: GPU-seconds held by the GPU tiers' pods, and the ideal for their measured load (wall). */
  gpu?: { seconds: number; idealSeconds: number };
  /** Every session the server ended abnormally (1011, 1012, ...): when (ms since epoch), code and reason. */
  drops: Array<{ atMs: number; code: number; reason: string }>;
  wallMs: number;
  /** The operator's API writes during the trace, and the trace's wall seconds. */
  apiWrites?: { writes: number; seconds: number };
}

/** A pod that takes new sessions, or would but for being full: not terminating, not draining. */
function podServes(p: PodLike): boolean {
  const label = p.metadata.labels?.[LABEL_SERVING];
  return p.metadata.deletionTimestamp == null && label !== SERVING.draining && label !== SERVING.outdated;
}

/**
 * Every backend with a worker as the run knows it now: whether it serves, and the sessions
 * held there, the larger of what the clients hold (leases, which count a caller still connecting)
 * and what the worker counts (running + waiting; the only count for callers sent to a gateway).
 * `routing`: the URL a caller was just given, whose own lease is left out.
 */
function backendHolds(runner: PodRunner, pool: TargetPool, routing?: string): BackendHold[] {
  const pods = new Map(runner.pods().map((p) => [p.metadata.uid ?? '', p]));
  const out: BackendHold[] = [];
  // Workers not running (starting, in preStop) serve no one but are listed: a caller can still be
  // sent to one (its endpoint not yet removed), and its snapshot should know which backend it got.
  for (const w of runner.workers()) {
    const pod = pods.get(w.uid);
    const url = `http://${w.ip}:${w.port}`;
    // The caller being routed holds a lease on its backend already: not one of the sessions it found there.
    const leases = pool.connections(url) - (url === routing ? 1 : 0);
    out.push({ url, serving: w.state === 'running' && pod !== undefined && podServes(pod), held: Math.max(leases, w.stats?.activeSessions ?? 0) });
  }
  return out;
}

const GPU_GATE = 'unmute.sh/gpu-budget';

/** GPUs a pod asks for (its containers' nvidia.com/gpu limits). */
export function podGpus(p: PodLike): number {
  const containers = (p.spec as { containers?: Array<{ resources?: { limits?: Record<string, string | number> } }> } | undefined)?.containers ?? [];
  return containers.reduce((n, c) => n + Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0), 0);
}

/**
 * GPUs the tiers' pods hold now (past the budget gate, not finished: starting, serving, draining
 * or in their preStop) and the ideal: per tier, the fewest pods whose slots carry its load now
 * (at least one: every conversation passes through each tier).
 */
/** Still behind the GPU-budget scheduling gate: scheduled nowhere, holds no GPU. */
export function budgetGated(p: PodLike): boolean {
  return ((p.spec as { schedulingGates?: Array<{ name: string }> } | undefined)?.schedulingGates ?? []).some((g) => g.name === GPU_GATE);
}

/** Holds its GPUs: past the budget gate and not finished (starting, serving, draining, terminating in its preStop). */
export function holdsGpus(p: PodLike): boolean {
  return !budgetGated(p) && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed';
}

export function gpuUse(pods: readonly PodLike[], workers: ReturnType<PodRunner['workers']>, slots: Partial<Record<string, number>>): { held: number; ideal: number } {
  let held = 0;
  for (const p of pods) {
    const c = p.metadata.labels?.['app.kubernetes.io/component'] ?? '';
    if (slots[c] !== undefined && holdsGpus(p)) held += podGpus(p);
  }
  let ideal = 0;
  for (const [c, perPod] of Object.entries(slots)) {
    const load = workers.filter((w) => w.component === c && w.state !== 'stopped').reduce((n, w) => n + (w.stats?.openChannels ?? w.stats?.activeSessions ?? 0), 0);
    ideal += Math.max(1, Math.ceil(load / Math.max(1, perPod ?? 1)));
  }
  return { held, ideal };
}

export async function runFleetScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const log = o.log ?? (() => {});
  const worker = o.worker ?? CHEAP_WORKER;
  const resolver = await new SliceResolver(o.client, o.namespace).start();
  const processFor = pipelineProcess({ resolver: resolver.resolve, worker, remote: o.servicesSelector !== undefined });
  const runner = await startPodRunner({
    client: o.client,
    namespace: o.namespace,
    labelSelector: o.podSelector,
    worker,
    processFor,
    ...(o.onRunnerEvent ? { onEvent: o.onRunnerEvent } : {}),
  });
  const services =
    o.servicesSelector === undefined
      ? undefined
      : await startPodRunner({ client: o.client, namespace: o.namespace, labelSelector: o.servicesSelector, processFor, ...(o.onServicesEvent ? { onEvent: o.onServicesEvent } : {}) });
  const endpoints = await new ServiceEndpoints(o.client, o.namespace, o.service).start();
  const replicas = await new ReplicasWatch(o.client, o.namespace, o.deployment).start();
  let hpa: { stop(): Promise<void> } | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const warm = o.warmEndpoints ?? o.spec.minReplicas;
    const warmDeadline = Date.now() + 120_000;
    const servicesUp = (): boolean => {
      if (services === undefined) return true;
      const running = new Set(services.workers().filter((w) => w.state === 'running').map((w) => w.component));
      return running.has('stt') && running.has('tts') && running.has('llm');
    };
    while (endpoints.ready() < warm || runner.workers().filter((w) => w.state === 'running').length < warm || !servicesUp()) {
      if (Date.now() > warmDeadline) throw new Error(`fewer than ${warm} ready backends (or no STT/TTS/LLM) after 120 s (ready endpoints ${endpoints.ready()})`);
      if (o.signal?.aborted) throw new Error('aborted');
      await new Promise((r) => setTimeout(r, 200));
    }
    log(`warm: ${endpoints.ready()} ready endpoints; trace of ${(o.plan.totalMs / 1000).toFixed(0)} s, ${o.plan.sessions.length} sessions`);
    replicas.changes = 0;
    if (o.hpa) hpa = startHpaLoop({ client: o.client, namespace: o.namespace, deployment: o.deployment, runner, replicas: () => replicas.replicas, spec: o.hpa, log });

    const readWrites = async (): Promise<number | undefined> => {
      try {
        return await o.apiWrites?.();
      } catch (err) {
        log(`api writes: ${(err as Error).message}`);
        return undefined;
      }
    };
    const writesBefore = await readWrites();
    const live = new LiveCounters();
    const samples: TimelineSample[] = [];
    const records: SessionRecord[] = [];
    const gpuSamples: Array<{ tMs: number; held: number; ideal: number }> = [];
    const drops: ScenarioResult['drops'] = [];
    const t0 = performance.now();
    const wallStart = Date.now();
    const sample = () => {
      const pods = runner.pods();
      samples.push({
        tMs: performance.now() - t0,
        pods: pods.length,
        ready: endpoints.ready(),
        sessions: live.open + live.connecting,
        pending: pods.filter((p) => p.status?.phase === 'Pending' && p.metadata.deletionTimestamp == null).length,
        draining: pods.filter((p) => p.metadata.deletionTimestamp != null || p.metadata.labels?.[LABEL_SERVING] === SERVING.draining).length,
        serving: backendHolds(runner, endpoints.pool).filter((b) => b.serving).length,
      });
      if (services !== undefined && o.gpuSlots !== undefined) gpuSamples.push({ tMs: performance.now() - t0, ...gpuUse(services.pods(), services.workers(), o.gpuSlots) });
    };
    sample();
    const every = o.sampleMs ?? 250;
    const tickSample = () => {
      sample();
      sampler = setTimeout(tickSample, every);
    };
    sampler = setTimeout(tickSample, every);
    let lastLog = 0;
    // The fleet as each caller found it when routed, until its result arrives.
    const routedAs = new Map<number, RoutingSnapshot>();
    const result = await runPlan({
      picker: o.targetUrl === undefined ? endpoints.pool : staticTargets([o.targetUrl]),
      plan: o.plan.sessions,
      session: o.session ?? CHEAP_SESSION,
      deadlineMs: o.plan.totalMs,
      live,
      ...(o.signal ? { signal: o.signal } : {}),
      onPick: (i, url) => {
        if (url !== undefined) routedAs.set(i, routingSnapshot(backendHolds(runner, endpoints.pool, url), url, o.spec.maxSessionsPerPod));
      },
      onIndexedResult: (i: number, r: SessionResult) => {
        const waited = r.queuedMs ?? (r.outcome === 'refused' && r.httpStatus === undefined ? 0 : Math.max(0, Date.now() - r.startedAt));
        const routing = routedAs.get(i);
        routedAs.delete(i);
        records.push({ outcome: r.outcome, ...(r.closeCode !== undefined ? { closeCode: r.closeCode } : {}), waitedMs: waited, startMs: r.startedAt - wallStart, ...(routing ? { routing } : {}) });
        if (r.outcome === 'dropped') drops.push({ atMs: Date.now(), code: r.closeCode ?? 0, reason: r.closeReason ?? '' });
        const now = performance.now();
        if (now - lastLog > 15_000) {
          lastLog = now;
          log(`${live.line()} | pods ${runner.pods().length}, ready ${endpoints.ready()}`);
        }
      },
    });
    clearTimeout(sampler);
    sampler = undefined;
    sample();
    const writesAfter = writesBefore === undefined ? undefined : await readWrites();
    const writesS = (performance.now() - t0) / 1000;
    const figures = measureRun({
      samples,
      sessions: records,
      steps: o.plan.steps,
      spec: o.spec,
      scaleEvents: replicas.changes,
      endMs: o.plan.totalMs,
      scaleUpsMs: replicas.ups.filter((t) => t >= t0).map((t) => t - t0),
    });
    const timeline = timelineRows(samples, records, o.spec, o.plan.totalMs / 12, o.plan.totalMs);
    const gpu =
      gpuSamples.length > 0
        ? { seconds: integrate(gpuSamples, (x) => x.held, o.plan.totalMs), idealSeconds: integrate(gpuSamples, (x) => x.ideal, o.plan.totalMs) }
        : undefined;
    return {
      figures,
      timeline,
      samples,
      runner: { ...runner.totals },
      ...(services ? { servicesRunner: { ...services.totals } } : {}),
      ...(gpu ? { gpu } : {}),
      drops,
      wallMs: result.wallMs,
      ...(writesBefore !== undefined && writesAfter !== undefined ? { apiWrites: { writes: writesAfter - writesBefore, seconds: writesS } } : {}),
    };
  } finally {
    if (sampler !== undefined) clearTimeout(sampler);
    await hpa?.stop();
    endpoints.stop();
    replicas.stop();
    await runner.stop();
    await services?.stop();
    resolver.stop();
  }
}
