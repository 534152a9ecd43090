// `unmute-operator run`: flags and environment parsed once with zod, then the operator starts.
import { z } from 'zod';
import { defaultIdentity, startOperator } from '../../operator.ts';
import { flowControlDefaults } from '../../runtime/flow-control.ts';
import { CliError } from '../errors.ts';
import { parseFlags } from '../flags.ts';

const USAGE = `usage: unmute-operator run [flags]

  --kubeconfig PATH                 kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespace NS                    watch one namespace (default: $WATCH_NAMESPACE, else all)
  --leader-elect / --no-leader-elect  Lease leader election (default on)
  --leader-election-namespace NS    (default: $POD_NAMESPACE, else unmute-system)
  --leader-election-id NAME         Lease name (default unmute-operator)
  --lease-duration S, --renew-deadline S, --retry-period S   (15, 10, 2)
  --metrics-bind-address HOST:PORT  /metrics (default :8080)
  --health-probe-bind-address HOST:PORT  /healthz, /readyz (default :8081)
  --log-level info|debug|warn|error (default info)
  --workers N                       concurrent reconciles of distinct fleets (default 8)
  --kube-api-qps N                  sustained API requests per second, 0 for no limit (default 1000)
  --kube-api-burst N                API requests at once after a quiet spell (default 2000)
  --kube-api-max-in-flight N        API requests in flight at most, watches aside (default 32)
  --scrape-concurrency N            backend /metrics reads in flight (default 32)
  --identity ID                     leader election identity (default: $POD_NAME, else host_pid)`;

/** `host:port`, `:port` (all interfaces) or `port`. */
const bindAddress = z.string().transform((v, ctx) => {
  const m = /^(?:\[?([^\]]*)\]?:)?(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not host:port` });
    return z.NEVER;
  }
  return { host: m[1] === undefined || m[1] === '' ? '0.0.0.0' : m[1], port };
});

const seconds = z.coerce.number().positive().max(3600);

const flagsSchema = z
  .object({
    kubeconfig: z.string().optional(),
    namespace: z.string().optional(),
    'leader-elect': z.boolean().default(true),
    'no-leader-elect': z.boolean().default(false),
    'leader-election-namespace': z.string().optional(),
    'leader-election-id': z.string().min(1).default('unmute-operator'),
    'lease-duration': seconds.default(15),
    'renew-deadline': seconds.default(10),
    'retry-period': seconds.default(2),
    'metrics-bind-address': bindAddress.prefault(':8080'),
    'health-probe-bind-address': bindAddress.prefault(':8081'),
    'log-level': z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    workers: z.coerce.number().int().min(1).max(64).default(8),
    'kube-api-qps': z.coerce.number().min(0).max(100_000).default(flowControlDefaults.qps),
    'kube-api-burst': z.coerce.number().int().min(1).max(100_000).default(flowControlDefaults.burst),
    'kube-api-max-in-flight': z.coerce.number().int().min(1).max(1024).default(flowControlDefaults.maxInFlight),
    'scrape-concurrency': z.coerce.number().int().min(1).max(1024).default(32),
    identity: z.string().min(1).optional(),
  })
  .refine((f) => f['lease-duration'] > f['renew-deadline'] && f['renew-deadline'] > 1.2 * f['retry-period'], {
    message: 'need lease-duration > renew-deadline > 1.2 × retry-period',
    path: ['lease-duration'],
  });

const envSchema = z.object({
  KUBECONFIG: z.string().min(1).optional(),
  WATCH_NAMESPACE: z.string().optional(),
  POD_NAMESPACE: z.string().min(1).optional(),
  POD_NAME: z.string().min(1).optional(),
});

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const f = parseFlags(
    argv,
    {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'no-leader-elect': { type: 'boolean' },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string' },
      'lease-duration': { type: 'string' },
      'renew-deadline': { type: 'string' },
      'retry-period': { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      'health-probe-bind-address': { type: 'string' },
      'log-level': { type: 'string' },
      workers: { type: 'string' },
      'kube-api-qps': { type: 'string' },
      'kube-api-burst': { type: 'string' },
      'kube-api-max-in-flight': { type: 'string' },
      'scrape-concurrency': { type: 'string' },
      identity: { type: 'string' },
    },
    flagsSchema,
    'run',
  );
  const env = envSchema.safeParse(process.env);
  if (!env.success) throw new CliError(`run: environment: ${env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);

  const operator = await startOperator({
    kubeconfig: f.kubeconfig ?? env.data.KUBECONFIG,
    namespace: f.namespace ?? (env.data.WATCH_NAMESPACE || undefined),
    leaderElect: f['leader-elect'] && !f['no-leader-elect'],
    leaderElectionNamespace: f['leader-election-namespace'] ?? env.data.POD_NAMESPACE ?? 'unmute-system',
    leaderElectionId: f['leader-election-id'],
    leaseDurationMs: f['lease-duration'] * 1000,
    renewDeadlineMs: f['renew-deadline'] * 1000,
    retryPeriodMs: f['retry-period'] * 1000,
    metricsAddress: f['metrics-bind-address'],
    healthAddress: f['health-probe-bind-address'],
    logLevel: f['log-level'],
    workers: f.workers,
    flowControl: { qps: f['kube-api-qps'], burst: f['kube-api-burst'], maxInFlight: f['kube-api-max-in-flight'] },
    identity: f.identity ?? env.data.POD_NAME ?? defaultIdentity(),
    scrapeConcurrency: f['scrape-concurrency'],
    podNamespace: env.data.POD_NAMESPACE,
  });
  operator.logger.info({ health: operator.healthUrl, metrics: operator.metricsUrl }, 'operator started');
  const stop = () => operator.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    await operator.done;
    operator.logger.info('operator stopped');
    return 0;
  } catch (err) {
    operator.logger.error({ err }, 'operator stopped on error');
    return 1;
  }
}
