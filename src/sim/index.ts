// Public, in-process API of the simulator and the load generator (used by the fleet benchmark).
export { SimWorker, startSimWorker, type SimFaults, type SimWorkerOptions, type SimWorkerStats } from './worker/server.ts';
export { DEFAULT_SIM_WORKER_CONFIG, resolveSimWorkerConfig, type HealthFlags, type SimWorkerConfig } from './worker/config.ts';
export { ServicePool } from './worker/service-pool.ts';
export { WorkerMetrics } from './worker/metrics.ts';
export { startSession, type ReplyTiming, type SessionOptions, type SessionOutcome, type SessionResult } from './loadgen/session.ts';
export { LiveCounters, runClosedLoop, runOne, runPlan, type ClosedLoopOptions, type PlanRunOptions, type RunResult, type SessionTemplate } from './loadgen/runner.ts';
export { TargetPool, staticTargets, type PickStrategy, type TargetLease, type TargetPicker } from './loadgen/targets.ts';
export { EndpointSliceTargets, readyEndpointUrls, type EndpointSliceTargetOptions } from './loadgen/endpointslices.ts';
export {
  diurnalProfile,
  parseProfile,
  parseProfileFile,
  planSessions,
  pointsProfile,
  rampProfile,
  spikeProfile,
  stepProfile,
  type ArrivalProfile,
  type PlannedSession,
  type PlanOptions,
} from './loadgen/profile.ts';
export { buildReport, formatReport, percentile, summarize, type LoadReport, type Summary } from './loadgen/stats.ts';
export { checkHealth, fetchVoice, PreflightError } from './loadgen/preflight.ts';
export { fileSpeech, noiseSpeech, readOggOpusPackets, type SpeechSource } from './loadgen/speech.ts';
export { parseDistribution, parseDurationMs, sample, seededRng, type Distribution, type Rng } from './random.ts';
