// What runs in each pod of a simulated fleet, read from the pod as the operator rendered it (no
// operator code involved): the component label says which server, the container's port where,
// the env (KYUTAI_STT_URL, KYUTAI_TTS_URL, KYUTAI_LLM_URL, KYUTAI_LLM_MODEL) where a backend finds
// the others, the args (--model) what vLLM serves. Settings Kubernetes has no field for come from
// annotations the simulated fleet's CR adds to the pods (podAnnotations): the batch size of a
// moshi-server (its config file's batch_size; the CR's slotsPerReplica) and vLLM's --max-num-seqs.
//
// Cluster DNS is played by the EndpointSlices: `<svc>.<ns>.svc[.cluster.local]` resolves to the
// ready endpoints of that Service (conditions.ready), every one for a headless Service (Unmute's
// STT/TTS failover), and a ClusterIP Service's connection goes to one of them (kube-proxy).
import { silentLogger, type Logger } from '../../observability/logger.ts';
import { systemClock } from '../../runtime/clock.ts';
import { createInformer, type Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import { ENDPOINT_SLICE, type EndpointSlice } from '../loadgen/endpointslices.ts';
import { MoshiServer } from '../moshi/server.ts';
import { seededRng } from '../random.ts';
import { VllmServer } from '../vllm/server.ts';
import { remoteServices, type Resolver } from '../worker/remote.ts';
import { SimWorker, type SimWorkerOptions } from '../worker/server.ts';
import type { PodLike, PodProcess } from './pod-runner.ts';

/** Pod annotation: the moshi-server module's batch_size (default: Unmute's prod configs, STT 64, TTS 16). */
export const SIM_BATCH_SIZE_ANNOTATION = 'sim.unmute.sh/batch-size';
/** Pod annotation: vLLM's --max-num-seqs (requests running at once). */
export const SIM_MAX_NUM_SEQS_ANNOTATION = 'sim.unmute.sh/max-num-seqs';

const COMPONENT_LABEL = 'app.kubernetes.io/component';

/** The ready addresses of the namespace's Services, from their EndpointSlices (cluster DNS stand-in). */
export class SliceResolver {
  readonly #informer: Informer<EndpointSlice>;
  readonly #abort = new AbortController();
  readonly #namespace: string;

  constructor(client: KubeClient, namespace: string, logger: Logger = silentLogger()) {
    this.#namespace = namespace;
    this.#informer = createInformer<EndpointSlice>(client, ENDPOINT_SLICE, { namespace }, { logger, clock: systemClock() });
  }

  async start(): Promise<this> {
    void this.#informer.start(this.#abort.signal).catch(() => undefined);
    await this.#informer.waitForSync(this.#abort.signal);
    return this;
  }

  stop(): void {
    this.#abort.abort();
  }

  /** `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local` -> ready addresses. Unknown: NXDOMAIN. */
  readonly resolve: Resolver = async (host) => {
    const [svc, ns = this.#namespace] = host.split('.');
    const ips = new Set<string>();
    let known = false;
    for (const s of this.#informer.cache.list({ namespace: ns })) {
      if (s.metadata.labels?.['kubernetes.io/service-name'] !== svc) continue;
      known = true;
      for (const ep of s.endpoints ?? []) if (ep.conditions?.ready === true && ep.addresses[0] !== undefined) ips.add(ep.addresses[0]);
    }
    if (!known) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return [...ips];
  };
}

export interface PipelineOptions {
  resolver: Resolver;
  /** Backends reach the STT/TTS/LLM named in their env (true only when those pods are played too). */
  remote: boolean;
  /** Sim-worker settings of the backends (cheap mode for large fleets). */
  worker?: Omit<SimWorkerOptions, 'host' | 'port'>;
  /** Model-loading time of the GPU servers once their pod runs (KWOK's start delay usually plays it). */
  gpuStartupMs?: number;
}

function env(pod: PodLike, name: string): string | undefined {
  for (const c of pod.spec?.containers ?? []) for (const e of c.env ?? []) if (e.name === name && typeof e.value === 'string') return e.value;
  return undefined;
}

function arg(pod: PodLike, flag: string): string | undefined {
  const args = pod.spec?.containers?.[0]?.args ?? [];
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function intAnnotation(pod: PodLike, key: string): number | undefined {
  const v = pod.metadata.annotations?.[key];
  const n = v === undefined ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The process of one pod of an Unmute fleet, by its component. */
export function pipelineProcess(o: PipelineOptions): (pod: PodLike, addr: { ip: string; port: number }) => PodProcess {
  return (pod, { ip, port }) => {
    const component = pod.metadata.labels?.[COMPONENT_LABEL];
    if (component === 'stt' || component === 'tts') {
      const server = new MoshiServer({ kind: component, host: ip, port, batchSize: intAnnotation(pod, SIM_BATCH_SIZE_ANNOTATION) ?? (component === 'stt' ? 64 : 16), startupMs: o.gpuStartupMs ?? 0 });
      return moshiProcess(server);
    }
    if (component === 'llm') {
      const server = new VllmServer({ host: ip, port, model: arg(pod, '--model') ?? 'sim/model', maxNumSeqs: intAnnotation(pod, SIM_MAX_NUM_SEQS_ANNOTATION) ?? 256, startupMs: o.gpuStartupMs ?? 0 });
      return {
        listen: () => server.listen(),
        shutdown: () => server.stop(),
        stats: () => {
          const s = server.stats();
          return { running: s.running, queued: s.waiting, activeSessions: s.running + s.waiting, sessionsTotal: 0, shuttingDown: false };
        },
      };
    }
    const sttUrl = env(pod, 'KYUTAI_STT_URL');
    const ttsUrl = env(pod, 'KYUTAI_TTS_URL');
    const llmUrl = env(pod, 'KYUTAI_LLM_URL');
    const llmModel = env(pod, 'KYUTAI_LLM_MODEL') ?? null;
    const remote =
      o.remote && sttUrl !== undefined && ttsUrl !== undefined && llmUrl !== undefined ? remoteServices({ sttUrl, ttsUrl, llmUrl, llmModel, resolver: o.resolver, rng: seededRng(addressSeed(ip, port)) }) : undefined;
    // Every pod of the fleet lives in this process: a stall freezes only its own worker (stall.ts).
    return new SimWorker({ stallScope: 'worker', ...o.worker, host: ip, port, ...(remote !== undefined ? { remote, llmModel } : {}) });
  };
}

/**
 * A seed of its own for each backend's STT/TTS picks: seeded from the port and the IP's length,
 * every backend of a fleet (same port, same-length IPs) drew the same sequence, so their sessions
 * all landed on the same STT pod far more often than Unmute's random pick would (FNV-1a of ip:port).
 */
export function addressSeed(ip: string, port: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${ip}:${port}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

function moshiProcess(server: MoshiServer): PodProcess {
  return {
    listen: () => server.listen(),
    shutdown: () => server.stop(),
    stats: () => {
      const used = server.usedSlots;
      // sessionsTotal: streams opened (asr_connect / py_connect, refused ones included).
      const connects = server.metrics.value(server.options.kind === 'stt' ? 'asr_connect' : 'py_connect') ?? 0;
      return { running: used, queued: 0, activeSessions: used, sessionsTotal: connects, shuttingDown: false, openChannels: used };
    },
  };
}
