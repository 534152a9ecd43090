// One prom-client Registry per process, created here and passed through constructors (no global registry).
// Runtime metric names follow controller-runtime / client-go so existing dashboards and alerts apply.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsRegistryOptions {
  /** Adds process_* and nodejs_* metrics (CPU, memory, event-loop lag). */
  processMetrics?: boolean;
}

export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Metric names, exported so tests and dashboards refer to constants rather than retyped strings. */
export const runtimeMetricNames = {
  restClientRequests: 'rest_client_requests_total',
  restClientRequestDuration: 'rest_client_request_duration_seconds',
  workqueueDepth: 'workqueue_depth',
  workqueueAdds: 'workqueue_adds_total',
  workqueueQueueDuration: 'workqueue_queue_duration_seconds',
  workqueueWorkDuration: 'workqueue_work_duration_seconds',
  workqueueUnfinishedWork: 'workqueue_unfinished_work_seconds',
  workqueueLongestRunningProcessor: 'workqueue_longest_running_processor_seconds',
  workqueueRetries: 'workqueue_retries_total',
  reconcileTotal: 'controller_runtime_reconcile_total',
  reconcileErrors: 'controller_runtime_reconcile_errors_total',
  terminalReconcileErrors: 'controller_runtime_terminal_reconcile_errors_total',
  reconcilePanics: 'controller_runtime_reconcile_panics_total',
  reconcileTimeouts: 'controller_runtime_reconcile_timeouts_total',
  reconcileTime: 'controller_runtime_reconcile_time_seconds',
  maxConcurrentReconciles: 'controller_runtime_max_concurrent_reconciles',
  activeWorkers: 'controller_runtime_active_workers',
  leaderElectionMasterStatus: 'leader_election_master_status',
  leaderElectionSlowpath: 'leader_election_slowpath_total',
  reflectorLists: 'reflector_lists_total',
  reflectorWatches: 'reflector_watches_total',
  reflectorErrors: 'reflector_errors_total',
  reflectorSynced: 'reflector_synced',
  eventsRecorded: 'events_recorded_total',
} as const;

/** Per-queue gauges that are computed at scrape time (in-flight durations). */
export type ScrapeHook = () => void;

export interface RuntimeMetrics {
  readonly registry: Registry;
  /** Hooks run before gauges computed at scrape time are read; queues add and remove themselves. */
  readonly scrapeHooks: Set<ScrapeHook>;
  readonly restClientRequests: Counter<'code' | 'method' | 'host'>;
  readonly restClientRequestDuration: Histogram<'verb' | 'host'>;
  readonly workqueueDepth: Gauge<'name' | 'controller'>;
  readonly workqueueAdds: Counter<'name' | 'controller'>;
  readonly workqueueQueueDuration: Histogram<'name' | 'controller'>;
  readonly workqueueWorkDuration: Histogram<'name' | 'controller'>;
  readonly workqueueUnfinishedWork: Gauge<'name' | 'controller'>;
  readonly workqueueLongestRunningProcessor: Gauge<'name' | 'controller'>;
  readonly workqueueRetries: Counter<'name' | 'controller'>;
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileErrors: Counter<'controller'>;
  readonly terminalReconcileErrors: Counter<'controller'>;
  readonly reconcilePanics: Counter<'controller'>;
  readonly reconcileTimeouts: Counter<'controller'>;
  readonly reconcileTime: Histogram<'controller'>;
  readonly maxConcurrentReconciles: Gauge<'controller'>;
  readonly activeWorkers: Gauge<'controller'>;
  readonly leaderElectionMasterStatus: Gauge<'name'>;
  readonly leaderElectionSlowpath: Counter<'name'>;
  readonly reflectorLists: Counter<'name'>;
  readonly reflectorWatches: Counter<'name'>;
  /** `reason`: list | watch | expired | watchdog | closed_early. */
  readonly reflectorErrors: Counter<'name' | 'reason'>;
  readonly reflectorSynced: Gauge<'name'>;
  /** `result`: created | series | dropped | failed. */
  readonly eventsRecorded: Counter<'reason' | 'type' | 'result'>;
}

// client-go's rest_client_request_duration_seconds buckets.
const requestBuckets = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
// client-go workqueue buckets: 10 ns .. 1000 s, x10.
const queueBuckets = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);
// controller-runtime reconcile_time_seconds buckets.
const reconcileBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75,
  2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/** Creates (once per registry) every metric the runtime records. */
