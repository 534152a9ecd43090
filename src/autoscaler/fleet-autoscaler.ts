// Per-fleet autoscaling memory and I/O around the pure policy: reads sessions, remembers the
// recommendations of the stabilisation window, and turns a decision into pod patches.
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import { LABEL_COMPONENT } from '../render/labels.ts';
import { gpuCount } from '../render/pod.ts';
import { toBackendPod, type PodLike } from './drain.ts';
import { decide, pruneHistory, type BackendPod, type FollowerTier, type PolicyDecision, type Recommendation } from './policy.ts';
import { ReadingStore, type SessionSource } from './session-readings.ts';

export interface SessionsObservation {
  pods: BackendPod[];
  /** Pod name → why its reading failed (only pods without a fresh reading). */
  errors: Map<string, string>;
  active: number;
  unknownPods: number;
}

interface FleetMemory {
  readings: ReadingStore;
  history: Recommendation[];
  /** False until the first decision: a (re)started operator must not shrink before one window. */
  seeded: boolean;
}

export interface FleetAutoscalerOptions {
  /** The session source for a fleet (pod scraping or Prometheus, from its spec). */
  sourceFor: (cr: UnmuteDeployment) => SessionSource;
  now: () => number;
}

export class FleetAutoscaler {
  readonly #opts: FleetAutoscalerOptions;
  readonly #fleets = new Map<string, FleetMemory>();

  constructor(opts: FleetAutoscalerOptions) {
    this.#opts = opts;
  }

  /** Reads the session count of every live backend pod; failures leave the pod unknown. */
  async observe(cr: UnmuteDeployment, pods: PodLike[], signal?: AbortSignal): Promise<SessionsObservation> {
    const key = fleetKey(cr);
    let memory = this.#fleets.get(key);
    if (memory === undefined) this.#fleets.set(key, (memory = { readings: new ReadingStore(), history: [], seeded: false }));
    const backend = pods.filter((p) => p.metadata?.labels?.[LABEL_COMPONENT] === 'backend' && p.metadata.deletionTimestamp == null);
    const readable = backend.filter((p) => p.status?.phase === 'Running');
    const { readings, errors } = await this.#opts
      .sourceFor(cr)
      .read(readable.map((p) => ({ pod: p.metadata?.name ?? '', ip: p.status?.podIP, port: cr.spec.backend.port })), signal);
    memory.readings.update(readings);
    memory.readings.retain(backend.map((p) => p.metadata?.name ?? ''));
    const now = this.#opts.now();
    const staleMs = cr.spec.autoscaling.metricsStaleSeconds * 1000;
    const observed = backend.map((p) => toBackendPod(p, memory.readings, now, staleMs));
    let active = 0;
    let unknownPods = 0;
    for (const p of observed) {
      if (p.phase === 'Pending') continue;
      if (p.sessions === undefined) unknownPods++;
      else active += p.sessions;
    }
    for (const p of observed) if (p.sessions !== undefined) errors.delete(p.name);
    return { pods: observed, errors, active, unknownPods };
  }

  /** One scaling decision; remembers its recommendation for the stabilisation window. */
  decide(
    cr: UnmuteDeployment,
    observation: SessionsObservation,
    current: { backendReplicas: number; followers: Partial<Record<'stt' | 'tts' | 'llm', number>>; pendingGpuPods: number },
  ): PolicyDecision {
    const memory = this.#fleets.get(fleetKey(cr)) ?? { readings: new ReadingStore(), history: [], seeded: false };
    const now = this.#opts.now();
    if (!memory.seeded) {
      // What runs now counts as a recommendation made now: after a restart the window starts over.
      const draining = observation.pods.filter((p) => !p.serving).length;
      memory.history = [{ atMs: now, serving: Math.max(0, current.backendReplicas - draining) }];
      memory.seeded = true;
    }
    const { spec } = cr;
    const followers: Partial<Record<'stt' | 'tts' | 'llm', FollowerTier>> = {
      stt: { replicas: current.followers.stt ?? spec.stt.replicas, slotsPerReplica: spec.stt.slotsPerReplica, gpusPerReplica: gpuCount(spec.stt.gpu) },
      tts: { replicas: current.followers.tts ?? spec.tts.replicas, slotsPerReplica: spec.tts.slotsPerReplica, gpusPerReplica: gpuCount(spec.tts.gpu) },
    };
    if (spec.llm.inCluster) {
      followers.llm = {
        replicas: current.followers.llm ?? spec.llm.inCluster.replicas,
        slotsPerReplica: spec.llm.inCluster.sessionsPerReplica,
        gpusPerReplica: gpuCount(spec.llm.inCluster.gpu),
      };
    }
    const fixedGpus = spec.voiceCloning?.enabled ? gpuCount(spec.voiceCloning.gpu) * spec.voiceCloning.replicas : 0;
    const decision = decide({
      nowMs: now,
      spec: spec.autoscaling,
      maxSessionsPerPod: spec.backend.maxSessionsPerPod,
      replicas: current.backendReplicas,
      pods: observation.pods,
      history: memory.history,
      followers,
      fixedGpus,
      gpuBudget: spec.gpu.maxTotal,
      pendingGpuPods: current.pendingGpuPods,
    });
    memory.history = pruneHistory([...memory.history, decision.recommendation], now, spec.autoscaling.scaleDownStabilizationSeconds);
    this.#fleets.set(fleetKey(cr), memory);
    return decision;
  }

  forget(namespace: string, name: string): void {
    this.#fleets.delete(`${namespace}/${name}`);
  }
}

function fleetKey(cr: UnmuteDeployment): string {
  return `${cr.metadata.namespace}/${cr.metadata.name}`;
}
