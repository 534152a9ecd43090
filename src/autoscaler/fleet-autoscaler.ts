// Per-fleet autoscaling memory around the pure plan: the last good session reading of each pod and
// the recommendations of the stabilisation window. One instance serves every fleet of the operator.
import type { ComponentName } from '../api/v1alpha1/components.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { PodView } from '../runtime/views.ts';
import { gatherSessions, type SessionsObservation } from './gather.ts';
import { planFleet, type FleetPlan } from './plan.ts';
import type { Recommendation } from './policy.ts';
import { ReadingStore, type SessionSource } from './session-readings.ts';

interface FleetMemory {
  readings: ReadingStore;
  /** Undefined until the first decision: a (re)started operator must not shrink before one window. */
  history: Recommendation[] | undefined;
}

export interface FleetAutoscalerOptions {
  /** The session source for a fleet (pod scraping or Prometheus, from its spec). */
  sourceFor: (fleet: UnmuteDeployment) => SessionSource;
  now: () => number;
}

/** What the plan needs from the caches. */
export interface FleetWorld {
  pods: PodView[];
  deployedReplicas: Partial<Record<ComponentName, number>>;
}

export class FleetAutoscaler {
  readonly #opts: FleetAutoscalerOptions;
  readonly #fleets = new Map<string, FleetMemory>();

  constructor(opts: FleetAutoscalerOptions) {
    this.#opts = opts;
  }

  /** Reads sessions (the only I/O), then plans; remembers what the next plan needs. */
  async plan(fleet: UnmuteDeployment, world: FleetWorld, signal?: AbortSignal): Promise<FleetPlan> {
    const memory = this.#memory(fleet);
    const sessions = await gatherSessions(fleet, world.pods, this.#opts.sourceFor(fleet), memory.readings, this.#opts.now, signal);
    const plan = planFleet({ fleet, nowMs: this.#opts.now(), pods: world.pods, sessions, deployedReplicas: world.deployedReplicas, history: memory.history });
    memory.history = plan.decision === undefined ? undefined : plan.history;
    return plan;
  }

  /**
   * Reads only `hot` backends (the rest keep their last readings) and returns every backend as the
   * policy sees it: the fast path of load-aware routing, between two full passes.
   */
  async readHot(fleet: UnmuteDeployment, pods: PodView[], hot: ReadonlySet<string>, signal?: AbortSignal): Promise<SessionsObservation> {
    const memory = this.#memory(fleet);
    const subset = pods.filter((p) => hot.has(p.metadata.name ?? ''));
    const fresh = await gatherSessions(fleet, subset, this.#opts.sourceFor(fleet), memory.readings, this.#opts.now, signal, { retain: false });
    const others = await gatherSessions(fleet, pods.filter((p) => !hot.has(p.metadata.name ?? '')), NO_READS, memory.readings, this.#opts.now, signal, { retain: false });
    return { pods: [...fresh.pods, ...others.pods], errors: fresh.errors, active: fresh.active + others.active, unknownPods: fresh.unknownPods + others.unknownPods };
  }

  /** Reads sessions without planning (a fleet being deleted drains, it does not scale). */
  async observeSessions(fleet: UnmuteDeployment, pods: PodView[], signal?: AbortSignal): Promise<SessionsObservation> {
    return gatherSessions(fleet, pods, this.#opts.sourceFor(fleet), this.#memory(fleet).readings, this.#opts.now, signal);
  }

  #memory(fleet: UnmuteDeployment): FleetMemory {
    const key = fleetKey(fleet.metadata.namespace, fleet.metadata.name);
    let memory = this.#fleets.get(key);
    if (memory === undefined) this.#fleets.set(key, (memory = { readings: new ReadingStore(), history: undefined }));
    return memory;
  }

  forget(namespace: string, name: string): void {
    this.#fleets.delete(fleetKey(namespace, name));
  }
}

/** A source that reads nothing: the backends keep their last readings. */
const NO_READS: SessionSource = { read: async () => ({ readings: new Map(), errors: new Map() }) };

function fleetKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
