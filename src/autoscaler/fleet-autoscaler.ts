// Per-fleet autoscaling memory around the pure plan: the last good load reading of each pod (one
// store per component), the recommendations of each stabilisation window, and recent samples of
// the fleet's load (session rate, streams per session). One instance serves every fleet.
import { SESSIONS_COMPONENT, describeComponent, fleetComponents, type AnyComponent, type ComponentName } from '../api/v1alpha1/components.ts';
import type { UnmuteDeployment } from '../api/v1alpha1/unmute-deployment.ts';
import type { PodView } from '../runtime/views.ts';
import { gatherLoad, type LoadObservation } from './gather.ts';
import { planFleet, type FleetMemory as PlanMemory, type FleetPlan } from './plan.ts';
import { ReadingStore, type LoadSource } from './readings.ts';

interface FleetMemory extends PlanMemory {
  readings: Map<ComponentName, ReadingStore>;
}

export interface FleetAutoscalerOptions {
  /** The load source for a fleet (pod scraping or Prometheus, from its spec). */
  sourceFor: (fleet: UnmuteDeployment) => LoadSource;
  now: () => number;
}

/** What the plan needs from the caches. */
export interface FleetWorld {
  pods: PodView[];
  deployedReplicas: Partial<Record<ComponentName, number>>;
  /** The pod-template hash of each Deployment as cached. */
  templateHashes?: Partial<Record<ComponentName, string>>;
  /** Nodes being drained (cordoned, or tainted for removal): their pods are replaced, then drained. */
  leavingNodes?: ReadonlySet<string>;
}

/** Components whose load is read every pass: every one that drains (autoscaling, rollouts and status use their load). */
const readEachPass = (c: AnyComponent) => c.load !== undefined && c.service.selectsServing;

export class FleetAutoscaler {
  readonly #opts: FleetAutoscalerOptions;
  readonly #fleets = new Map<string, FleetMemory>();

  constructor(opts: FleetAutoscalerOptions) {
    this.#opts = opts;
  }

  /** Reads loads (the only I/O), then plans; remembers what the next plan needs. */
  async plan(fleet: UnmuteDeployment, world: FleetWorld, signal?: AbortSignal): Promise<FleetPlan> {
    const memory = this.#memory(fleet);
    const observations: Partial<Record<ComponentName, LoadObservation>> = {};
    for (const c of fleetComponents(fleet.spec)) {
      if (!readEachPass(c)) continue;
      observations[c.name] = await gatherLoad(fleet, c, world.pods, this.#opts.sourceFor(fleet), this.#store(memory, c.name), this.#opts.now, signal, world.leavingNodes === undefined ? {} : { leavingNodes: world.leavingNodes });
    }
    const plan = planFleet({
      fleet,
      nowMs: this.#opts.now(),
      pods: world.pods,
      observations,
      deployedReplicas: world.deployedReplicas,
      ...(world.templateHashes === undefined ? {} : { templateHashes: world.templateHashes }),
      memory,
    });
    memory.history = plan.memory.history;
    memory.samples = plan.memory.samples;
    return plan;
  }

  /**
   * Reads only `hot` backends (the rest keep their last readings) and returns every backend as the
   * policy sees it: the fast path of load-aware routing, between two full passes.
   */
  async readHot(fleet: UnmuteDeployment, pods: PodView[], hot: ReadonlySet<string>, signal?: AbortSignal): Promise<LoadObservation> {
    const backend = describeComponent(fleet.spec, SESSIONS_COMPONENT)!;
    const store = this.#store(this.#memory(fleet), SESSIONS_COMPONENT);
    const fresh = await gatherLoad(fleet, backend, pods.filter((p) => hot.has(p.metadata.name ?? '')), this.#opts.sourceFor(fleet), store, this.#opts.now, signal, { retain: false });
    const others = await gatherLoad(fleet, backend, pods.filter((p) => !hot.has(p.metadata.name ?? '')), NO_READS, store, this.#opts.now, signal, { retain: false });
    return { pods: [...fresh.pods, ...others.pods], errors: fresh.errors, active: fresh.active + others.active, unknownPods: fresh.unknownPods + others.unknownPods };
  }

  /** Reads the backends' sessions without planning (a fleet being deleted drains, it does not scale). */
  async observeSessions(fleet: UnmuteDeployment, pods: PodView[], signal?: AbortSignal): Promise<LoadObservation> {
    const backend = describeComponent(fleet.spec, SESSIONS_COMPONENT)!;
    return gatherLoad(fleet, backend, pods, this.#opts.sourceFor(fleet), this.#store(this.#memory(fleet), SESSIONS_COMPONENT), this.#opts.now, signal);
  }

  #memory(fleet: UnmuteDeployment): FleetMemory {
    const key = fleetKey(fleet.metadata.namespace, fleet.metadata.name);
    let memory = this.#fleets.get(key);
    if (memory === undefined) this.#fleets.set(key, (memory = { readings: new Map(), history: undefined, samples: [] }));
    return memory;
  }

  #store(memory: FleetMemory, component: ComponentName): ReadingStore {
    let store = memory.readings.get(component);
    if (store === undefined) memory.readings.set(component, (store = new ReadingStore()));
    return store;
  }

  forget(namespace: string, name: string): void {
    this.#fleets.delete(fleetKey(namespace, name));
  }
}

/** A source that reads nothing: the pods keep their last readings. */
const NO_READS: LoadSource = { read: async () => ({ readings: new Map(), errors: new Map() }) };

function fleetKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
