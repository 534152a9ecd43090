// The operator process: one client, informers warmed on every replica, the controller running only
// on the leader, health and metrics endpoints, and a graceful stop that releases the lease.
import { hostname } from 'node:os';
import { setupUnmuteDeploymentController, CONTROLLER_NAME } from './controller/setup.ts';
import { createLogger, type Logger, type LogLevel } from './observability/logger.ts';
import { createMetricsRegistry, createRuntimeMetrics } from './observability/metrics.ts';
import { startHealthServer, type HealthServer } from './observability/health-server.ts';
import { systemClock } from './runtime/clock.ts';
import { EventRecorder } from './runtime/events.ts';
import { loadClusterAccess } from './runtime/cluster-access.ts';
import { FlowControl } from './runtime/flow-control.ts';
import { KubeClient } from './runtime/kube-client.ts';
import { UndiciTransport } from './runtime/kube-transport.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { KubeLeaseLock } from './runtime/lease-lock.ts';

export interface OperatorConfig {
  kubeconfig: string | undefined;
  namespace: string | undefined;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  metricsAddress: { host: string; port: number };
  healthAddress: { host: string; port: number };
  logLevel: LogLevel;
  workers: number;
  /** Client-side flow control of API requests (runtime/flow-control.ts). */
  flowControl: { qps: number; burst: number; maxInFlight: number };
  identity: string;
  scrapeConcurrency: number;
  /** Namespace of the operator's own pod ($POD_NAMESPACE), when it runs in the cluster. */
  podNamespace?: string | undefined;
}

export function defaultIdentity(): string {
  return `${hostname()}_${process.pid}`;
}

export interface RunningOperator {
  logger: Logger;
  /** Resolves when the operator stopped (signal, lost leadership or a fatal error). */
  done: Promise<void>;
  stop(): void;
  healthUrl: string;
  metricsUrl: string;
}

export async function startOperator(config: OperatorConfig): Promise<RunningOperator> {
  const logger = createLogger({ level: config.logLevel, base: { identity: config.identity } });
  const clock = systemClock();
  const registry = createMetricsRegistry({ processMetrics: true });
  const metrics = createRuntimeMetrics(registry);

  const transport = UndiciTransport.fromClusterAccess(await loadClusterAccess(config.kubeconfig), { userAgent: 'unmute-operator' });
  const client = new KubeClient(transport, { metrics, clock, flowControl: new FlowControl({ ...config.flowControl, clock }) });

  const events = new EventRecorder({
    sink: client,
    reportingController: 'unmute.sh/operator',
    reportingInstance: config.identity,
    clock,
    logger,
    metrics,
  });
  const setup = await setupUnmuteDeploymentController({
    client,
    logger,
    clock,
    registry,
    metrics,
    events,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    workers: config.workers,
    scrapeConcurrency: config.scrapeConcurrency,
    operatorNamespace: config.podNamespace,
  });
  logger.info({ capabilities: setup.capabilities, namespace: config.namespace ?? '(all)' }, 'cluster capabilities');

  const root = new AbortController();
  const servers: HealthServer[] = [];
  const health = await startHealthServer({ ...config.healthAddress, registry, isReady: setup.hasSynced, logger });
  servers.push(health);
  const sameAddress = config.metricsAddress.host === config.healthAddress.host && config.metricsAddress.port === config.healthAddress.port;
  const metricsServer = sameAddress ? health : await startHealthServer({ ...config.metricsAddress, registry, isReady: setup.hasSynced, logger });
  if (!sameAddress) servers.push(metricsServer);

  // Every replica keeps its caches warm, so a standby takes over without a cold start.
  const informersDone = Promise.all(setup.informers.map((i) => i.start(root.signal)));

  const runController = async (signal: AbortSignal) => {
    logger.info({ controller: CONTROLLER_NAME }, 'starting controller');
    await Promise.all(setup.controllers.map((c) => c.run(signal)));
  };

  let fatal: unknown;
  const leading = (async () => {
    if (!config.leaderElect) {
      await runController(root.signal);
      return;
    }
    const elector = new LeaderElector({
      // Lease renewals bypass the flow control: a reconcile storm queued there must not cost the lead.
      lock: new KubeLeaseLock(new KubeClient(transport, { metrics, clock }), config.leaderElectionNamespace, config.leaderElectionId),
      identity: config.identity,
      clock,
      logger,
      metrics,
      leaseDurationMs: config.leaseDurationMs,
      renewDeadlineMs: config.renewDeadlineMs,
      retryPeriodMs: config.retryPeriodMs,
      releaseOnCancel: true,
      onStartedLeading: (signal) => runController(signal),
      onStoppedLeading: () => {
        // Like controller-runtime: a replica that lost its lease exits and restarts clean, so two
        // leaders never act at once on stale state.
        if (!root.signal.aborted) {
          fatal = new Error('leader election lost');
          root.abort();
        }
      },
      onNewLeader: (leader) => logger.info({ leader }, 'new leader elected'),
    });
    await elector.run(root.signal);
  })().catch((err: unknown) => {
    fatal = err;
    root.abort();
  });

  const done = (async () => {
    await leading;
    if (!root.signal.aborted) await new Promise<void>((resolve) => root.signal.addEventListener('abort', () => resolve(), { once: true }));
    await informersDone.catch(() => undefined);
    await events.flush().catch(() => undefined);
    for (const s of servers) await s.close();
    await client.close();
    if (fatal !== undefined) throw fatal;
  })();

  return {
    logger,
    done,
    stop: () => root.abort(),
    healthUrl: health.url,
    metricsUrl: metricsServer.url,
  };
}