export function createRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const registers = [registry];
  const scrapeHooks = new Set<ScrapeHook>();
  const runScrapeHooks = (): void => {
    for (const hook of scrapeHooks) hook();
  };
  const n = runtimeMetricNames;
  const queueLabels = ['name', 'controller'] as const;
  return {
    registry,
    scrapeHooks,
    restClientRequests: new Counter({
      name: n.restClientRequests,
      help: 'Number of HTTP requests to the API server, partitioned by status code, method, and host.',
      labelNames: ['code', 'method', 'host'],
      registers,
    }),
    restClientRequestDuration: new Histogram({
      name: n.restClientRequestDuration,
      help: 'Request latency in seconds (until response headers for watches), by verb and host.',
      labelNames: ['verb', 'host'],
      buckets: requestBuckets,
      registers,
    }),
    workqueueDepth: new Gauge({ name: n.workqueueDepth, help: 'Current depth of workqueue', labelNames: queueLabels, registers }),
    workqueueAdds: new Counter({
      name: n.workqueueAdds,
      help: 'Total number of adds handled by workqueue',
      labelNames: queueLabels,
      registers,
    }),
    workqueueQueueDuration: new Histogram({
      name: n.workqueueQueueDuration,
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: queueLabels,
      buckets: queueBuckets,
      registers,
    }),
    workqueueWorkDuration: new Histogram({
      name: n.workqueueWorkDuration,
      help: 'How long in seconds processing an item from workqueue takes.',
      labelNames: queueLabels,
      buckets: queueBuckets,
      registers,
    }),
    workqueueUnfinishedWork: new Gauge({
      name: n.workqueueUnfinishedWork,
      help: 'How many seconds of work has been done that is in progress and hasn\'t been observed by work_duration.',
      labelNames: queueLabels,
      registers,
      collect: runScrapeHooks,
    }),
    workqueueLongestRunningProcessor: new Gauge({
      name: n.workqueueLongestRunningProcessor,
      help: 'How many seconds has the longest running processor for workqueue been running.',
      labelNames: queueLabels,
      registers,
      collect: runScrapeHooks,
    }),
    workqueueRetries: new Counter({
      name: n.workqueueRetries,
      help: 'Total number of retries handled by workqueue',
      labelNames: queueLabels,
      registers,
    }),
    reconcileTotal: new Counter({
      name: n.reconcileTotal,
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: n.reconcileErrors,
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    }),
    terminalReconcileErrors: new Counter({
      name: n.terminalReconcileErrors,
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    }),
    reconcilePanics: new Counter({
      name: n.reconcilePanics,
      help: 'Total number of reconciliation panics (programming errors) per controller',
      labelNames: ['controller'],
      registers,
    }),
    reconcileTimeouts: new Counter({
      name: n.reconcileTimeouts,
      help: 'Total number of reconciliation timeouts per controller',
      labelNames: ['controller'],
      registers,
    }),
    reconcileTime: new Histogram({
      name: n.reconcileTime,
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: reconcileBuckets,
      registers,
    }),
    maxConcurrentReconciles: new Gauge({
      name: n.maxConcurrentReconciles,
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    }),
    activeWorkers: new Gauge({
      name: n.activeWorkers,
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    }),
    leaderElectionMasterStatus: new Gauge({
      name: n.leaderElectionMasterStatus,
      help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master.',
      labelNames: ['name'],
      registers,
    }),
    leaderElectionSlowpath: new Counter({
      name: n.leaderElectionSlowpath,
      help: 'Total number of slow path exercised in renewing leader leases.',
      labelNames: ['name'],
      registers,
    }),
    reflectorLists: new Counter({
      name: n.reflectorLists,
      help: 'Total number of full lists completed by a reflector.',
      labelNames: ['name'],
      registers,
    }),
    reflectorWatches: new Counter({
      name: n.reflectorWatches,
      help: 'Total number of watch requests started by a reflector.',
      labelNames: ['name'],
      registers,
    }),
    reflectorErrors: new Counter({
      name: n.reflectorErrors,
      help: 'Total number of reflector failures (list, watch, expired, watchdog, closed_early); each is retried.',
      labelNames: ['name', 'reason'],
      registers,
    }),
    reflectorSynced: new Gauge({
      name: n.reflectorSynced,
      help: '1 once a reflector has completed its first list.',
      labelNames: ['name'],
      registers,
    }),
    eventsRecorded: new Counter({
      name: n.eventsRecorded,
      help: 'Kubernetes Events emitted by the operator, by reason, type and result (created, series, dropped, failed).',
      labelNames: ['reason', 'type', 'result'],
      registers,
    }),
  };
}

/** The autoscaler's reads of pods' /metrics (pod-load-source.ts). */
export const sessionReadMetricNames = {
  readDuration: 'unmute_operator_session_read_duration_seconds',
  staleRetries: 'unmute_operator_session_read_stale_retries_total',
} as const;

export interface SessionReadMetrics {
  /** One observation per pod read, from the start of its request (after waiting for a slot) to its reading; `result`: ok | error. */
  readonly readDuration: Histogram<'result'>;
  /** Reads retried once because the kept-alive connection had been closed by the pod. */
  readonly staleRetries: Counter;
}

// Reads on a pod network take a millisecond or a few; the tail up to a timeout matters too.
const readBuckets = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const sessionReadMetricsOf = new WeakMap<Registry, SessionReadMetrics>();

/** The session read metrics of a registry, created on first use (every pod source of the operator shares them). */
export function sessionReadMetrics(registry: Registry): SessionReadMetrics {
  let m = sessionReadMetricsOf.get(registry);
  if (m === undefined) {
    const registers = [registry];
    m = {
      readDuration: new Histogram({
        name: sessionReadMetricNames.readDuration,
        help: 'Time to read one pod\'s load from its /metrics (request sent to value parsed), by result (ok, error).',
        labelNames: ['result'],
        buckets: readBuckets,
        registers,
      }),
      staleRetries: new Counter({
        name: sessionReadMetricNames.staleRetries,
        help: 'Pod reads retried once on a new connection because the pod had closed the kept-alive one.',
        registers,
      }),
    };
    sessionReadMetricsOf.set(registry, m);
  }
  return m;
}
